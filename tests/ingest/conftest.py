"""Shared paths and helpers for the ingestion tests."""

import datetime
from collections.abc import Iterable
from pathlib import Path

import pytest

from leadflow.ingest import Rejection, Signal
from leadflow.paths import RESOURCES_DIR

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SAMPLES = RESOURCES_DIR / "samples"
IMPORT_DATE = datetime.date(2024, 5, 1)


def split(records: Iterable[Signal | Rejection]) -> tuple[list[Signal], list[Rejection]]:
    """Signals and Rejections apart, failing on anything else a parser might yield."""
    signals: list[Signal] = []
    rejections: list[Rejection] = []
    for record in records:
        if isinstance(record, Signal):
            signals.append(record)
        elif isinstance(record, Rejection):
            rejections.append(record)
        else:
            pytest.fail(f"parser yielded a {type(record).__name__}")
    return signals, rejections


def only_signals(records: Iterable[Signal | Rejection]) -> list[Signal]:
    """Records that must all be signals: fails, with the reasons, if any was quarantined."""
    signals, rejections = split(records)
    assert not rejections, reasons(rejections)
    return signals


def reasons(rejections: Iterable[Rejection]) -> dict[str, str]:
    """position -> reason code (the part before the colon)."""
    return {r.position: r.reason.partition(":")[0] for r in rejections}
