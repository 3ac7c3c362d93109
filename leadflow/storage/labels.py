"""A user's judgment of a lead ("good" or "bad"), stored in the warehouse's `labels` table.

History is kept: every label given is a row (who, when, from where: the CLI, a file, the lead
browser), and the **latest** row of a signal (highest `seq`) is its label; the earlier ones say
how it changed. A label equal to the signal's current one (same label, author and note) is not
written again, so re-importing a labels file changes nothing. A label names a signal that was
read (`raw_signals`); one that names no such signal is refused, never stored.

Readers (the scoring head's retraining, `leadflow label --suggest`, the lead browser) call
`current_labels`; a warehouse without the table has no labels.
"""

import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pandas as pd

from leadflow.storage.schema import table
from leadflow.storage.warehouse import ensure_schema, transaction

LABELS = ("good", "bad")
SOURCES = ("cli", "file", "browser")
TABLE = "labels"
COLUMNS = table(TABLE).written
JUDGMENT = ("label", "labeled_by", "note")

CURRENT_SQL = f"""
SELECT {", ".join(COLUMNS)} FROM {TABLE}
QUALIFY row_number() OVER (PARTITION BY signal_id ORDER BY seq DESC) = 1
"""


class LabelError(ValueError):
    """A label that cannot be stored: its value, its source or its signal is wrong."""


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)  # stored as UTC


@dataclass(frozen=True)
class Label:
    signal_id: str
    label: str  # good | bad
    source: str  # cli | file | browser
    labeled_by: str = ""
    note: str = ""
    labeled_at: datetime.datetime = field(default_factory=_now)  # UTC, naive

    def __post_init__(self) -> None:
        if not self.signal_id.strip():
            raise LabelError("a label needs a signal_id")
        if self.label not in LABELS:
            raise LabelError(f"label must be one of {'|'.join(LABELS)}, not {self.label!r}")
        if self.source not in SOURCES:
            raise LabelError(f"source must be one of {'|'.join(SOURCES)}, not {self.source!r}")

    def row(self) -> dict[str, object]:
        return {
            "signal_id": self.signal_id,
            "label": self.label,
            "labeled_by": self.labeled_by or None,
            "labeled_at": self.labeled_at,
            "source": self.source,
            "note": self.note or None,
        }


@dataclass(frozen=True)
class LabelWrite:
    written: int  # rows added
    unchanged: int  # labels equal to the signal's current one, not written again


def _has_table(conn: duckdb.DuckDBPyConnection, name: str) -> bool:
    query = "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() AND table_name = ?"
    row = conn.execute(query, [name]).fetchone()
    return bool(row and row[0])


def _judgment(row: Mapping[Any, Any]) -> tuple[object, ...]:
    """What makes two labels of a signal the same: the label, its author and its note."""
    return tuple(None if pd.isna(row[name]) else row[name] for name in JUDGMENT)


def unknown_signals(conn: duckdb.DuckDBPyConnection, signal_ids: Iterable[str]) -> set[str]:
    """The ids among `signal_ids` that no partition of raw_signals holds."""
    wanted = sorted(set(signal_ids))
    if not wanted:
        return set()
    if not _has_table(conn, "raw_signals"):
        return set(wanted)
    known = conn.execute("SELECT DISTINCT signal_id FROM raw_signals WHERE signal_id = ANY(?)", [wanted]).fetchall()
    return set(wanted) - {signal_id for (signal_id,) in known}


def write_labels(conn: duckdb.DuckDBPyConnection, labels: Sequence[Label]) -> LabelWrite:
    """Store `labels` in one transaction, in order; all are refused if one names an unknown signal."""
    unknown = unknown_signals(conn, (label.signal_id for label in labels))
    if unknown:
        raise LabelError(f"no signal with id {', '.join(sorted(unknown))}")
    ensure_schema(conn)
    current = {str(row["signal_id"]): _judgment(row) for row in current_labels(conn).to_dict("records")}
    written = 0
    with transaction(conn):
        for label in labels:
            row = label.row()
            if current.get(label.signal_id) == _judgment(row):
                continue
            conn.execute(
                f"INSERT INTO {TABLE} ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})", list(row.values())
            )
            current[label.signal_id] = _judgment(row)  # a later row of the same signal compares to this one
            written += 1
    return LabelWrite(written=written, unchanged=len(labels) - written)


def current_labels(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Each labelled signal's latest label (COLUMNS); none when the warehouse has no labels yet."""
    if not _has_table(conn, TABLE):
        return pd.DataFrame(columns=COLUMNS)
    return conn.execute(f"{CURRENT_SQL} ORDER BY signal_id").df()


def label_history(conn: duckdb.DuckDBPyConnection, signal_id: str | None = None) -> pd.DataFrame:
    """Every label given (of one signal, or of all), oldest first."""
    if not _has_table(conn, TABLE):
        return pd.DataFrame(columns=COLUMNS)
    where, params = ("WHERE signal_id = ?", [signal_id]) if signal_id is not None else ("", [])
    return conn.execute(f"SELECT {', '.join(COLUMNS)} FROM {TABLE} {where} ORDER BY seq", params).df()
