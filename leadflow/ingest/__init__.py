"""Dagster-free ingestion: read raw signal files into `Signal`s, quarantining bad records as `Rejection`s."""

from leadflow.ingest.records import Reason, Rejection, Signal
from leadflow.ingest.sources import (
    SourceConfigError,
    SourceCounts,
    SourceSpec,
    load_sources,
    read_source,
    read_source_safely,
)

__all__ = [
    "Reason",
    "Rejection",
    "Signal",
    "SourceConfigError",
    "SourceCounts",
    "SourceSpec",
    "load_sources",
    "read_source",
    "read_source_safely",
]
