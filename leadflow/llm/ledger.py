"""The token and cost ledger: per stage of a run, what the engines really spent, what the cache
hits replayed (the tokens their answers cost when they were generated: saved, never added to what
was spent, unlike gateways that replay counts into their totals), and what a hosted model would
have charged for both at the price list (`resources/prices.yaml`)."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from leadflow.llm.metrics import CallRecord

MTOK = 1_000_000


@dataclass(frozen=True)
class Price:
    """A hosted model's list price for one role, per million tokens."""

    hosted_model: str
    input_per_mtok: float
    output_per_mtok: float

    def cost(self, tokens_in: int, tokens_out: int) -> float:
        return (tokens_in * self.input_per_mtok + tokens_out * self.output_per_mtok) / MTOK


@dataclass(frozen=True)
class PriceList:
    currency: str
    by_role: dict[str, Price]

    def cost(self, role: str, tokens_in: int, tokens_out: int) -> float | None:
        """None for a role the list does not price (nothing is made up)."""
        price = self.by_role.get(role)
        return None if price is None else price.cost(tokens_in, tokens_out)


def load_price_list(path: Path) -> PriceList:
    raw = yaml.safe_load(Path(path).read_text()) or {}
    try:
        by_role = {role: Price(**spec) for role, spec in (raw.get("roles") or {}).items()}
    except TypeError as exc:
        raise ValueError(f"{path}: each role needs hosted_model, input_per_mtok, output_per_mtok ({exc})") from None
    if not by_role:
        raise ValueError(f"{path}: no role is priced")
    return PriceList(str(raw.get("currency", "USD")), by_role)


def _engine(record: CallRecord) -> bool:
    return record.cache_tier is None and not record.coalesced


def usage_rows(records: Iterable[CallRecord], prices: PriceList) -> list[dict[str, Any]]:
    """One ledger row per (role, model): requests, engine calls and tokens, cache hits and the
    tokens they replayed, and the hosted cost of each. The `llm_usage` columns after its keys."""
    groups: dict[tuple[str, str], list[CallRecord]] = {}
    for record in records:
        groups.setdefault((record.role, record.model), []).append(record)
    rows = []
    for (role, model), group in sorted(groups.items()):
        engine = [r for r in group if _engine(r)]
        hits = [r for r in group if r.cache_tier]
        tokens_in = sum(r.prompt_tokens for r in engine)
        tokens_out = sum(r.completion_tokens for r in engine)
        replayed_in = sum(r.replayed_prompt_tokens for r in hits)
        replayed_out = sum(r.replayed_completion_tokens for r in hits)
        rows.append(
            {
                "role": role,
                "model": model,
                "requests": len(group),
                "engine_calls": sum(r.engine_calls for r in group),
                "cache_hits": len(hits),
                "tokens_in": tokens_in,
                "tokens_in_cached": sum(r.cached_prompt_tokens for r in engine),
                "tokens_out": tokens_out,
                "replayed_in": replayed_in,
                "replayed_out": replayed_out,
                "hosted_model": prices.by_role[role].hosted_model if role in prices.by_role else None,
                "hosted_cost": prices.cost(role, tokens_in, tokens_out),
                "replayed_cost": prices.cost(role, replayed_in, replayed_out),
            }
        )
    return rows


def partition_of(served: Iterable[tuple[str, CallRecord | None]]) -> Mapping[int, str]:
    """The partition each call served, by `id` of its record, from (partition, record) pairs (one
    per signal a stage answered): only records that served the signals of a single partition."""
    days: dict[int, set[str]] = {}
    for day, record in served:
        if record is not None:
            days.setdefault(id(record), set()).add(day)
    return {key: found.pop() for key, found in days.items() if len(found) == 1}


def partition_usage_rows(
    records: Iterable[CallRecord], prices: PriceList, days: Mapping[int, str], span: str
) -> list[dict[str, Any]]:
    """`usage_rows` per partition (a `partitions` key first): a call attributed to one day
    (`days`, from `partition_of`) counts in that day's rows, every other one (a call serving
    several days, the golden set, an audit re-ask, a batch of embeddings) in the run's `span`.
    Each record is in exactly one row, so the rows sum to the stage's totals."""
    groups: dict[str, list[CallRecord]] = {}
    for record in records:
        groups.setdefault(days.get(id(record), span), []).append(record)
    return [
        {"partitions": label, **row} for label, group in sorted(groups.items()) for row in usage_rows(group, prices)
    ]


def totals(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The sums of ledger rows (costs None when no row was priced)."""
    rows = list(rows)
    out: dict[str, Any] = {
        key: sum(int(r[key]) for r in rows)
        for key in ("requests", "engine_calls", "cache_hits", "tokens_in", "tokens_out", "replayed_in", "replayed_out")
    }
    for key in ("hosted_cost", "replayed_cost"):
        priced = [float(r[key]) for r in rows if r[key] is not None]
        out[key] = round(sum(priced), 6) if priced else None
    return out
