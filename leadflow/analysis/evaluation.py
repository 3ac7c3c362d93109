"""Held-out figures of the type heads by nested cross-validation: each outer fold's head is
fitted by `fit_head` on the other folds alone (variant, calibration and threshold chosen by its inner
CV), then scored on the outer fold. Predictions are pooled over the outer folds per repeat.
"""

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold

from leadflow.analysis.features import FeatureSpace
from leadflow.analysis.golden import EmailGolden
from leadflow.analysis.heads import SEED, fit_head
from leadflow.analysis.taxonomy import TRAINED_TYPES
from leadflow.scoring.cascade import precision_recall

OUTER_FOLDS = 5


def binary_figures(labels: np.ndarray, proba: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """The cascade's precision / recall / F1 (and counts), plus the ranking figures."""
    return {
        **precision_recall(predicted.astype(bool), labels),
        "auc": round(float(roc_auc_score(labels, proba)), 3),
        "average_precision": round(float(average_precision_score(labels, proba)), 3),
    }


def nested_cv(
    features: np.ndarray,
    labels: np.ndarray,
    own_columns: np.ndarray,
    text_columns: np.ndarray,
    repeats: int = 1,
    folds: int = OUTER_FOLDS,
    seed: int = SEED,
) -> dict[str, Any]:
    """Held-out precision/recall/F1/AUC of one head, per repeat (different outer splits) and
    their mean; with the C and threshold each outer fold's inner CV chose."""
    labels = np.asarray(labels, dtype=int)
    runs = []
    for repeat in range(repeats):
        outer = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed + 1000 + repeat)
        proba = np.zeros(len(labels))
        predicted = np.zeros(len(labels), dtype=bool)
        chosen = []
        for train, test in outer.split(features, labels):
            head = fit_head(features[train], labels[train], own_columns, text_columns, seed=seed)
            proba[test] = head.proba(features[test])
            predicted[test] = proba[test] >= head.threshold
            chosen.append({"variant": list(head.variant), "threshold": round(head.threshold, 4)})
        runs.append({**binary_figures(labels, proba, predicted), "folds": chosen})
    metrics = ("precision", "recall", "f1", "auc", "average_precision")
    return {
        "rows": len(labels),
        "positives": int(labels.sum()),
        "mean": {m: round(float(np.mean([r[m] for r in runs])), 3) for m in metrics},
        "min": {m: round(float(np.min([r[m] for r in runs])), 3) for m in metrics},
        "repeats": runs,
    }


def heldout_report(
    features: np.ndarray, golden: EmailGolden, space: FeatureSpace, repeats: int = 1, types: Sequence[str] = ()
) -> dict[str, dict[str, Any]]:
    """`nested_cv` of each trained type (`types`, default all) on the golden set's features."""
    keys = list(types) or [t.key for t in TRAINED_TYPES]
    return {
        k: nested_cv(features, golden.labels(k), space.own_columns(k), space.text_columns(), repeats=repeats)
        for k in keys
    }
