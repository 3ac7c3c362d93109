"""Is a model's answer the JSON object its template asks for? And, when it is not, the one
repair re-ask that shows the model its answer and the validation error."""

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import jsonschema

from leadflow.llm.cache_key import canonical_json
from leadflow.llm.metrics import CallRecord
from leadflow.llm.prompts import PromptTemplate
from leadflow.llm.stream_parse import StreamRejected
from leadflow.llm.types import ChatRequest, ChatResponse, InvalidOutput

REPAIR_INSTRUCTION = (
    "Your previous answer was not valid: {error}. Answer again with only a JSON object that matches the schema exactly."
)
REPAIR_ECHO_CHARS = 2000  # of the invalid answer, sent back with the repair instruction

Validator = Callable[[PromptTemplate, ChatResponse], dict[str, Any]]
# Compiled schema validators by schema: `jsonschema.validate` checks the schema itself and builds
# a validator on every call (~1.4 ms of CPU per answer; a compiled one validates in ~30 us).
_SCHEMA_VALIDATORS: dict[str, Any] = {}
Accept = Callable[[ChatResponse], bool]
Send = Callable[[ChatRequest, Accept], ChatResponse]


def validate_json(template: PromptTemplate, response: ChatResponse) -> dict[str, Any]:
    """The parsed answer; InvalidOutput (carrying the text) when truncated, not JSON or off-schema."""
    if response.truncated:
        raise InvalidOutput(f"output truncated at {response.completion_tokens} tokens", response.text)
    try:
        value = json.loads(response.text)
    except json.JSONDecodeError as exc:
        raise InvalidOutput(f"not JSON ({exc.msg} at char {exc.pos})", response.text) from exc
    if template.output_schema is not None:
        # The error `jsonschema.validate` would raise: the best match among all of them.
        error = jsonschema.exceptions.best_match(schema_validator(template).iter_errors(value))
        if error is not None:
            path = "/".join(str(p) for p in error.absolute_path) or "(root)"
            raise InvalidOutput(f"schema violation at {path}: {error.message}", response.text)
    return value


def schema_validator(template: PromptTemplate) -> Any:
    """The template's output schema, checked and compiled once."""
    schema: dict[str, Any] = template.output_schema or {}
    key = template.schema_hash or canonical_json(schema)
    validator = _SCHEMA_VALIDATORS.get(key)
    if validator is None:
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        validator = _SCHEMA_VALIDATORS[key] = cls(schema)
    return validator


def repair_request(request: ChatRequest, error: InvalidOutput) -> ChatRequest:
    """The request again, followed by the invalid answer and what was wrong with it."""
    return replace(
        request,
        messages=(
            *request.messages,
            {"role": "assistant", "content": error.text[:REPAIR_ECHO_CHARS]},
            {"role": "user", "content": REPAIR_INSTRUCTION.format(error=str(error))},
        ),
    )


def generate_valid(
    send: Send, template: PromptTemplate, request: ChatRequest, record: CallRecord, validator: Validator
) -> dict[str, Any]:
    """One call, then one repair re-ask carrying the validation error; counts both into `record`."""

    def acceptable(response: ChatResponse) -> bool:
        try:
            validator(template, response)
        except InvalidOutput:
            return False
        return True

    def attempt(request: ChatRequest) -> dict[str, Any]:
        try:
            response = send(request, acceptable)
        except StreamRejected as stopped:  # invalid before it ended: counted, then repaired
            record.invalid += 1
            record.stream_aborted += 1
            record.completion_tokens += stopped.pieces
            raise
        _account(record, response)
        try:
            return validator(template, response)
        except InvalidOutput:
            _count_invalid(record, response)
            raise

    try:
        return attempt(request)
    except InvalidOutput as first:
        value = attempt(repair_request(request, first))
        record.repaired = True
        return value


def _account(record: CallRecord, response: ChatResponse) -> None:
    record.prompt_tokens += response.prompt_tokens
    record.cached_prompt_tokens += response.cached_prompt_tokens
    record.completion_tokens += response.completion_tokens
    record.load_s += response.load_s


def _count_invalid(record: CallRecord, response: ChatResponse) -> None:
    record.invalid += 1
    record.truncated += int(response.truncated)
