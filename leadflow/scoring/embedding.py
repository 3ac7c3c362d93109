"""Signal embeddings and their similarity to the ICPs, shared by the embedding stage and the
golden-set features of the cascade (both must embed text the same way)."""

import json
from typing import Any

import numpy as np
import pandas as pd

from leadflow.llm.client import LLMClient
from leadflow.scoring.icp import IcpProfile
from leadflow.scoring.injection import neutralize

# MiniLM was trained on 256-token inputs and the engine rejects inputs over its batch size:
# the head of the text carries the signal.
EMBED_CHARS = 900


def embed_texts(client: LLMClient, texts: list[str]) -> np.ndarray:
    """Unit-norm embeddings of the head of each text, without what it says to a model."""
    return client.embed_many([neutralize(text)[:EMBED_CHARS] for text in texts])


def icp_similarities(client: LLMClient, profiles: list[IcpProfile], text_vecs: np.ndarray) -> dict[str, np.ndarray]:
    """Per ICP, each signal's best cosine to that ICP's prototypes (vectors are unit-norm)."""
    return {p.id: (text_vecs @ client.embed_many(list(p.prototypes)).T).max(axis=1) for p in profiles}


def embedding_columns(client: LLMClient, profiles: list[IcpProfile], signals: pd.DataFrame) -> dict[str, Any]:
    """The signal_embeddings columns of `signals` (title, text): vectors, best ICP, similarities."""
    if not len(signals):
        return {
            "dims": 0,
            "title_vec": [],
            "text_vec": [],
            "best_icp": [],
            "icp_similarity": [],
            "icp_similarities": [],
        }
    title_vecs = client.embed_many([neutralize(title) for title in signals["title"].fillna("")])
    text_vecs = embed_texts(client, signals["text"].fillna("").tolist())
    sims = icp_similarities(client, profiles, text_vecs)
    sim_matrix = np.vstack([sims[p.id] for p in profiles]).T
    return {
        "dims": title_vecs.shape[1],
        "title_vec": list(title_vecs),
        "text_vec": list(text_vecs),
        "best_icp": [profiles[i].id for i in sim_matrix.argmax(axis=1)],
        "icp_similarity": sim_matrix.max(axis=1),
        "icp_similarities": [
            json.dumps({p.id: round(float(sims[p.id][i]), 4) for p in profiles}) for i in range(len(signals))
        ],
    }
