"""Cheap email typing: a probability in 0..1 for every type of the taxonomy, from the trained
heads (six types) and the stated rules (buying intent, spam). No LLM call: two embeddings per
email (one a cache hit after signal_embeddings) and a few matrix products.
"""

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from leadflow.analysis.features import FeatureSpace, email_vectors
from leadflow.analysis.golden import GOLDEN_LABELS, GOLDEN_MBOX, EmailGolden, load_email_golden
from leadflow.analysis.heads import TypeHead, fit_head
from leadflow.analysis.mail import Mail
from leadflow.analysis.rules import RULE_DECISION, rule_probability
from leadflow.analysis.taxonomy import TRAINED_TYPES, TYPES
from leadflow.llm.client import LLMClient

TypeScores = dict[str, float]  # type key -> probability, every type of the taxonomy
# A head must be right at least as often as wrong out of fold (F1 0.5) before its decisions make
# leads: a weaker one (deal / partnership on the bundled golden set, about 0.28) fires mostly on
# mail that is not of its type, and a rep would read it as a lead.
MIN_LEAD_F1 = 0.5


@dataclass(frozen=True)
class EmailTyper:
    space: FeatureSpace
    heads: dict[str, TypeHead]  # trained type key -> head

    @property
    def thresholds(self) -> dict[str, float]:
        """The probability from which each type is decided (heads: their CV-chosen cut)."""
        return {t.key: self.heads[t.key].threshold if t.trained else RULE_DECISION for t in TYPES}

    @property
    def lead_cuts(self) -> dict[str, float]:
        """`thresholds` less the trained types whose head decides too poorly to make a lead on
        its own (out-of-fold F1 below `MIN_LEAD_F1` on the rows it was fitted on): their
        probability stays in the analysis, but `leadflow.scoring.email_leads` scores only the
        lead types present here."""
        return {
            key: cut
            for key, cut in self.thresholds.items()
            if key not in self.heads or self.heads[key].inner_f1 >= MIN_LEAD_F1
        }

    def type_scores(self, mails: Sequence[Mail], vectors: np.ndarray) -> list[TypeScores]:
        """Per mail, every type's probability; `vectors` from `email_vectors`."""
        if not mails:
            return []
        features = self.space.matrix(mails, vectors)
        trained = {key: head.proba(features) for key, head in self.heads.items()}
        return [
            {t.key: round(float(trained[t.key][i]), 4) if t.trained else rule_probability(t, mail) for t in TYPES}
            for i, mail in enumerate(mails)
        ]

    def decided(self, scores: TypeScores) -> list[str]:
        """The types an email is taken to be, most probable first."""
        cuts = self.thresholds
        return sorted((k for k, p in scores.items() if p >= cuts[k]), key=lambda k: -scores[k])


def fit_typer(client: LLMClient, golden: EmailGolden | None = None) -> EmailTyper:
    """Heads fitted on the golden set (the bundled one by default), embedded with `client`."""
    golden = golden or load_email_golden()
    space = FeatureSpace.build(client)
    features = space.matrix(golden.mails, email_vectors(client, golden.mails))
    heads = {
        t.key: fit_head(features, golden.labels(t.key), space.own_columns(t.key), space.text_columns())
        for t in TRAINED_TYPES
    }
    return EmailTyper(space, heads)


_TYPERS: dict[tuple[str, str, str, str, float], EmailTyper] = {}
_LOCK = threading.Lock()


def shared_typer(client: LLMClient, mbox: Path = GOLDEN_MBOX, labels: Path = GOLDEN_LABELS) -> EmailTyper:
    """One typer per process, embedding model (name and digest) and golden set (its labels'
    mtime): fitted on first use."""
    model = client.model_chain("embed")[0]
    key = (model, client.model_digest("embed", model), str(mbox), str(labels), labels.stat().st_mtime)
    with _LOCK:
        if key not in _TYPERS:
            _TYPERS[key] = fit_typer(client, load_email_golden(mbox, labels))
        return _TYPERS[key]
