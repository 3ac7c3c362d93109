"""The early-parse watch on the classification schema: every prefix of a valid answer passes,
an answer stops at the first piece no continuation could make valid; and on the embedded engine
with the real small model, a streamed schema-constrained answer goes through, an unconstrained
one is stopped."""

import json

import pytest

from leadflow.llm.prompts import PromptLibrary
from leadflow.llm.stream_parse import SchemaWatch, StreamRejected
from leadflow.paths import PROMPTS_DIR

SCHEMA = PromptLibrary(PROMPTS_DIR).get("classify_signal").output_schema or {}
VALID = {"score": 72, "hiring": True, "role_function": "marketing", "seniority": "senior", "reasons": ["PR lead"]}


def stopped_at(text: str, size: int = 1) -> int | None:
    """The piece (1-based) at which the watch stops `text` fed `size` characters at a time."""
    watch = SchemaWatch(SCHEMA)
    try:
        for start in range(0, len(text), size):
            watch.observe(text[start : start + size])
    except StreamRejected as stopped:
        assert stopped.text == text[: stopped.pieces * size]
        return stopped.pieces
    return None


@pytest.mark.parametrize("spacing", [None, 2])
def test_every_prefix_of_a_valid_answer_goes_on(spacing):
    assert stopped_at(json.dumps(VALID, indent=spacing)) is None


@pytest.mark.parametrize(
    "text, piece",
    [
        ("```json\n" + json.dumps(VALID), 1),  # a fence: not JSON from the first character
        ("Here is the JSON: {}", 1),
        ('{"verdict": "yes"}', len('{"verdict": "')),  # a key the schema forbids, known once it is a string
        ('{"score": 250, "hiring": true}', len('{"score": 250')),  # above the maximum of 100
        ('{"score": 5, "role_function": "baker"}', len('{"score": 5, "role_function": "b')),
        ('{"hiring": "yes"}', len('{"hiring": "')),  # a string where a boolean belongs
        ('{"reasons": ["a", "b", "c"]}', len('{"reasons": ["a", "b", "c"')),  # maxItems 2, once the third is whole
        (json.dumps(VALID) + " {", len(json.dumps(VALID)) + 2),  # text after the object
    ],
)
def test_an_answer_stops_at_its_first_impossible_piece(text, piece):
    assert stopped_at(text) == piece


def test_the_engine_streams_a_valid_answer_through_and_stops_an_invalid_one(embedded, chat_engine):
    """The embedded engine's stream with the watch attached: a schema-constrained answer of the
    real small model is never stopped; asked without the grammar, it is stopped at once."""
    from leadflow.llm.types import ChatRequest, Timeouts
    from tests.llm.conftest import SCORE_SCHEMA, SMALL, score_messages

    request = ChatRequest(SMALL, score_messages("a log search tool"), max_tokens=24, schema=SCORE_SCHEMA, stream=True)
    watch = SchemaWatch(SCORE_SCHEMA)
    response = embedded.chat(request, Timeouts(), watch)
    assert json.loads(response.text)["verdict"] in ("yes", "no") and watch.pieces >= response.completion_tokens - 1
    prose = ChatRequest(SMALL, ({"role": "user", "content": "Say hello in five words."},), max_tokens=24, stream=True)
    with pytest.raises(StreamRejected) as stopped:
        embedded.chat(prose, Timeouts(), SchemaWatch(SCORE_SCHEMA))
    assert stopped.value.pieces == 1
