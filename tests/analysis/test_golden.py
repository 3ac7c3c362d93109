"""The bundled email golden set, read through the pipeline's own mbox parser."""

import pytest

from leadflow.analysis.golden import GOLDEN_LABELS, GOLDEN_MBOX, EmailGolden


def test_the_golden_set_is_bundled_and_parsed_like_production(golden: EmailGolden):
    assert GOLDEN_MBOX.is_file() and GOLDEN_LABELS.is_file()
    assert golden.labelled == 600
    # Every labelled email is a signal or a parser rejection with its reason counted.
    assert len(golden.mails) + sum(golden.quarantined.values()) == 600
    assert len(golden.mails) >= 580  # only unusable mail is quarantined
    assert len(set(golden.message_ids)) == len(golden.mails)
    assert all(m.text and m.sent is not None for m in golden.mails)
    employment = golden.labels("employment")
    assert employment.sum() >= 30 and set(employment.tolist()) == {0, 1}


def test_rule_decided_types_have_no_labels(golden: EmailGolden):
    with pytest.raises(ValueError, match="rule-decided"):
        golden.labels("spam")
