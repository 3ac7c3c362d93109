"""Which of a run's partitions each record of its sources belongs to, with counts that reconcile.

Every record read lands in exactly one of three places, per source: a signal of one of the run's
days, a quarantined record of one of the run's days, or `elsewhere` (a signal or a reject whose
day is outside the run: another run records it). So `read == signals + quarantined + elsewhere`
holds by construction, and what the run writes must match `signals` and `quarantined`: the
raw_signals asset stores the tallies and a blocking check compares them with the tables.

A reject is recorded once: in the partition of its own date when that date is plausible (so a
range backfill shows the rejects of its range), else in its source's import-date partition.
"""

import dataclasses
import datetime
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leadflow.ingest.records import Reason, Rejection, Signal, reason_code
from leadflow.ingest.sources import SourceSpec, read_source_safely

if TYPE_CHECKING:
    from leadflow.ingest.source_index import SourceIndex

EXCERPT_CHARS = 200


@dataclass
class SourceTally:
    """What one source gave this run: `read == signals + quarantined + elsewhere`. `read`
    counts every record the source holds, the `skipped` ones too: records the ingest index
    places outside the run (so in `elsewhere`), counted from the index, not parsed."""

    source: str
    read: int = 0
    signals: int = 0  # placed in one of the run's partitions
    quarantined: int = 0  # recorded in one of the run's partitions
    elsewhere: int = 0  # belongs to a partition outside the run
    skipped: int = 0  # of elsewhere: known from the ingest index, not parsed
    reasons: Counter[str] = field(default_factory=Counter)  # quarantined here, by reason code

    @property
    def reconciles(self) -> bool:
        return self.read == self.signals + self.quarantined + self.elsewhere

    def as_row(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "records_read": self.read,
            "signals": self.signals,
            "quarantined": self.quarantined,
            "elsewhere": self.elsewhere,
            "skipped": self.skipped,
            "reasons": dict(self.reasons),
        }


@dataclass
class Placement:
    signals: list[Signal] = field(default_factory=list)  # each in the partition of its signal_date
    rejects: list[tuple[datetime.date, Rejection]] = field(default_factory=list)  # (partition, reject)
    tallies: dict[str, SourceTally] = field(default_factory=dict)  # source name -> tally

    @property
    def records_read(self) -> int:
        return sum(t.read for t in self.tallies.values())


def _reject(record: Signal, reason: Reason, detail: str) -> Rejection:
    return Rejection(
        source=record.source,
        kind=record.kind,
        position=record.position,
        reason=f"{reason}: {detail}",
        excerpt=record.title[:EXCERPT_CHARS],
        record_date=record.signal_date,
    )


def placement_day(own: datetime.date | None, import_date: datetime.date, first_day: datetime.date) -> datetime.date:
    """The partition a record lands in, from its own date (a signal's date, a reject's record
    date): that day when it lies from `first_day` to the import date, else (no date, or a
    signal then rejected as out of range) the import date."""
    return own if own is not None and first_day <= own <= import_date else import_date


def place_records(
    sources: Iterable[tuple[SourceSpec, datetime.date]],
    base_dir: str | Path,
    wanted: set[datetime.date],
    first_day: datetime.date,
    on_record: Callable[[Placement], None] | None = None,
    index: "SourceIndex | None" = None,
) -> Placement:
    """Read every `(source, import_date)` (never raising: a failing source ends in a
    `source_error` reject) and place its records in the `wanted` days or count them elsewhere.
    Signals dated before `first_day` or after their import date are rejected as out of range;
    a signal id read twice in the run is rejected as a duplicate. `on_record` is called after
    each record (progress logs). With an `index`, records it places outside `wanted` are
    counted (`skipped`), not parsed."""
    placed = Placement()
    seen_ids: set[str] = set()
    for spec, import_date in sources:
        tally = placed.tallies.setdefault(spec.name, SourceTally(spec.name))
        indexed = None if index is None else index.read(spec, import_date, base_dir, wanted, first_day)

        def keep(day: datetime.date, reject: Rejection, tally: SourceTally = tally) -> None:
            if day in wanted:
                placed.rejects.append((day, reject))
                tally.quarantined += 1
                tally.reasons[reason_code(reject.reason)] += 1
            else:
                tally.elsewhere += 1

        for record in read_source_safely(spec, import_date, base_dir, None if indexed is None else indexed.records):
            tally.read += 1
            if isinstance(record, Rejection):
                keep(placement_day(record.record_date, import_date, first_day), record)
            elif not first_day <= record.signal_date <= import_date:
                detail = f"{record.signal_date} is outside {first_day}..{import_date}"
                keep(import_date, _reject(record, Reason.DATE_OUT_OF_RANGE, detail))
            elif record.signal_date not in wanted:
                tally.elsewhere += 1
            elif record.signal_id in seen_ids:
                keep(
                    record.signal_date,
                    _reject(record, Reason.DUPLICATE_SIGNAL_ID, f"{record.signal_id} already read in this run"),
                )
            else:
                seen_ids.add(record.signal_id)
                placed.signals.append(record)
                tally.signals += 1
            if on_record is not None:
                on_record(placed)
        if indexed is not None:
            tally.skipped += indexed.skipped
            tally.read += indexed.skipped
            tally.elsewhere += indexed.skipped
    return placed


def reject_row(day: datetime.date, reject: Rejection) -> dict[str, Any]:
    """A quarantined_signals row (without run_id) of a placed reject."""
    return {**dataclasses.asdict(reject), "partition_date": day}


@dataclass
class Coverage:
    """What one streaming parse of a source found before any run: its signals per partition day,
    placed as `place_records` places them, and how many records it would quarantine."""

    source: str
    days: Counter[datetime.date] = field(default_factory=Counter)  # day -> signals
    quarantined: int = 0

    @property
    def signals(self) -> int:
        return sum(self.days.values())


def covered_days(
    spec: SourceSpec, import_date: datetime.date, base_dir: str | Path, first_day: datetime.date
) -> Coverage:
    """The partitions `spec`'s signals land in (dated `first_day..import_date`; a signal dated
    outside is quarantined, as `place_records` does), by one streaming parse that never raises."""
    coverage = Coverage(spec.name)
    for record in read_source_safely(spec, import_date, base_dir):
        if isinstance(record, Signal) and first_day <= record.signal_date <= import_date:
            coverage.days[record.signal_date] += 1
        else:
            coverage.quarantined += 1
    return coverage
