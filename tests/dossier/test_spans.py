"""Phrases copied by a model are found in the signal and cited with the signal's own text."""

from leadflow.dossier.spans import Span, clip, locate

TEXT = "In direct collaboration with the Marketing Team and the CEO, you\u2019ll own  copywriting, social media, and events."


def _located(phrase: str) -> tuple[Span, str]:
    found = locate(TEXT, phrase)
    assert found is not None
    return found


def test_exact_folded_and_gapped_matches_quote_the_signal():
    span, how = _located("Marketing Team")
    assert how == "exact" and TEXT[span.start : span.end] == span.text == "Marketing Team"
    span, how = _located("you'll own copywriting")  # straight quote, one space: folded
    assert how == "folded" and span.text == "you\u2019ll own  copywriting"
    span, how = _located("Marketing Team and CEO")  # the model dropped "the": gapped
    assert how == "gapped" and span.text == "Marketing Team and the CEO"
    assert TEXT[span.start : span.end] == span.text


def test_answers_the_signal_does_not_hold_are_not_located():
    assert locate(TEXT, "investors or money raised") is None
    assert locate(TEXT, "CEO Marketing") is None  # words out of order
    assert locate(TEXT, "  ") is None


def test_clip_keeps_a_prefix_of_the_signal():
    span = Span(0, len(TEXT), TEXT)
    clipped = clip(span, 4)
    assert clipped.text == "In direct collaboration with" and TEXT[clipped.start : clipped.end] == clipped.text


def test_a_phrase_cut_mid_word_is_not_located():
    assert locate(TEXT, "the Mark") is None  # an answer cut off by its length limit
    assert locate(TEXT, "Marketing Team")
