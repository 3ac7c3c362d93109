"""The early-parse watch on the classification schema: every prefix of a valid answer passes,
an answer stops at the first piece no continuation could make valid; and a real streamed answer
of the small model (embedded engine, schema-constrained) goes through the client unstopped."""

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


def test_a_real_streamed_classification_is_not_stopped(embedded, chat_engine):
    from leadflow.llm.catalog import load_catalog
    from leadflow.llm.client import ClientSettings, LLMClient
    from leadflow.llm.pool import EndpointPool
    from leadflow.paths import RESOURCES_DIR

    client = LLMClient(
        load_catalog(RESOURCES_DIR / "models.yaml"),
        PromptLibrary(PROMPTS_DIR),
        {"prefilter": EndpointPool([embedded], max_concurrency=1)},
        settings=ClientSettings(stream_roles=("prefilter",)),
    )
    variables = {
        "icp_context": "- B2B software companies hiring marketing staff",
        "signal_kind": "job_posting",
        "signal_title": "Marketing Manager",
        "signal_text": "Marketing Manager. We are a SaaS company hiring a marketing manager.",
    }
    completion = client.complete_json("prefilter", "classify_signal", variables)
    assert completion.record is not None and completion.record.stream_aborted == 0 and completion.record.invalid == 0
    assert 0 <= completion.value["score"] <= 100
