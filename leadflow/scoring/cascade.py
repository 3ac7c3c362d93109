"""The cheap-first scoring cascade: keyword rule + embedding ICP head decide most signals; the
small model adds a bounded classification only for candidates; buckets follow design doc 000.

The 0.5B model alone is a poor judge (precision 0.13 measured), so its score enters the blend
with a small weight and only above `llm_min_score`; the calibrated cheap score carries the
decision. Dagster-free so the golden-set evaluation and tests call it directly.
"""

from dataclasses import dataclass

import numpy as np

from leadflow.ingest.jobs_jsonl import KIND as JOB_KIND
from leadflow.scoring.explanation import Part, shapley
from leadflow.scoring.head import LogisticHead, best_threshold, out_of_fold_proba, train_head

BUCKETS = ("red_hot", "warm", "nurture", "parked", "filtered")
RULE_POINTS = 10  # what the keyword rule adds to a similarity score
CLIP_PART = "kept within 0-100"


@dataclass(frozen=True)
class Thresholds:
    """Bucket and cascade cut-offs. These defaults are the only ones: `PipelineSettings` reads them."""

    red_hot: int = 80
    warm: int = 60
    nurture: int = 40
    parked: int = 20  # below this: filtered
    dossier: int = 70
    llm_min_score: int = 30
    llm_weight: float = 0.2

    def bucket(self, score: float) -> str:
        if score >= self.red_hot:
            return "red_hot"
        if score >= self.warm:
            return "warm"
        if score >= self.nurture:
            return "nurture"
        if score >= self.parked:
            return "parked"
        return "filtered"


def precision_recall(predicted: np.ndarray, labels: np.ndarray) -> dict:
    tp = int((predicted & (labels == 1)).sum())
    fp = int((predicted & (labels == 0)).sum())
    fn = int((~predicted & (labels == 1)).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 3),
        "recall": round(recall, 3),
        "f1": round(f1, 3),
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def features(title_vecs: np.ndarray, rule_hits: np.ndarray, icp_sims: np.ndarray) -> np.ndarray:
    return np.hstack([title_vecs, rule_hits.reshape(-1, 1).astype(float), icp_sims.reshape(-1, 1)])


@dataclass
class IcpScorer:
    """Maps cheap features to a 0-100 score whose `warm` boundary is the F1-best cut."""

    head: LogisticHead
    proba_cut: float
    sim_low: float
    sim_high: float
    thresholds: Thresholds

    def _calibrate(self, proba: np.ndarray) -> np.ndarray:
        cut, warm = self.proba_cut, self.thresholds.warm
        below = warm * proba / max(cut, 1e-9)
        above = warm + (100 - warm) * (proba - cut) / max(1 - cut, 1e-9)
        return np.clip(np.where(proba < cut, below, above), 0, 100)

    def job_scores(self, title_vecs, rule_hits, icp_sims) -> np.ndarray:
        return self._calibrate(self.head.predict_proba(features(title_vecs, rule_hits, icp_sims)))

    def job_parts(self, title_vecs, rule_hits, icp_sims) -> list[list[Part]]:
        """Per posting: the head's baseline (no evidence), then the Shapley part of the title
        embedding, the keyword rule and the ICP similarity; they sum to `job_scores`."""
        given = (title_vecs, rule_hits.astype(float), icp_sims)
        absent = (np.zeros_like(title_vecs), np.zeros(len(rule_hits)), np.zeros(len(icp_sims)))

        def worth(coalition: frozenset[int]) -> np.ndarray:
            return self.job_scores(*(given[i] if i in coalition else absent[i] for i in range(3)))

        baseline = worth(frozenset())
        title, rule, icp = shapley(worth, 3)
        return [
            [
                Part("baseline", float(baseline[i]), "the head's score with no evidence"),
                Part("title (ICP head)", float(title[i]), "the logistic head on the title embedding"),
                Part("keyword rule", float(rule[i]), "title names a marketing/PR role" if rule_hits[i] else "no hit"),
                Part("ICP similarity", float(icp[i]), f"cosine {float(icp_sims[i]):.2f} to the ICP prototypes"),
            ]
            for i in range(len(rule_hits))
        ]

    def _similarity_terms(self, icp_sims: np.ndarray, rule_hits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        span = max(self.sim_high - self.sim_low, 1e-6)
        return self.thresholds.warm * (icp_sims - self.sim_low) / span, RULE_POINTS * rule_hits.astype(float)

    def similarity_scores(self, icp_sims: np.ndarray, rule_hits: np.ndarray) -> np.ndarray:
        """For emails and accounts, which the title head was not trained on: calibrated cosine."""
        base, rule = self._similarity_terms(icp_sims, rule_hits)
        return np.clip(base + rule, 0, 100)

    def similarity_parts(self, icp_sims: np.ndarray, rule_hits: np.ndarray) -> list[list[Part]]:
        """The terms of `similarity_scores`: the ICP similarity, the keyword rule, the clip."""
        base, rule = self._similarity_terms(icp_sims, rule_hits)
        clipped = np.clip(base + rule, 0, 100) - (base + rule)
        return [
            [
                Part("ICP similarity", float(base[i]), f"cosine {float(icp_sims[i]):.2f} to the ICP prototypes"),
                Part("keyword rule", float(rule[i]), "title names a marketing/PR role" if rule_hits[i] else "no hit"),
                *([Part(CLIP_PART, float(clipped[i]))] if clipped[i] else []),
            ]
            for i in range(len(icp_sims))
        ]

    def cheap_scores(self, kinds, title_vecs, rule_hits, icp_sims) -> np.ndarray:
        kinds = np.asarray(kinds)
        jobs = kinds == JOB_KIND
        scores = self.similarity_scores(icp_sims, rule_hits)
        if jobs.any():
            scores[jobs] = self.job_scores(title_vecs[jobs], rule_hits[jobs], icp_sims[jobs])
        return np.round(scores, 2)

    def cheap_parts(self, kinds, title_vecs, rule_hits, icp_sims) -> list[list[Part]]:
        """Each signal's `cheap_scores` as the parts that sum to it."""
        kinds = np.asarray(kinds)
        parts = self.similarity_parts(icp_sims, rule_hits)
        jobs = np.flatnonzero(kinds == JOB_KIND)
        if len(jobs):
            for index, job in zip(jobs, self.job_parts(title_vecs[jobs], rule_hits[jobs], icp_sims[jobs]), strict=True):
                parts[index] = job
        return parts

    def blend(self, cheap: float, llm_score: float | None, lift: bool = True) -> float:
        """The final score. `lift` False (a signal whose text speaks to the model,
        `leadflow.scoring.injection`): the model's score may lower the cheap score, never raise it."""
        if llm_score is None:
            return round(float(cheap), 2)
        w = self.thresholds.llm_weight
        model = float(llm_score) if lift else min(float(llm_score), float(cheap))
        return round((1 - w) * float(cheap) + w * model, 2)


def fit_scorer(
    title_vecs, rule_hits, icp_sims, labels, thresholds: Thresholds, golden_rows: int | None = None
) -> tuple[IcpScorer, np.ndarray, dict]:
    """Train on the golden set (the first `golden_rows` rows; all by default) and the user's
    labelled postings after it; return the scorer, each row's held-out cheap score (from a head
    that never saw the row) and the held-out precision/recall of the cheap stage on the golden
    rows (so runs with and without user labels compare on the same rows)."""
    labels = np.asarray(labels).astype(int)
    golden = slice(0, len(labels) if golden_rows is None else golden_rows)
    x = features(title_vecs, rule_hits, icp_sims)
    oof = out_of_fold_proba(x, labels)
    cut = best_threshold(oof, labels)
    gold_labels, gold_sims = labels[golden], icp_sims[golden]
    scorer = IcpScorer(
        head=train_head(x, labels),
        proba_cut=cut,
        sim_low=float(np.median(gold_sims[gold_labels == 0])),
        sim_high=float(np.median(gold_sims[gold_labels == 1])),
        thresholds=thresholds,
    )
    held_out_scores = scorer._calibrate(oof)
    report = {
        "golden_rows": len(gold_labels),
        "golden_positives": int(gold_labels.sum()),
        "user_training_rows": len(labels) - len(gold_labels),
        "heldout": precision_recall(held_out_scores[golden] >= thresholds.warm, gold_labels),
        "keyword_rule": precision_recall(rule_hits[golden].astype(bool), gold_labels),
        "proba_cut": round(cut, 4),
    }
    return scorer, np.round(held_out_scores, 2), report
