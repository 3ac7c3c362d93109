"""A semantic cache for classifications (design doc 004: cosine >= 0.92 with the same context
required): a request whose exact key misses is answered by an earlier answer whose signal
embedding is close enough, within the same scope (template and its content, model and digest,
options, schema) and the same context (every variable the embedding does not cover: the ICP, the
signal kind).

Semantic caches fail by false hits (a posting and its near-twin from another company, a query and
its reversal): it is off by default, classifications only, and `bench.semantic_tiering` measures
how often a hit's bucket differs from a fresh answer's. Entries live in this process (one run);
the vectors are the embeddings the pipeline already computed, no extra model call.
"""

import threading
from dataclasses import dataclass

import numpy as np

TIER = "semantic"  # the cache tier a semantic hit reports
DEFAULT_THRESHOLD = 0.92


@dataclass(frozen=True)
class Similar:
    """A caller's offer to accept a semantic hit: the unit-norm embedding of what `varying`
    variables say (the signal), the rest of the variables being the context that must match."""

    vector: np.ndarray
    varying: tuple[str, ...]

    def probe(self, variables: dict) -> "Probe":
        """The lookup for one request: the vector and the variables that must match exactly."""
        return Probe(self.vector, {name: value for name, value in variables.items() if name not in self.varying})


@dataclass(frozen=True)
class Probe:
    vector: np.ndarray
    context: dict


@dataclass(frozen=True)
class SemanticHit:
    value: bytes
    similarity: float


class SemanticCache:
    """Per scope (the caller's hash of everything that must match exactly, context included): a
    matrix of unit vectors and their answers; a lookup is one matrix-vector product. Bounded by
    `max_entries` per scope (oldest dropped)."""

    def __init__(self, threshold: float = DEFAULT_THRESHOLD, max_entries: int = 20_000) -> None:
        if not 0 < threshold <= 1:
            raise ValueError(f"semantic threshold must be in (0, 1], got {threshold}")
        self.threshold = threshold
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._vectors: dict[str, np.ndarray] = {}
        self._values: dict[str, list[bytes]] = {}
        self.hits = 0
        self.misses = 0

    def lookup(self, scope: str, vector: np.ndarray) -> SemanticHit | None:
        with self._lock:
            matrix = self._vectors.get(scope)
            if matrix is None or not len(matrix):
                self.misses += 1
                return None
            sims = matrix @ np.asarray(vector, dtype=np.float32)
            best = int(np.argmax(sims))
            if float(sims[best]) < self.threshold:
                self.misses += 1
                return None
            self.hits += 1
            return SemanticHit(self._values[scope][best], round(float(sims[best]), 4))

    def add(self, scope: str, vector: np.ndarray, value: bytes) -> None:
        row = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        with self._lock:
            matrix = self._vectors.get(scope)
            values = self._values.setdefault(scope, [])
            self._vectors[scope] = row if matrix is None else np.vstack([matrix, row])[-self.max_entries :]
            values.append(value)
            del values[: -self.max_entries]
