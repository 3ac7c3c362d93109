"""A small logistic head on MiniLM embeddings, trained on the labelled golden set.

Measured (shared notes): a head on title embeddings trained on 100 labelled postings reached
F1 0.82 on held-out postings, against 0.40 for cosine to one ICP sentence. Plain numpy: the
model is 386 weights and trains in milliseconds, so it is retrained each run from the golden
file, which keeps it reproducible from the repo alone.
"""

from dataclasses import dataclass

import numpy as np


@dataclass
class LogisticHead:
    weights: np.ndarray
    bias: float

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(features @ self.weights + self.bias)))


def train_head(
    features: np.ndarray, labels: np.ndarray, l2: float = 1e-2, epochs: int = 800, lr: float = 0.5
) -> LogisticHead:
    """Full-batch gradient descent with class weights (positives are rare: 9 in 100)."""
    y = labels.astype(np.float64)
    x = features.astype(np.float64)
    positives = max(y.sum(), 1.0)
    negatives = max(len(y) - y.sum(), 1.0)
    sample_weight = np.where(y == 1, len(y) / (2 * positives), len(y) / (2 * negatives))
    w = np.zeros(x.shape[1])
    b = 0.0
    for _ in range(epochs):
        p = 1.0 / (1.0 + np.exp(-(x @ w + b)))
        err = (p - y) * sample_weight
        w -= lr * (x.T @ err / len(y) + l2 * w)
        b -= lr * err.mean()
    return LogisticHead(weights=w, bias=b)


def out_of_fold_proba(features: np.ndarray, labels: np.ndarray, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Each row's probability from a head that never saw it (stratified k-fold)."""
    rng = np.random.default_rng(seed)
    fold_of = np.empty(len(labels), dtype=int)
    for cls in (0, 1):
        idx = np.flatnonzero(labels == cls)
        rng.shuffle(idx)
        fold_of[idx] = np.arange(len(idx)) % folds
    proba = np.zeros(len(labels))
    for fold in range(folds):
        test = fold_of == fold
        head = train_head(features[~test], labels[~test])
        proba[test] = head.predict_proba(features[test])
    return proba


def best_threshold(proba: np.ndarray, labels: np.ndarray) -> float:
    """The probability cut that maximises F1 on out-of-fold predictions."""
    best, best_f1 = 0.5, -1.0
    for cut in np.unique(proba):
        pred = proba >= cut
        tp = float((pred & (labels == 1)).sum())
        precision = tp / max(pred.sum(), 1)
        recall = tp / max((labels == 1).sum(), 1)
        f1 = 2 * precision * recall / max(precision + recall, 1e-9)
        if f1 > best_f1:
            best, best_f1 = float(cut), f1
    return best
