"""Early parsing of a streamed JSON answer (design doc 001, section 6): each piece is added to
the prefix, the prefix is parsed as partial JSON (jiter's partial mode: a string, number or
literal cut short is what streaming produces, not an error) and checked against the schema as far
as it goes. The first piece after which no continuation could match (not JSON at all, a key the
schema forbids, a value outside its enum or bound, text after the object) stops the stream, so a
doomed answer costs the tokens up to its first wrong character instead of up to `max_tokens`.
"""

from collections.abc import Mapping
from typing import Any

import jiter
import jsonschema

from leadflow.llm.types import Cancellation, InvalidOutput

# Bounds a longer prefix can still meet (digits only grow, items and keys only add up), dropped
# from the schema a prefix is checked against.
GROWING = ("required", "minItems", "minLength", "minProperties", "minimum", "exclusiveMinimum")


class StreamRejected(InvalidOutput):
    """A streamed answer stopped early: its prefix can no longer become schema-valid."""

    def __init__(self, message: str, text: str, pieces: int) -> None:
        super().__init__(message, text)
        self.pieces = pieces  # streamed pieces (about one token each) received before the stop


def prefix_schema(schema: Any) -> Any:
    """`schema` without the bounds in `GROWING`, at every depth."""
    if isinstance(schema, Mapping):
        return {key: prefix_schema(value) for key, value in schema.items() if key not in GROWING}
    if isinstance(schema, list):
        return [prefix_schema(item) for item in schema]
    return schema


def _trailing_string(whole: Any, partial: Any, path: tuple = ()) -> tuple[tuple, str] | None:
    """The string still being written: in `partial` (cut strings kept) but not in `whole`
    (complete strings only), with its path."""
    if isinstance(partial, dict) and isinstance(whole, dict):
        for key, value in partial.items():
            if key not in whole:
                return ((*path, key), value) if isinstance(value, str) else None
            found = _trailing_string(whole[key], value, (*path, key))
            if found is not None:
                return found
    if isinstance(partial, list) and isinstance(whole, list) and partial:
        if len(partial) > len(whole):
            last = partial[-1]
            return ((*path, len(partial) - 1), last) if isinstance(last, str) else None
        return _trailing_string(whole[-1], partial[-1], (*path, len(partial) - 1))
    return None


def _schema_at(schema: Mapping[str, Any], path: tuple) -> Mapping[str, Any] | None:
    """The subschema a value at `path` must match; None where the schema forbids one."""
    for step in path:
        if isinstance(step, int):
            schema = schema.get("items") or {}
        elif step in (schema.get("properties") or {}):
            schema = schema["properties"][step]
        elif schema.get("additionalProperties") is False:
            return None
        else:
            extra = schema.get("additionalProperties")
            schema = extra if isinstance(extra, Mapping) else {}
    return schema


def _string_can_grow(schema: Mapping[str, Any] | None, text: str) -> str | None:
    """Why a string that begins with `text` cannot match `schema` (None: it still can)."""
    if schema is None:
        return "a key the schema does not allow"
    if schema.get("type") not in (None, "string"):
        return f"a string where the schema wants {schema['type']}"
    if "enum" in schema and not any(str(option).startswith(text) for option in schema["enum"]):
        return f"{text!r} begins no value of {schema['enum']}"
    if "maxLength" in schema and len(text) > schema["maxLength"]:
        return f"a string longer than {schema['maxLength']}"
    return None


class SchemaWatch(Cancellation):
    """Observes the pieces of one streamed answer (the backends' `Cancellation.observe` hook);
    raises StreamRejected at the first piece after which the answer cannot match `schema`."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        super().__init__()
        self.schema = schema
        self._validator = jsonschema.Draft202012Validator(prefix_schema(schema))
        self._parts: list[str] = []
        self.pieces = 0
        self._complete = False

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def observe(self, piece: str) -> None:
        self._parts.append(piece)
        self.pieces += 1
        if not piece.strip():
            return
        if self._complete:
            self._reject("text after the JSON object")
        prefix = self.text.encode()
        try:
            whole = jiter.from_json(prefix, partial_mode="on")
            partial = jiter.from_json(prefix, partial_mode="trailing-strings")
        except ValueError as exc:
            self._reject(f"not JSON ({exc})")
        if not isinstance(whole, dict):
            self._reject("not a JSON object")
        error = next(iter(self._validator.iter_errors(whole)), None)
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            self._reject(f"schema violation at {where}: {error.message}")
        trailing = _trailing_string(whole, partial)
        if trailing is not None:
            path, text = trailing
            reason = _string_can_grow(_schema_at(self.schema, path), text)
            if reason is not None:
                self._reject(f"at {'/'.join(map(str, path))}: {reason}")
        try:
            jiter.from_json(prefix)
        except ValueError:
            return
        self._complete = True

    def _reject(self, reason: str) -> None:
        raise StreamRejected(f"stream stopped after {self.pieces} pieces: {reason}", self.text, self.pieces)
