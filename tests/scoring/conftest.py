"""A small synthetic golden set for the cascade tests: unit title vectors, a rule that fires on
most positives, and ICP similarities that separate the classes."""

import numpy as np


def synthetic_golden(rows: int = 60) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(title vectors, rule hits, ICP similarities, labels), the same for every call."""
    rng = np.random.default_rng(1)
    vecs = rng.normal(size=(rows, 8))
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    labels = (vecs[:, 0] > 0.3).astype(int)
    rules = labels.astype(bool) & (rng.random(rows) > 0.3)
    sims = 0.2 + 0.3 * labels + rng.normal(scale=0.05, size=rows)
    return vecs, rules, sims, labels
