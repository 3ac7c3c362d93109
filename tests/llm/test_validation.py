"""validate_json and the repair re-ask: every way an answer can be invalid, and one call plus
one repair over the real small model (embedded engine)."""

from __future__ import annotations

from dataclasses import replace

import jsonschema
import pytest

from leadflow.llm.backends.embedded import EmbeddedBackend, EngineHandle
from leadflow.llm.metrics import CallRecord
from leadflow.llm.prompts import PromptTemplate
from leadflow.llm.types import ChatRequest, ChatResponse, InvalidOutput, Timeouts
from leadflow.llm.validation import (
    REPAIR_ECHO_CHARS,
    REPAIR_INSTRUCTION,
    Accept,
    generate_valid,
    repair_request,
    validate_json,
)
from tests.llm.conftest import SCORE_SCHEMA, SMALL, score_messages

TEMPLATE = PromptTemplate(
    id="tiny_score",
    version="1",
    role="prefilter",
    description="",
    variables=("item",),
    messages=(("user", "Item: {item}"),),
    output_schema=SCORE_SCHEMA,
)
REQUEST = ChatRequest(model=SMALL, messages=score_messages("a linter"), max_tokens=32, seed=7, schema=SCORE_SCHEMA)


def answer(text: str, finish_reason: str = "stop", completion_tokens: int = 9) -> ChatResponse:
    return ChatResponse(text=text, model=SMALL, finish_reason=finish_reason, completion_tokens=completion_tokens)


def test_a_valid_answer_is_parsed():
    assert validate_json(TEMPLATE, answer('{"score": 70, "verdict": "yes"}')) == {"score": 70, "verdict": "yes"}


@pytest.mark.parametrize(
    "response, message",
    [
        (answer('{"score": 70, "verd', "length", 32), "output truncated at 32 tokens"),
        (answer("score: 70"), "not JSON (Expecting value at char 0)"),
        (
            answer('{"score": 999, "verdict": "yes"}'),
            "schema violation at score: 999 is greater than the maximum of 100",
        ),
        (answer('{"score": 70}'), "schema violation at (root): 'verdict' is a required property"),
    ],
)
def test_invalid_answers_say_what_is_wrong_and_carry_the_text(response, message):
    with pytest.raises(InvalidOutput) as failure:
        validate_json(TEMPLATE, response)
    assert str(failure.value) == message
    assert failure.value.text == response.text


def test_a_template_without_schema_accepts_any_json():
    free = replace(TEMPLATE, output_schema=None)
    assert validate_json(free, answer('{"anything": [1, 2]}')) == {"anything": [1, 2]}
    with pytest.raises(InvalidOutput, match="not JSON"):
        validate_json(free, answer("{"))


def test_the_repair_request_shows_the_answer_and_the_error():
    error = InvalidOutput("schema violation at score: too big", "x" * (REPAIR_ECHO_CHARS + 500))
    repair = repair_request(REQUEST, error)
    assert repair.messages[: len(REQUEST.messages)] == REQUEST.messages
    assert repair.messages[-2] == {"role": "assistant", "content": "x" * REPAIR_ECHO_CHARS}
    assert repair.messages[-1] == {"role": "user", "content": REPAIR_INSTRUCTION.format(error=str(error))}
    assert {**repair.__dict__, "messages": REQUEST.messages} == REQUEST.__dict__  # nothing else changes


def _send_to(embedded: EmbeddedBackend, sent: list[ChatRequest]):
    def send(request: ChatRequest, accept: Accept) -> ChatResponse:
        sent.append(request)
        return embedded.chat(request, Timeouts())

    return send


def test_one_invalid_answer_is_repaired_by_the_real_model(embedded: EmbeddedBackend, chat_engine: EngineHandle):
    rejected: list[str] = []

    def reject_the_first(template: PromptTemplate, response: ChatResponse) -> dict:
        """A validator with a rule beyond the schema (like the dossier rules): here, not the first answer."""
        value = validate_json(template, response)
        if not rejected:
            rejected.append(response.text)
            raise InvalidOutput("the first answer is never good enough", response.text)
        return value

    sent: list[ChatRequest] = []
    record = CallRecord(role="prefilter", template=TEMPLATE.label, model=SMALL)
    value = generate_valid(_send_to(embedded, sent), TEMPLATE, REQUEST, record, reject_the_first)

    jsonschema.validate(value, SCORE_SCHEMA)
    assert record.repaired and record.invalid == 1 and record.truncated == 0
    assert sent == [
        REQUEST,
        repair_request(REQUEST, InvalidOutput("the first answer is never good enough", rejected[0])),
    ]
    assert record.prompt_tokens > 0 and record.completion_tokens > 0  # both calls are accounted


def test_invalid_twice_raises_and_counts_both(embedded: EmbeddedBackend, chat_engine: EngineHandle):
    short = ChatRequest(**{**REQUEST.__dict__, "max_tokens": 2})  # the engine stops mid-object
    sent: list[ChatRequest] = []
    record = CallRecord(role="prefilter", template=TEMPLATE.label, model=SMALL)
    with pytest.raises(InvalidOutput, match="output truncated at 2 tokens"):
        generate_valid(_send_to(embedded, sent), TEMPLATE, short, record, validate_json)
    assert len(sent) == 2 and sent[1].messages[-1]["content"].startswith(REPAIR_INSTRUCTION.split("{error}")[0])
    assert record.invalid == 2 and record.truncated == 2 and not record.repaired
    assert record.completion_tokens == 4
