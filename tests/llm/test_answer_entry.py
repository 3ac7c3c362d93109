"""A cache entry holds an answer's JSON and what generating it cost; entries written before the
cost was kept still read, with an unknown cost."""

import json

import pytest

from leadflow.llm import answer_entry

ANSWER = {"relevant": True, "score": 0.82, "reason": "Café chain hiring a head of growth \u2014 Zürich", "tags": []}


def test_an_entry_gives_back_the_answer_and_its_token_cost():
    encoded = json.dumps(ANSWER).encode()
    entry = answer_entry.pack(encoded, 412, 37)
    assert answer_entry.unpack(entry) == (encoded, (412, 37))
    assert answer_entry.answer(entry) == ANSWER
    assert answer_entry.decode(encoded) == ANSWER


def test_an_entry_without_a_cost_is_an_answer_whose_cost_is_unknown():
    legacy = json.dumps(ANSWER).encode()  # what the cache held before costs were kept
    assert answer_entry.unpack(legacy) == (legacy, None)
    assert answer_entry.answer(legacy) == ANSWER


def test_an_answer_with_a_newline_inside_a_string_survives():
    tricky = {"reason": "line one\nline two"}
    entry = answer_entry.pack(json.dumps(tricky).encode(), 1, 2)  # json.dumps escapes it: no raw newline
    assert answer_entry.answer(entry) == tricky
    assert answer_entry.unpack(entry)[1] == (1, 2)


@pytest.mark.parametrize("corrupt", [b'{"score": 1} trailing', b'{"score": 1', b"", b"\xff\xfe"])
def test_a_corrupt_answer_is_an_error_not_a_partial_value(corrupt):
    with pytest.raises(ValueError):
        answer_entry.decode(corrupt)
