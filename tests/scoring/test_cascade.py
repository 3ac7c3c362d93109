"""The cheap-first cascade: buckets, calibration and golden-set evaluation on real embeddings."""

import numpy as np
import pytest

from leadflow.scoring.cascade import BUCKETS, Thresholds, fit_scorer, precision_recall
from leadflow.scoring.head import best_threshold, out_of_fold_proba, train_head
from leadflow.scoring.rules import title_keyword_hit
from tests.scoring.conftest import synthetic_golden


@pytest.mark.parametrize(
    ("score", "bucket"),
    [
        (100, "red_hot"),
        (80, "red_hot"),
        (79.99, "warm"),
        (60, "warm"),
        (59, "nurture"),
        (40, "nurture"),
        (39, "parked"),
        (20, "parked"),
        (19.9, "filtered"),
        (0, "filtered"),
    ],
)
def test_buckets_follow_design_doc_000(score, bucket):
    assert Thresholds().bucket(score) == bucket
    assert bucket in BUCKETS


def test_thresholds_are_configurable():
    assert Thresholds(red_hot=90, warm=70).bucket(85) == "warm"


def test_keyword_rule_on_real_titles():
    assert title_keyword_hit("Marketing Manager")
    assert title_keyword_hit("Social Media Coordinator")
    assert title_keyword_hit("PR & Communications Lead")
    assert not title_keyword_hit("Junior Systems Administrator")
    assert not title_keyword_hit("English Teacher Abroad")


def test_precision_recall_counts():
    report = precision_recall(np.array([True, True, False, False]), np.array([1, 0, 1, 0]))
    assert report == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "tp": 1, "fp": 1, "fn": 1}


def test_head_learns_a_separable_signal_and_out_of_fold_never_sees_its_row():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 5))
    y = (x[:, 0] > 0.8).astype(int)
    head = train_head(x, y)
    assert precision_recall(head.predict_proba(x) >= 0.5, y)["f1"] > 0.7
    assert abs(head.weights[0]) > 2 * np.abs(head.weights[1:]).max()  # it found the informative feature
    oof = out_of_fold_proba(x, y)
    assert oof.shape == (80,) and ((oof >= 0) & (oof <= 1)).all()
    assert 0 < best_threshold(oof, y) < 1


def test_scorer_maps_the_f1_cut_to_the_warm_boundary():
    vecs, rules, sims, labels = synthetic_golden()
    thresholds = Thresholds()
    scorer, heldout, report = fit_scorer(vecs, rules, sims, labels, thresholds)
    assert heldout.shape == (60,) and ((heldout >= 0) & (heldout <= 100)).all()
    assert report["golden_rows"] == 60 and report["golden_positives"] == labels.sum()
    assert report["heldout"]["f1"] > 0.5
    scores = scorer.cheap_scores(np.array(["job_posting"] * 60), vecs, rules, sims)
    assert ((scores >= 0) & (scores <= 100)).all()
    proba = scorer.head.predict_proba(np.hstack([vecs, rules.reshape(-1, 1), sims.reshape(-1, 1)]))
    assert ((scores >= thresholds.warm) == (proba >= scorer.proba_cut)).all()
    emails = scorer.cheap_scores(np.array(["email"] * 60), vecs, rules, sims)
    assert emails[labels == 1].mean() > emails[labels == 0].mean()
    assert scorer.blend(50.0, None) == 50.0
    assert scorer.blend(50.0, 100) == pytest.approx(60.0)
