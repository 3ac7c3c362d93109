"""The email golden check's figures: held-out precision / recall / F1 / AUC of every trained type
by nested cross-validation (`evaluation.heldout_report`), recorded per run in
`golden_evaluations` (kind "email") so the check can compare a run with the published one.

Deterministic for a given golden set, embedding model and code, so it is computed once per
process and key (a daily run pays for it once; a backfill is one run).
"""

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leadflow.analysis.evaluation import heldout_report
from leadflow.analysis.features import FeatureSpace, email_vectors
from leadflow.analysis.golden import GOLDEN_LABELS, GOLDEN_MBOX, load_email_golden
from leadflow.ingest.emails import KIND as EMAIL_KIND
from leadflow.llm.client import LLMClient

GATED_TYPE = "employment"  # the lead-bearing type the check blocks on (per-type figures all recorded)


@dataclass(frozen=True)
class EmailGoldenReport:
    model: str  # the embedding model the heads read
    rows: int
    figures: dict[str, dict[str, float]]  # type -> mean held-out precision/recall/f1/auc

    def evaluation_row(self) -> dict[str, Any]:
        """A `golden_evaluations` row (without run_id): the gated type's figures in the columns."""
        gated = self.figures[GATED_TYPE]
        return {
            "kind": EMAIL_KIND,
            "model": self.model,
            "prompt_version": None,  # the typing reads no prompt
            "golden_rows": self.rows,
            "precision": gated["precision"],
            "recall": gated["recall"],
            "f1": gated["f1"],
            "report": json.dumps(self.figures),
        }


def golden_report(client: LLMClient, mbox: Path = GOLDEN_MBOX, labels: Path = GOLDEN_LABELS) -> EmailGoldenReport:
    golden = load_email_golden(mbox, labels)
    space = FeatureSpace.build(client)
    features = space.matrix(golden.mails, email_vectors(client, golden.mails))
    report = heldout_report(features, golden, space)
    model = client.model_chain("embed")[0]
    return EmailGoldenReport(model, len(golden.mails), {key: value["mean"] for key, value in report.items()})


_REPORTS: dict[tuple[str, str, str, str, float], EmailGoldenReport] = {}
_LOCK = threading.Lock()


def shared_golden_report(
    client: LLMClient, mbox: Path = GOLDEN_MBOX, labels: Path = GOLDEN_LABELS
) -> EmailGoldenReport:
    """`golden_report`, once per process, embedding model and golden files (their labels' mtime)."""
    model = client.model_chain("embed")[0]
    key = (model, client.model_digest("embed", model), str(mbox), str(labels), labels.stat().st_mtime)
    with _LOCK:
        if key not in _REPORTS:
            _REPORTS[key] = golden_report(client, mbox, labels)
        return _REPORTS[key]
