"""Per-type heads: class-weighted logistic regressions on the cheap features, with the feature
set, the regularization, the probability calibration and the decision threshold all chosen by
cross-validation on the rows the head is fitted on (never on rows it is evaluated on).

Trained once per process on the bundled golden set (seconds; embeddings come from the LLM cache
after the first run) and deterministic: fixed folds, lbfgs, no sampling.
"""

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, precision_recall_curve
from sklearn.model_selection import StratifiedKFold, cross_val_predict

# (feature set, C): "own" = the embeddings plus the type's own cues and prototypes, "all" = every
# feature. C is the inverse L2 strength; features are left unscaled (the embeddings are unit-norm).
VARIANTS: tuple[tuple[str, float], ...] = (("own", 1.0), ("own", 3.0), ("all", 0.3), ("all", 1.0))
INNER_FOLDS = 5
SEED = 0


def _model(c: float) -> LogisticRegression:
    return LogisticRegression(C=c, class_weight="balanced", max_iter=5000)


def f1_best_cut(labels: np.ndarray, proba: np.ndarray) -> float:
    """The probability cut with the best F1 on `proba`, placed halfway to the next lower
    probability so that a new row scoring like the cut's row is decided the same way."""
    precision, recall, cuts = precision_recall_curve(labels, proba)
    f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
    cut = float(cuts[int(np.argmax(f1))])
    lower = proba[proba < cut]
    return (cut + float(lower.max())) / 2 if len(lower) else cut


@dataclass(frozen=True)
class TypeHead:
    columns: np.ndarray  # the feature columns the head reads
    model: LogisticRegression
    calibrator: LogisticRegression  # decision score -> probability (Platt scaling on out-of-fold scores)
    threshold: float  # calibrated probability from which the type is decided
    variant: tuple[str, float]
    inner_average_precision: float

    def proba(self, features: np.ndarray) -> np.ndarray:
        scores = self.model.decision_function(features[:, self.columns]).reshape(-1, 1)
        return self.calibrator.predict_proba(scores)[:, 1]


def fit_head(features: np.ndarray, labels: np.ndarray, own_columns: np.ndarray, seed: int = SEED) -> TypeHead:
    """Choose the variant by out-of-fold average precision, calibrate on that variant's
    out-of-fold scores (unweighted, so probabilities follow the base rate), cut at the
    out-of-fold F1 optimum, then fit on every row."""
    labels = np.asarray(labels, dtype=int)
    positives = int(labels.sum())
    folds = min(INNER_FOLDS, positives, len(labels) - positives)
    if folds < 2:
        raise ValueError(f"a head needs at least 2 positive and 2 negative rows, got {positives} of {len(labels)}")
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    column_sets = {"own": own_columns, "all": np.arange(features.shape[1])}
    best: tuple[float, tuple[str, float], np.ndarray] | None = None
    for variant in VARIANTS:
        columns, c = column_sets[variant[0]], variant[1]
        scores = cross_val_predict(_model(c), features[:, columns], labels, cv=splitter, method="decision_function")
        ap = float(average_precision_score(labels, scores))
        if best is None or ap > best[0]:
            best = (ap, variant, scores)
    assert best is not None
    ap, variant, scores = best
    columns = column_sets[variant[0]]
    calibrator = LogisticRegression(C=1e4, max_iter=1000).fit(scores.reshape(-1, 1), labels)
    threshold = f1_best_cut(labels, calibrator.predict_proba(scores.reshape(-1, 1))[:, 1])
    model = _model(variant[1]).fit(features[:, columns], labels)
    return TypeHead(columns, model, calibrator, threshold, variant, round(ap, 4))
