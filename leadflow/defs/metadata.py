"""Materialization metadata shared by the assets: LLM figures, per-partition row counts, previews,
progress logging."""

import threading
import time
from collections import Counter
from collections.abc import Mapping
from datetime import date

import dagster as dg
import pandas as pd

from leadflow.defs.partitions import partition_dates
from leadflow.ingest.emails import KIND as EMAIL_KIND
from leadflow.llm.metrics import MetricsRecorder

# Columns that quote an email (subject, body, a summary of it) and the words that stand in for them.
EMAIL_TEXT = {"title": "subject", "subject": "subject", "text": "body", "summary": "summary"}


# The LLM figures every LLM asset reports, the same keys on every materialization: a figure
# nothing measured (latency when every request was a cache hit) is null, not left out.
LLM_FIGURES = (
    "requests",
    "llm_calls",
    "cache_hits",
    "cache_hit_rate",
    "coalesced",
    "retries",
    "invalid_outputs",
    "invalid_rate",
    "repaired",
    "fallbacks",
    "truncated",
    "failed",
    "tokens_in",
    "tokens_in_cached",
    "tokens_out",
    "tokens_per_s",
    "latency_p50_s",
    "latency_p95_s",
    "latency_p99_s",
    "queue_wait_p95_s",
    "load_s",
)
# Rates and the count they divide by: with nothing to divide, the rate was not measured.
RATE_BASES = {"cache_hit_rate": "requests", "invalid_rate": "llm_calls"}


def figure(value: float | int | None) -> dg.MetadataValue:
    """A figure as metadata: null when nothing was measured."""
    if value is None:
        return dg.MetadataValue.null()
    return dg.MetadataValue.float(float(value)) if isinstance(value, float) else dg.MetadataValue.int(int(value))


def llm_metadata(summary: dict) -> dict[str, dg.MetadataValue]:
    """The LLM figures the UI plots per materialization (calls, hits per tier, p50/p95, tokens/s,
    model load time inside this asset's LLM work), under `LLM_FIGURES`' keys every time."""
    measured = {key: summary.get(key) for key in LLM_FIGURES}
    for rate, base in RATE_BASES.items():
        if not summary.get(base):
            measured[rate] = None
    loaded = summary.get("models_loaded") or []
    return {
        **{f"llm/{key}": figure(value) for key, value in measured.items()},
        "llm/models_loaded": dg.MetadataValue.text(
            ", ".join(loaded) if loaded else "none: no model was loaded during this asset's LLM work"
        ),
        "llm/cache_hits_by_tier": dg.MetadataValue.json(summary.get("cache_hits_by_tier", {})),
        "llm/models": dg.MetadataValue.text(", ".join(summary.get("models", [])) or "none"),
    }


def day_counts(frame: pd.DataFrame) -> dict[date, int]:
    """Rows per `partition_date` of a frame."""
    return dict(Counter(pd.to_datetime(frame["partition_date"]).dt.date))


def partition_rows(context: dg.AssetExecutionContext, counts: Mapping[date, int]) -> dict[str, dg.MetadataValue]:
    """`dagster/row_count` per partition, and the run's span. Dagster records metadata per
    partition of a range run, so each day's materialization gets its own row count; every other
    figure of a range run is the run's total, which the `run/` keys say."""
    days = partition_dates(context)
    if len(days) > 1:
        for day in days:
            context.add_asset_metadata({"dagster/row_count": counts.get(day, 0)}, partition_key=day.isoformat())
    total = sum(counts.values())
    return {
        "dagster/row_count": dg.MetadataValue.int(total),  # a range run's days each get their own above
        "run/row_count": dg.MetadataValue.int(total),
        "run/partitions": dg.MetadataValue.int(len(days)),
        "run/first_partition": dg.MetadataValue.text(days[0].isoformat()),
        "run/last_partition": dg.MetadataValue.text(days[-1].isoformat()),
        "run/scope": dg.MetadataValue.text(
            f"one partition ({days[0]})"
            if len(days) == 1
            else f"run totals over {len(days)} partitions ({days[0]}..{days[-1]}), except dagster/row_count"
        ),
    }


def hide_email_text(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with placeholders for the subject and text of its email rows (by `kind`, which a
    frame with such columns must carry); other rows, job postings among them, stay as they are."""
    quoting = [column for column in frame.columns if column in EMAIL_TEXT]
    if not quoting:
        return frame
    emails = frame["kind"] == EMAIL_KIND
    return frame.assign(
        **{
            column: frame[column].astype(object).mask(emails, f"[email {EMAIL_TEXT[column]} hidden]")
            for column in quoting
        }
    )


def preview(
    frame: pd.DataFrame, columns: list[str], rows: int = 10, *, redact_email_text: bool = True
) -> dg.MetadataValue:
    """A markdown table of a few rows of chosen columns; with `redact_email_text` (the
    `PipelineSettings` field of that name), email rows show no subject or text."""
    if frame.empty:
        return dg.MetadataValue.md("_no rows_")
    shown = frame.head(rows)
    if redact_email_text:
        shown = hide_email_text(shown)
    return dg.MetadataValue.md(shown[columns].to_markdown(index=False))


class Progress:
    """Logs `done/total` at most every `every_s` seconds, with the engine's pace: requests the
    recorder saw answered by a cache are counted apart, so the rate and the ETA are those of
    real inference (the ETA assumes the rest needs the engine)."""

    def __init__(self, log, label: str, total: int, recorder: MetricsRecorder, every_s: float = 5.0):
        self.log, self.label, self.recorder, self.every_s = log, label, recorder, every_s
        self._lock = threading.Lock()  # advanced from the LLM worker threads
        self._restart(total)

    def _restart(self, total: int) -> None:
        self.total, self.done = total, 0
        self.started = self.last = time.monotonic()
        self.served_before = self.recorder.served()

    def start(self, total: int) -> None:
        """Restart the clock for `total` items, when the count is known only once work begins."""
        with self._lock:
            self._restart(total)
        self.log.info(f"{self.label}: {total} to do")

    def advance(self, count: int = 1) -> None:
        with self._lock:
            self.done += count
            now = time.monotonic()
            if now - self.last < self.every_s and self.done != self.total:
                return
            self.last = now
            done = self.done
        cached, engine = (n - n0 for n, n0 in zip(self.recorder.served(), self.served_before, strict=True))
        rate = engine / max(now - self.started, 1e-9)
        left = self.total - done
        eta = "done" if left <= 0 else f"ETA {left / rate:.0f}s" if rate else "ETA n/a"
        self.log.info(
            f"{self.label}: {done}/{self.total} (from cache: {cached} requests; "
            f"engine: {engine} requests, {rate:.2f}/s; {eta})"
        )
