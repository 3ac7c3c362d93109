"""Held-out figures by nested CV: the employment head ranks and decides hiring mail."""

import numpy as np

from leadflow.analysis.evaluation import binary_figures, heldout_report

# Floors from bench/email_quality.py (5 repeats, 2026-12-01: employment F1 0.56, min 0.51; AUC 0.94),
# lowered by the spread of one repeat: a regression, not noise, falls below them.
EMPLOYMENT_F1_FLOOR = 0.45
EMPLOYMENT_AUC_FLOOR = 0.90


def test_binary_figures_count_and_rank():
    labels = np.array([1, 1, 0, 0])
    figures = binary_figures(labels, np.array([0.9, 0.4, 0.6, 0.1]), np.array([True, False, True, False]))
    assert figures["tp"] == figures["fp"] == figures["fn"] == 1
    assert figures["precision"] == figures["recall"] == figures["f1"] == 0.5
    assert figures["auc"] == 0.75


def test_employment_head_held_out_figures_stay_above_the_measured_floor(golden, golden_features):
    space, features = golden_features
    report = heldout_report(features, golden, space, repeats=1, types=["employment"])["employment"]
    assert report["positives"] == int(golden.labels("employment").sum())
    assert len(report["repeats"][0]["folds"]) == 5  # every outer fold chose its own variant and cut
    assert report["mean"]["auc"] >= EMPLOYMENT_AUC_FLOOR
    assert report["mean"]["f1"] >= EMPLOYMENT_F1_FLOOR
