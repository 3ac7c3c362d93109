"""Per-type heads: class-weighted logistic regressions on the cheap features, alone or in a soft
vote with a nearest-neighbour vote on the subject-and-text embedding, with the variant, the
probability calibration and the decision threshold all chosen by cross-validation on the rows the
head is fitted on (never on rows it is evaluated on).

Why neighbours: a type such as employment is a few dozen positives of several kinds (a forwarded
resume, a recruiter's note, a reference): one linear boundary under-fits such a class, while a
distance-weighted vote of the nearest labelled emails keeps its small clusters.

Trained once per process on the bundled golden set (seconds; embeddings come from the LLM cache
after the first run) and deterministic: fixed folds, lbfgs, exact neighbours, no sampling.
"""

from dataclasses import dataclass

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import VotingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_recall_curve
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline

# (feature set, C, neighbours): "own" = the embeddings plus the type's own cues and prototypes,
# "all" = every feature. C is the inverse L2 strength; features are left unscaled (the
# embeddings are unit-norm). neighbours > 0 adds a soft vote of that many nearest emails (cosine,
# distance-weighted) on the subject-and-text embedding.
VARIANTS: tuple[tuple[str, float, int], ...] = (
    ("own", 1.0, 0),
    ("own", 3.0, 0),
    ("all", 0.3, 0),
    ("all", 1.0, 0),
    ("own", 3.0, 7),
)
INNER_FOLDS = 5
SEED = 0


def f1_curve(labels: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """F1 at every cut of `proba` (the cuts ascending, as `precision_recall_curve` gives them)."""
    precision, recall, cuts = precision_recall_curve(labels, proba)
    return 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12), cuts


def f1_best_cut(labels: np.ndarray, proba: np.ndarray) -> float:
    """The probability cut with the best F1 on `proba`, placed halfway to the next lower
    probability so that a new row scoring like the cut's row is decided the same way."""
    f1, cuts = f1_curve(labels, proba)
    cut = float(cuts[int(np.argmax(f1))])
    lower = proba[proba < cut]
    return (cut + float(lower.max())) / 2 if len(lower) else cut


def _columns(columns: np.ndarray) -> ColumnTransformer:
    return ColumnTransformer([("keep", "passthrough", columns)])


def _estimator(columns: np.ndarray, c: float, neighbours: int, text_columns: np.ndarray) -> ClassifierMixin:
    linear = Pipeline(
        [("columns", _columns(columns)), ("lr", LogisticRegression(C=c, class_weight="balanced", max_iter=5000))]
    )
    if not neighbours:
        return linear
    knn = KNeighborsClassifier(neighbours, metric="cosine", weights="distance", algorithm="brute")
    near = Pipeline([("columns", _columns(text_columns)), ("knn", knn)])
    return VotingClassifier([("linear", linear), ("near", near)], voting="soft")


def _score(model: ClassifierMixin, features: np.ndarray) -> np.ndarray:
    """The uncalibrated score: the linear decision value, or the vote's probability."""
    if isinstance(model, VotingClassifier):
        return model.predict_proba(features)[:, 1]
    return model.decision_function(features)


@dataclass(frozen=True)
class TypeHead:
    model: ClassifierMixin  # reads the whole feature matrix (each variant selects its columns)
    calibrator: LogisticRegression  # score -> probability (Platt scaling on out-of-fold scores)
    threshold: float  # calibrated probability from which the type is decided
    variant: tuple[str, float, int]
    inner_f1: float  # the variant's best out-of-fold F1 on the rows it was fitted on

    def proba(self, features: np.ndarray) -> np.ndarray:
        return self.calibrator.predict_proba(_score(self.model, features).reshape(-1, 1))[:, 1]


def fit_head(
    features: np.ndarray, labels: np.ndarray, own_columns: np.ndarray, text_columns: np.ndarray, seed: int = SEED
) -> TypeHead:
    """Choose the variant by its best out-of-fold F1 (the figure the type is judged by),
    calibrate on that variant's out-of-fold scores (unweighted, so probabilities follow the base
    rate), cut at the out-of-fold F1 optimum, then fit on every row."""
    labels = np.asarray(labels, dtype=int)
    positives = int(labels.sum())
    folds = min(INNER_FOLDS, positives, len(labels) - positives)
    if folds < 2:
        raise ValueError(f"a head needs at least 2 positive and 2 negative rows, got {positives} of {len(labels)}")
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    column_sets = {"own": own_columns, "all": np.arange(features.shape[1])}

    def make(variant: tuple[str, float, int]) -> ClassifierMixin:
        return _estimator(column_sets[variant[0]], variant[1], variant[2], text_columns)

    best: tuple[float, tuple[str, float, int], np.ndarray] | None = None
    for variant in VARIANTS:
        method = "predict_proba" if variant[2] else "decision_function"
        scores = cross_val_predict(make(variant), features, labels, cv=splitter, method=method)
        scores = scores[:, 1] if scores.ndim == 2 else scores
        f1 = float(f1_curve(labels, scores)[0].max())
        if best is None or f1 > best[0]:
            best = (f1, variant, scores)
    assert best is not None
    f1, variant, scores = best
    calibrator = LogisticRegression(C=1e4, max_iter=1000).fit(scores.reshape(-1, 1), labels)
    threshold = f1_best_cut(labels, calibrator.predict_proba(scores.reshape(-1, 1))[:, 1])
    return TypeHead(make(variant).fit(features, labels), calibrator, threshold, variant, round(f1, 4))
