"""The user's labels (`leadflow.storage.labels`) as training and test data for the scorer.

- Split: one labelled signal in HELDOUT_EVERY (by a hash of its id, so the split never moves
  when labels are added) is held out; the others train.
- Training: the head learns postings (its features are a posting's title embedding, keyword
  rule and ICP similarity), so the training labels of postings join the golden set. Labels of
  emails and accounts do not train it (their scores come from the email analysis and the ICP
  similarity), but they are held out and judged like the rest.
- Held-out figures: the run's cheap stage scores every held-out labelled signal, "good" is a
  score at or above `warm`; precision/recall per source and overall.
- Suggestions (`suggest`): the published, unlabelled postings whose cheap score is nearest the
  `warm` boundary, where the head is least sure (uncertainty sampling): their labels move the
  boundary most.
"""

import hashlib
from collections.abc import Mapping
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from leadflow.ingest.jobs_jsonl import KIND as JOB_KIND
from leadflow.scoring.cascade import IcpScorer, Thresholds, precision_recall
from leadflow.scoring.prefilter import SIGNALS_SQL, with_cheap_scores, with_email_leads
from leadflow.storage.labels import current_labels
from leadflow.storage.warehouse import has_schema

HELDOUT_EVERY = 5
GOOD = "good"
LEARNED_KINDS = (JOB_KIND,)  # the kinds whose labels train the head

SUGGEST_SQL = """
SELECT l.signal_id, l.partition_date, l.kind, l.title, l.account_name, l.cheap_score, l.final_score, l.bucket,
       abs(l.cheap_score - ?) AS margin
FROM leads l
WHERE l.kind = ANY(?::VARCHAR[]) AND l.signal_id <> ALL(?::VARCHAR[])
QUALIFY row_number() OVER (PARTITION BY l.content_hash ORDER BY l.partition_date DESC, l.signal_id) = 1
ORDER BY margin, l.partition_date DESC, l.signal_id
LIMIT ?
"""


def is_held_out(signal_id: str) -> bool:
    return int(hashlib.sha256(signal_id.encode()).hexdigest()[:8], 16) % HELDOUT_EVERY == 0


def labelled_signals(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every labelled signal with what the cascade reads of it (SIGNALS_SQL), `good` and
    `held_out`; a signal not yet embedded is left out (the next run of its day embeds it)."""
    labels = current_labels(conn)
    if not len(labels) or not has_schema(conn):
        return pd.DataFrame()
    ids = labels["signal_id"].tolist()
    frame = conn.execute(SIGNALS_SQL.format(where="s.signal_id = ANY(?::VARCHAR[])"), [ids]).df()
    good = dict(zip(labels["signal_id"], labels["label"] == GOOD, strict=True))
    return frame.assign(
        good=frame["signal_id"].map(good).astype(bool), held_out=frame["signal_id"].map(is_held_out).astype(bool)
    )


def training_labels(labelled: pd.DataFrame) -> pd.DataFrame:
    """The labels the head learns from: postings not held out."""
    if not len(labelled):
        return labelled
    return labelled[~labelled["held_out"] & labelled["kind"].isin(LEARNED_KINDS)]


def held_out_figures(scorer: IcpScorer, labelled: pd.DataFrame, cuts: Mapping[str, float]) -> dict[str, Any]:
    """Precision/recall of the cheap stage on the held-out labels, overall and per source."""
    held = labelled[labelled["held_out"]] if len(labelled) else labelled
    if not len(held):
        return {"rows": 0}
    scored = with_email_leads(scorer, with_cheap_scores(scorer, held), cuts)
    predicted = scored["cheap_score"].to_numpy(dtype=float) >= scorer.thresholds.warm
    good = scored["good"].to_numpy(dtype=bool)

    def figures(mask: np.ndarray) -> dict[str, Any]:
        return {"rows": int(mask.sum()), "good": int(good[mask].sum()), **precision_recall(predicted[mask], good[mask])}

    return {
        **figures(np.ones(len(scored), dtype=bool)),
        "sources": {
            source: figures((scored["source"] == source).to_numpy()) for source in sorted(set(scored["source"]))
        },
    }


def suggest(conn: duckdb.DuckDBPyConnection, n: int, thresholds: Thresholds | None = None) -> pd.DataFrame:
    """The `n` published, unlabelled postings whose label would teach the head most: cheap score
    nearest the `warm` boundary first (one per content), with that distance as `margin`."""
    if n < 1:
        raise ValueError(f"suggest needs a positive count, not {n}")
    if not has_schema(conn):
        return pd.DataFrame(columns=["signal_id", "margin"])
    warm = (thresholds or Thresholds()).warm
    labelled = current_labels(conn)["signal_id"].tolist()
    return conn.execute(SUGGEST_SQL, [warm, list(LEARNED_KINDS), labelled, n]).df()
