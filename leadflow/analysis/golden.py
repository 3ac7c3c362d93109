"""The labelled email golden set: the bundled Berkeley-annotated Enron mbox, read through the
pipeline's own mbox parser so the heads train on the text production sees.

Messages the parser quarantines (today: forwarded-only bodies, oversize mail) are not in the
set, and are counted in `quarantined` so reports can say how much of the 600 they cover.
"""

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from leadflow.analysis.mail import Mail
from leadflow.analysis.taxonomy import TYPE_BY_KEY
from leadflow.ingest.emails import parse_mbox
from leadflow.ingest.records import Signal
from leadflow.paths import RESOURCES_DIR

GOLDEN_MBOX = RESOURCES_DIR / "golden" / "enron_600.mbox"
GOLDEN_LABELS = RESOURCES_DIR / "golden" / "enron_600_labels.jsonl"
SOURCE = "email_golden"


@dataclass(frozen=True)
class EmailGolden:
    mails: tuple[Mail, ...]
    message_ids: tuple[str, ...]
    codes: tuple[frozenset[str], ...]  # Berkeley category codes per mail
    labelled: int  # rows in the labels file
    quarantined: dict[str, int]  # parser rejections by reason code

    def labels(self, type_key: str) -> np.ndarray:
        """1 where the mail carries one of the type's Berkeley codes."""
        codes = TYPE_BY_KEY[type_key].codes
        if not codes:
            raise ValueError(f"type {type_key!r} is rule-decided: the golden set has no label for it")
        return np.array([bool(codes & c) for c in self.codes], dtype=int)


def load_email_golden(mbox: Path = GOLDEN_MBOX, labels: Path = GOLDEN_LABELS) -> EmailGolden:
    rows = [json.loads(line) for line in labels.read_text().splitlines() if line.strip()]
    by_id = {row["message_id"]: row for row in rows}
    mails, ids, codes = [], [], []
    quarantined: Counter[str] = Counter()
    for record in parse_mbox(mbox, source=SOURCE, label=mbox.name):
        if not isinstance(record, Signal):
            quarantined[record.reason.split(":", 1)[0]] += 1
            continue
        row = by_id.get(record.external_id)
        if row is None:
            raise ValueError(f"{labels}: no label for message {record.position}")
        mails.append(Mail.from_signal(record))
        ids.append(record.external_id)
        codes.append(frozenset(row["categories"]))
    return EmailGolden(tuple(mails), tuple(ids), tuple(codes), len(by_id), dict(quarantined))
