"""A file of labels (`leadflow label --file labels.csv`): one lead judged per row.

Columns (a header row, names in any case and order; other columns are ignored):

- `signal_id` (required): the lead's signal id, as in the `leads` view and the exports;
- `label` (required): `good` or `bad` (any case);
- `labeled_by`: who judged it (default: the command's `--by`);
- `labeled_at`: when, ISO 8601 (`2026-11-25` or `2026-11-25T14:03:00+01:00`; stored as UTC,
  a time without an offset taken as UTC; default: now);
- `note`: free text.

A row that cannot be a label is rejected with its line number and the reason, never dropped
silently; the rows before and after it are read.
"""

import csv
import datetime
from dataclasses import dataclass
from pathlib import Path

from leadflow.storage.labels import Label, LabelError

REQUIRED = ("signal_id", "label")
OPTIONAL = ("labeled_by", "labeled_at", "note")


@dataclass(frozen=True)
class Reject:
    line: int  # in the file, the header being line 1
    signal_id: str
    reason: str


@dataclass(frozen=True)
class LabelFile:
    labels: list[tuple[int, Label]]  # (line, label), in file order
    rejects: list[Reject]


class LabelFileError(ValueError):
    """The file as a whole cannot be read as labels (no such file, no header, a required column missing)."""


def _timestamp(raw: str) -> datetime.datetime:
    value = datetime.datetime.fromisoformat(raw)  # a date alone is its midnight
    if value.tzinfo is not None:
        value = value.astimezone(datetime.UTC).replace(tzinfo=None)
    return value


def read_label_file(path: Path, labeled_by: str) -> LabelFile:
    """The labels of a CSV file and the rows rejected, with reasons."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise LabelFileError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        reader = csv.DictReader(handle)
        header = {name.strip().lower(): name for name in reader.fieldnames or () if name}
        missing = [name for name in REQUIRED if name not in header]
        if missing:
            raise LabelFileError(
                f"{path}: the header has no {', '.join(missing)} column (columns: {', '.join(REQUIRED + OPTIONAL)})"
            )
        labels: list[tuple[int, Label]] = []
        rejects: list[Reject] = []
        for row in reader:
            line = reader.line_num
            cell = {name: (row.get(header[name]) or "").strip() for name in REQUIRED + OPTIONAL if name in header}
            signal_id = cell["signal_id"]
            if None in row:  # more cells than the header names
                rejects.append(Reject(line, signal_id, f"{len(row[None])} cell(s) more than the header has"))
                continue
            try:
                at = cell.get("labeled_at")
                labels.append(
                    (
                        line,
                        Label(
                            signal_id=signal_id,
                            label=cell["label"].lower(),
                            source="file",
                            labeled_by=cell.get("labeled_by") or labeled_by,
                            note=cell.get("note", ""),
                            **({"labeled_at": _timestamp(at)} if at else {}),
                        ),
                    )
                )
            except LabelError as exc:
                rejects.append(Reject(line, signal_id, str(exc)))
            except ValueError:
                rejects.append(
                    Reject(line, signal_id, f"labeled_at {cell.get('labeled_at')!r} is not an ISO 8601 date")
                )
    return LabelFile(labels, rejects)
