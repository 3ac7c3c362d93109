"""The token ledger, the run budget, the semantic cache and the cache-hit audit on the real small
model (embedded engine) with the bundled classification template: one client and cache for the
module, so each engine answer is paid once (about six in all, with the audit's re-asks)."""

import dataclasses
import json

import numpy as np
import pytest

from leadflow.llm.backends.embedded import EmbeddedBackend
from leadflow.llm.budget import BudgetExhausted, TokenBudget
from leadflow.llm.cache import MemoryLRUTier, TieredCache
from leadflow.llm.cache_audit import audit_hits, decision
from leadflow.llm.catalog import load_catalog
from leadflow.llm.client import ClientSettings, LLMClient
from leadflow.llm.ledger import load_price_list, partition_of, partition_usage_rows, totals, usage_rows
from leadflow.llm.metrics import CallRecord, HitSource
from leadflow.llm.pool import EndpointPool
from leadflow.llm.prompts import PromptLibrary
from leadflow.llm.semantic_cache import Similar
from leadflow.llm.types import Cancellation, ChatRequest, ChatResponse, Timeouts
from leadflow.paths import PROMPTS_DIR, RESOURCES_DIR
from leadflow.scoring.prefilter import SIGNAL_VARIABLES, TEMPLATE

ROLE = "prefilter"
ICP = "- B2B software companies growing their marketing teams"


def signal(title: str, kind: str = "job_posting") -> dict[str, str]:
    return {"icp_context": ICP, "signal_kind": kind, "signal_title": title, "signal_text": f"{title}. Join our team."}


@pytest.fixture(scope="module")
def client(embedded, chat_engine, embed_engine) -> LLMClient:
    cache = TieredCache([MemoryLRUTier(8 * 1024 * 1024)], {})
    pools = {ROLE: EndpointPool([embedded], 1), "embed": EndpointPool([embedded], 1)}
    settings = ClientSettings(semantic_threshold=0.92)
    return LLMClient(load_catalog(RESOURCES_DIR / "models.yaml"), PromptLibrary(PROMPTS_DIR), pools, cache, settings)


def test_a_hit_replays_its_answers_tokens_apart_from_what_the_engine_spent(client):
    with client.metrics.track() as recorder:
        miss = client.complete_json(ROLE, TEMPLATE, signal("Marketing Manager"))
        hit = client.complete_json(ROLE, TEMPLATE, signal("Marketing Manager"))
    assert miss.record is not None and hit.record is not None and hit.cache_tier == "memory"
    spent_in, spent_out = miss.record.prompt_tokens, miss.record.completion_tokens
    assert spent_in > 0 and spent_out > 0
    assert (hit.record.replayed_prompt_tokens, hit.record.replayed_completion_tokens) == (spent_in, spent_out)
    summary = recorder.summary()
    assert (summary["tokens_in"], summary["tokens_out"]) == (spent_in, spent_out)  # never double-counted
    assert (summary["tokens_replayed_in"], summary["tokens_replayed_out"]) == (spent_in, spent_out)
    prices = load_price_list(RESOURCES_DIR / "prices.yaml")
    (row,) = usage_rows(recorder.records, prices)
    assert (row["requests"], row["engine_calls"], row["cache_hits"]) == (2, 1, 1)
    price = prices.by_role[ROLE]
    expected = (spent_in * price.input_per_mtok + spent_out * price.output_per_mtok) / 1e6
    assert row["hosted_cost"] == pytest.approx(expected) and row["replayed_cost"] == pytest.approx(expected)
    assert totals([row, row])["tokens_in"] == 2 * spent_in


def test_a_range_runs_calls_are_ledgered_per_day_where_they_served_one_day():
    prices = load_price_list(RESOURCES_DIR / "prices.yaml")
    monday, tuesday, both, golden = (
        CallRecord(ROLE, TEMPLATE, "m", prompt_tokens=n, completion_tokens=1, engine_calls=1) for n in (10, 20, 30, 40)
    )
    served = [("2026-11-23", monday), ("2026-11-24", tuesday), ("2026-11-23", both), ("2026-11-24", both)]
    days = partition_of([*served, ("2026-11-24", None)])  # a signal no call served
    rows = partition_usage_rows([monday, tuesday, both, golden], prices, days, "2026-11-23..2026-11-24")
    # One answer shared by both days (deduplicated content) and the golden set's call: the span.
    assert [(r["partitions"], r["requests"], r["tokens_in"]) for r in rows] == [
        ("2026-11-23", 1, 10),
        ("2026-11-23..2026-11-24", 2, 70),
        ("2026-11-24", 1, 20),
    ]
    assert totals(rows) == totals(usage_rows([monday, tuesday, both, golden], prices))  # never double-counted


def test_the_audit_re_asks_hits_and_counts_changed_decisions(client):
    client.complete_json(ROLE, TEMPLATE, signal("Marketing Manager"))  # cached by the test above
    with client.metrics.track() as recorder:
        hit = client.complete_json(ROLE, TEMPLATE, signal("Marketing Manager"))
        same = audit_hits(client, recorder.records, sample=5)
    assert hit.cache_tier == "memory" and (same.hits, same.audited, same.changed) == (1, 1, 0)
    assert recorder.summary()["audit_calls"] == 1
    # A cached answer the engine would no longer give (a model changed behind the same digest).
    assert hit.record is not None and hit.record.hit is not None
    stale = {**hit.value, "hiring": not hit.value["hiring"], "score": (hit.value["score"] + 50) % 100}
    poisoned = stale_hit(hit.record, stale)
    with client.metrics.track() as recorder:
        changed = audit_hits(client, [poisoned], sample=5)
    assert (changed.audited, changed.changed, changed.unstable) == (1, 1, 0)
    assert recorder.summary()["audit_calls"] == 2  # the first re-ask differed: confirmed by a second
    (example,) = changed.examples
    assert example["verdict"] == "changed" and example["now"][0] == example["now"][1]
    assert example["cached"]["hiring"] != example["now"][0]["hiring"]


def stale_hit(record: CallRecord | None, stale: dict) -> CallRecord:
    """A cache hit of `record`'s request whose cached answer is `stale`."""
    assert record is not None and record.hit is not None
    poisoned = CallRecord(ROLE, record.template, record.model, cache_tier="memory")
    poisoned.hit = HitSource(TEMPLATE, record.hit.variables, json.dumps(stale).encode())
    return poisoned


class Wavering(EmbeddedBackend):
    """A fault: an engine whose answer to one request moves from call to call (as llama.cpp's can
    with batch make-up). Every second request is answered, by the real model, as if it were
    `other`'s."""

    def __init__(self, base: EmbeddedBackend, other: tuple[dict[str, str], ...]) -> None:
        super().__init__(base.catalog, base.model_dir, base.n_parallel, base.threads)  # the same loaded engine
        self.other, self.calls = other, 0

    def chat(self, request: ChatRequest, timeouts: Timeouts, cancel: Cancellation | None = None) -> ChatResponse:
        self.calls += 1
        wavered = dataclasses.replace(request, messages=self.other) if self.calls % 2 == 0 else request
        return super().chat(wavered, timeouts, cancel)


def test_re_asks_that_disagree_with_each_other_are_unstable_not_changed(client, embedded):
    hit = client.complete_json(ROLE, TEMPLATE, signal("Marketing Manager"))  # cached by the tests above
    driver = signal("Night Shift Truck Driver")
    other = client.complete_json(ROLE, TEMPLATE, driver)
    schema = client.prompts.get(TEMPLATE).output_schema
    assert decision(hit.value, schema) != decision(other.value, schema)  # else the fault shows nothing
    stale = {**hit.value, "hiring": not hit.value["hiring"], "score": (hit.value["score"] + 50) % 100}
    wavering = Wavering(embedded, client.prompts.get(TEMPLATE).render(driver))
    pools = {ROLE: EndpointPool([wavering], 1)}
    audited = LLMClient(client.catalog, client.prompts, pools)
    with audited.metrics.track() as recorder:
        result = audit_hits(audited, [stale_hit(hit.record, stale)], sample=5)
    assert (result.audited, result.changed, result.unstable) == (1, 0, 1) and wavering.calls == 2
    assert recorder.summary()["audit_calls"] == 2
    (example,) = result.examples
    assert example["verdict"] == "unstable" and example["now"][0] != example["now"][1]


def test_decisions_are_enums_booleans_and_score_bands():
    schema = PromptLibrary(PROMPTS_DIR).get(TEMPLATE).output_schema
    value = {"score": 47, "hiring": True, "role_function": "sales", "seniority": "mid", "reasons": ["x"]}
    assert decision(value, schema) == {"score": 2, "hiring": True, "role_function": "sales", "seniority": "mid"}


def test_a_spent_budget_defers_engine_work_and_still_serves_hits(client):
    client.complete_json(ROLE, TEMPLATE, signal("Marketing Manager"))  # cached
    budget = TokenBudget(limit=1)
    first = client.complete_json(ROLE, TEMPLATE, signal("PR Specialist"), budget=budget)  # admitted: 0 < 1
    assert first.record is not None and budget.spent == first.record.prompt_tokens + first.record.completion_tokens
    engine_before = sum(r.engine_calls for r in client.metrics.lifetime.records)
    with pytest.raises(BudgetExhausted):
        client.complete_json(ROLE, TEMPLATE, signal("Content Writer"), budget=budget)
    assert client.complete_json(ROLE, TEMPLATE, signal("Marketing Manager"), budget=budget).cache_tier == "memory"
    assert sum(r.engine_calls for r in client.metrics.lifetime.records) == engine_before
    assert budget.report() == {"limit": 1, "spent": budget.spent, "deferred": 1}


def test_a_near_identical_signal_takes_a_semantic_hit_in_its_context_only(client):
    base, other = signal("Growth Marketing Lead"), signal("Forklift Driver")
    variant = {**base, "signal_text": base["signal_text"].replace("Join our team.", "Join our team!")}
    vectors = client.embed_many([base["signal_text"], variant["signal_text"], other["signal_text"]])
    assert float(vectors[0] @ vectors[1]) >= 0.92 > float(vectors[0] @ vectors[2])
    answered = client.complete_json(ROLE, TEMPLATE, base, similar=Similar(vectors[0], SIGNAL_VARIABLES))
    spent = TokenBudget(limit=1, spent=1)  # every request that would reach the engine is refused
    near = client.complete_json(ROLE, TEMPLATE, variant, similar=Similar(vectors[1], SIGNAL_VARIABLES), budget=spent)
    assert near.cache_tier == "semantic" and near.value == answered.value
    with pytest.raises(BudgetExhausted):  # not similar enough: a miss
        client.complete_json(ROLE, TEMPLATE, other, similar=Similar(vectors[2], SIGNAL_VARIABLES), budget=spent)
    email = {**variant, "signal_kind": "email"}
    with pytest.raises(BudgetExhausted):  # the same text in another context: a miss
        client.complete_json(
            ROLE, TEMPLATE, email, similar=Similar(np.asarray(vectors[1]), SIGNAL_VARIABLES), budget=spent
        )
    assert spent.deferred == 2
