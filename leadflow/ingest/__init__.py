"""Dagster-free ingestion: read raw signal files into `Signal`s, quarantining bad records as `Rejection`s."""

from leadflow.ingest.records import Rejection, Signal
from leadflow.ingest.sources import SourceConfigError, SourceSpec, load_sources, read_source

__all__ = ["Rejection", "Signal", "SourceConfigError", "SourceSpec", "load_sources", "read_source"]
