"""Cheap features of an email for the type heads: two MiniLM embeddings (the subject, and the
subject with the head of the text), cue counts per type, and cosines to each trained type's
prototype sentences.

Nothing here is learned from labels, so the golden set's feature matrix is built once and the
heads are fitted and cross-validated on it. Measured during development on the golden set
(pooled 5-fold CV, employment): the subject-and-text embedding ranks better than the text alone,
the two embeddings alone reach AUC ~0.93, the type's own cue counts add the most on top (~0.94;
every type's cues together ~0.93), prototype cosines a little; TF-IDF n-grams, chunked embeddings and
a second text window did not help.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from leadflow.analysis.mail import Mail
from leadflow.analysis.taxonomy import BULK_SENDER, TRAINED_TYPES, TYPE_BY_KEY, TYPES
from leadflow.llm.client import LLMClient
from leadflow.scoring.embedding import embed_texts


def email_vectors(client: LLMClient, mails: Sequence[Mail]) -> np.ndarray:
    """Per mail, [subject vector | subject-and-text vector] (unit-norm halves).

    The subject is embedded as the pipeline embeds titles, so it is a cache hit after
    signal_embeddings; the second half reads the same head of text (`EMBED_CHARS`) as its text_vec.
    """
    if not mails:
        return np.zeros((0, 0), dtype=np.float32)
    subjects = client.embed_many([m.subject for m in mails])
    combined = embed_texts(client, [f"{m.subject}\n{m.text}" for m in mails])
    return np.hstack([subjects, combined])


def cue_counts(mails: Sequence[Mail]) -> np.ndarray:
    """log(1 + matches) of every cue group of every type, in the subject and in the text window,
    and whether the sender address looks like bulk mail."""
    rows = []
    for mail in mails:
        window = mail.window
        row = [
            np.log1p(len(group.findall(field))) for t in TYPES for group in t.cues for field in (mail.subject, window)
        ]
        row.append(float(bool(BULK_SENDER.match(mail.sender))))
        rows.append(row)
    return np.array(rows, dtype=np.float64).reshape(len(mails), -1)


@dataclass(frozen=True)
class FeatureSpace:
    """The prototype vectors of the trained types: the only state the features need."""

    prototype_vecs: dict[str, np.ndarray]  # type key -> (prototypes, dims), unit-norm rows

    @classmethod
    def build(cls, client: LLMClient) -> "FeatureSpace":
        sentences = [s for t in TRAINED_TYPES for s in t.prototypes]
        vecs = client.embed_many(sentences)
        out, start = {}, 0
        for t in TRAINED_TYPES:
            out[t.key] = vecs[start : start + len(t.prototypes)]
            start += len(t.prototypes)
        return cls(out)

    def matrix(self, mails: Sequence[Mail], vectors: np.ndarray) -> np.ndarray:
        """The head features: the two embeddings, cue counts (`cue_counts`), and per trained
        type the best prototype cosine of the subject and of the subject-and-text vector."""
        dims = vectors.shape[1] // 2
        halves = (vectors[:, :dims], vectors[:, dims:])
        cosines = [
            (half @ protos.T).max(axis=1, keepdims=True) for protos in self.prototype_vecs.values() for half in halves
        ]
        return np.hstack([vectors, cue_counts(mails), *cosines])

    def text_columns(self) -> np.ndarray:
        """Columns of `matrix` holding the subject-and-text embedding (the neighbours' space)."""
        dims = next(iter(self.prototype_vecs.values())).shape[1]
        return np.arange(dims, 2 * dims)

    def own_columns(self, type_key: str) -> np.ndarray:
        """Columns of `matrix` that are about one trained type: both embeddings, the type's cue
        counts and its prototype cosines."""
        keys = list(self.prototype_vecs)
        vector_width = 2 * self.prototype_vecs[keys[0]].shape[1]
        cue_start = vector_width
        for t in TYPES:
            if t.key == type_key:
                break
            cue_start += 2 * len(t.cues)
        own_cues = range(cue_start, cue_start + 2 * len(TYPE_BY_KEY[type_key].cues))
        proto_start = vector_width + 2 * sum(len(t.cues) for t in TYPES) + 1
        own_protos = range(proto_start + 2 * keys.index(type_key), proto_start + 2 * keys.index(type_key) + 2)
        return np.array([*range(vector_width), *own_cues, *own_protos])
