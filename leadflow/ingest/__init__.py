"""Dagster-free ingestion: read raw signal files into `Signal`s, quarantining bad records as `Rejection`s."""

from leadflow.ingest.records import Rejection, Signal
from leadflow.ingest.sources import SourceSpec, load_sources, read_source

__all__ = ["Rejection", "Signal", "SourceSpec", "load_sources", "read_source"]
