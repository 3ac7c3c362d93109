"""Materialization metadata shared by the assets: LLM figures, previews, progress logging."""

import threading
import time

import dagster as dg
import pandas as pd

from leadflow.ingest.emails import KIND as EMAIL_KIND

# Columns that quote an email (subject, body, a summary of it) and the words that stand in for them.
EMAIL_TEXT = {"title": "subject", "subject": "subject", "text": "body", "summary": "summary"}


def llm_metadata(summary: dict) -> dict[str, dg.MetadataValue]:
    """The LLM figures the UI plots per materialization (calls, hits per tier, p50/p95, tokens/s)."""
    keys = (
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
    meta: dict[str, dg.MetadataValue] = {}
    for key in keys:
        value = summary.get(key)
        if value is None:
            continue
        meta[f"llm/{key}"] = (
            dg.MetadataValue.float(float(value)) if isinstance(value, float) else dg.MetadataValue.int(int(value))
        )
    meta["llm/cache_hits_by_tier"] = dg.MetadataValue.json(summary.get("cache_hits_by_tier", {}))
    meta["llm/models"] = dg.MetadataValue.text(", ".join(summary.get("models", [])) or "none")
    return meta


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
    """Logs `done/total`, rate and ETA at most every `every_s` seconds."""

    def __init__(self, log, label: str, total: int, every_s: float = 5.0):
        self.log, self.label, self.total, self.every_s = log, label, total, every_s
        self.started = self.last = time.monotonic()
        self.done = 0
        self._lock = threading.Lock()  # advanced from the LLM worker threads

    def start(self, total: int) -> None:
        """Restart the clock for `total` items, when the count is known only once work begins."""
        with self._lock:
            self.total, self.done = total, 0
            self.started = self.last = time.monotonic()
        self.log.info(f"{self.label}: {total} to do")

    def advance(self, count: int = 1) -> None:
        with self._lock:
            self.done += count
            now = time.monotonic()
            if now - self.last < self.every_s and self.done != self.total:
                return
            self.last = now
            done = self.done
        rate = done / max(now - self.started, 1e-9)
        eta = (self.total - done) / rate if rate else float("inf")
        self.log.info(f"{self.label}: {done}/{self.total} ({rate:.2f}/s, ETA {eta:.0f}s)")
