"""The cache-hit audit: a small sample of a run's cache hits is asked of the live engine again,
and the decisions compared. An exact key covers the model's name and digest, the template and
every option, but not an engine whose behaviour changed behind them (a rebuilt server, another
batch make-up, a semantic hit that was wrong): the audit counts the changed decisions so a
warning check can say so.

llama.cpp's answer to one request can move with what else is in its batch, so one re-ask that
differs proves nothing: re-asks run one at a time (never beside another audit's), and a hit whose
first re-ask differs is asked a second time. It counts as `changed` only when both re-asks agree
with each other and not with the cache (the engine now answers otherwise, steadily); re-asks that
disagree with each other are `unstable` (the engine wavers on that request: no warning). So the
audit costs `sample` engine calls per stage and run, plus one per hit whose first re-ask differs
(each counted as an audit call, apart from the work's `llm_calls`)."""

import json
import random
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from leadflow.llm.client import LLMClient
from leadflow.llm.metrics import CallRecord
from leadflow.llm.types import LLMError

SCORE_BAND = 20  # integer fields compare by band of this width (the bucket width)
_ALONE = threading.Lock()  # one audit re-ask at a time in the process


def decision(value: Mapping[str, Any], schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """What an answer decides: its enum and boolean fields, and its integers by band of
    `SCORE_BAND`; free text (reasons, prose) is no decision."""
    properties = (schema or {}).get("properties") or {}
    out: dict[str, Any] = {}
    for name, spec in properties.items():
        if name not in value:
            continue
        if "enum" in spec or spec.get("type") == "boolean":
            out[name] = value[name]
        elif spec.get("type") == "integer" and isinstance(value[name], int):
            out[name] = value[name] // SCORE_BAND
    return out


@dataclass
class AuditResult:
    hits: int  # cache hits the stage had
    audited: int
    changed: int  # both re-asks agree with each other, not with the cache
    unstable: int  # the two re-asks disagree with each other: the engine wavers, no warning
    failed: int  # re-asks the engine could not answer
    examples: list[dict[str, Any]]

    def figures(self) -> dict[str, Any]:
        return {
            "hits": self.hits,
            "audited": self.audited,
            "changed": self.changed,
            "unstable": self.unstable,
            "failed": self.failed,
            "changed_rate": round(self.changed / self.audited, 4) if self.audited else None,
            "examples": self.examples,
        }


def _reask(client: LLMClient, record: CallRecord, schema: Mapping[str, Any] | None) -> dict[str, Any]:
    assert record.hit is not None
    with _ALONE:
        return decision(client.ask_again(record.role, record.hit, record.model), schema)


def audit_hits(client: LLMClient, records: Iterable[CallRecord], sample: int, seed: int | str = 0) -> AuditResult:
    """Re-ask `sample` of the structured-answer cache hits among `records` (chosen with `seed`),
    a second time where the first re-ask differs from the cache."""
    hits = [r for r in list(records) if r.cache_tier and r.hit is not None]
    picked = random.Random(seed).sample(hits, min(sample, len(hits)))
    changed = unstable = failed = 0
    examples: list[dict[str, Any]] = []
    for record in picked:
        assert record.hit is not None
        schema = client.prompts.get(record.hit.template_id).output_schema
        before = decision(json.loads(record.hit.value), schema)
        try:
            first = _reask(client, record, schema)
            second = first if first == before else _reask(client, record, schema)
        except LLMError:
            failed += 1
            continue
        if first == before:
            continue
        steady = second == first
        changed += steady
        unstable += not steady
        examples.append(
            {
                "verdict": "changed" if steady else "unstable",
                "template": record.template,
                "tier": record.cache_tier,
                "cached": before,
                "now": [first, second],
            }
        )
    return AuditResult(len(hits), len(picked) - failed, changed, unstable, failed, examples[:5])
