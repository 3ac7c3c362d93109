"""Per-type heads: variant, calibration and threshold chosen by inner CV, deterministic."""

import numpy as np
import pytest

from leadflow.analysis.heads import VARIANTS, f1_best_cut, fit_head


def test_f1_best_cut_sits_between_the_cut_row_and_the_next_lower():
    labels = np.array([1, 1, 0, 1, 0, 0])
    proba = np.array([0.9, 0.8, 0.7, 0.6, 0.3, 0.1])
    cut = f1_best_cut(labels, proba)
    assert cut == pytest.approx((0.6 + 0.3) / 2)  # all three positives, one false positive: F1 0.86


def test_fit_head_on_real_features_is_calibrated_and_deterministic(golden, golden_features):
    space, features = golden_features
    labels = golden.labels("newsletter")
    head = fit_head(features, labels, space.own_columns("newsletter"), space.text_columns())
    again = fit_head(features, labels, space.own_columns("newsletter"), space.text_columns())
    proba = head.proba(features)
    assert np.array_equal(proba, again.proba(features)) and head.threshold == again.threshold
    assert head.variant in VARIANTS and 0 < head.threshold < 1
    assert ((proba >= 0) & (proba <= 1)).all()
    assert proba[labels == 1].mean() > 0.5 > proba[labels == 0].mean()
    # Calibrated (unweighted Platt scaling): the mean probability is near the base rate.
    assert abs(proba.mean() - labels.mean()) < 0.05


def test_own_columns_are_the_embeddings_plus_the_types_own_cues_and_prototypes(golden_features):
    space, features = golden_features
    own = space.own_columns("employment")
    width = 2 * space.prototype_vecs["employment"].shape[1]
    assert own[:width].tolist() == list(range(width)) and own.max() < features.shape[1]
    assert len(own) == width + 2 * 5 + 2  # five employment cue groups in subject and text, two cosines
    # The neighbours read the subject-and-text half of the embeddings.
    assert space.text_columns().tolist() == list(range(width // 2, width))


def test_every_variant_fits_and_the_neighbour_vote_is_calibrated_too(golden, golden_features, monkeypatch):
    space, features = golden_features
    labels = golden.labels("employment")
    for variant in VARIANTS:
        monkeypatch.setattr("leadflow.analysis.heads.VARIANTS", (variant,))
        head = fit_head(features, labels, space.own_columns("employment"), space.text_columns())
        proba = head.proba(features)
        assert head.variant == variant and 0 < head.threshold < 1 and 0 < head.inner_f1 <= 1
        assert proba[labels == 1].mean() > proba[labels == 0].mean()


def test_a_head_needs_positives():
    with pytest.raises(ValueError, match="at least 2 positive"):
        fit_head(np.zeros((10, 3)), np.array([1] + [0] * 9), np.arange(3), np.arange(3))
