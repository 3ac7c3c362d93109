"""LLM metrics: figures nothing measured are None (not 0), requests served from a cache are
counted apart from engine work, and a model load is counted by the recorders tracking when it
happened, whether or not a request carried it (a real engine reload on the embedded backend)."""

from leadflow.llm.backends.embedded import EmbeddedBackend
from leadflow.llm.metrics import MODEL_LOADS, CallRecord, MetricsHub, MetricsRecorder, summarize
from tests.llm.conftest import EMBEDDER


def _hit(tier: str = "sqlite") -> CallRecord:
    return CallRecord(role="prefilter", template="classify_signal@v1", model="small", cache_tier=tier, latency_s=0.001)


def _miss(latency_s: float = 0.5, tokens: int = 20) -> CallRecord:
    return CallRecord(
        role="prefilter",
        template="classify_signal@v1",
        model="small",
        latency_s=latency_s,
        prompt_tokens=100,
        completion_tokens=tokens,
        engine_calls=1,
    )


def test_cache_hits_alone_measure_no_latency_rate_or_load():
    summary = summarize([_hit(), _hit("memory")])
    assert summary["requests"] == summary["cache_hits"] == 2 and summary["llm_calls"] == 0
    assert summary["cache_hits_by_tier"] == {"sqlite": 1, "memory": 1}
    for key in ("tokens_per_s", "latency_p50_s", "latency_p95_s", "latency_p99_s", "queue_wait_p95_s", "load_s"):
        assert summary[key] is None, key
    assert summary["models_loaded"] == []


def test_engine_work_is_measured_apart_from_hits():
    summary = summarize([_hit(), _miss(0.5, 20), _miss(1.5, 30)])
    assert summary["misses"] == 2 and summary["tokens_out"] == 50
    assert summary["tokens_per_s"] == 25.0  # 50 tokens over 2 s of engine time; the hit adds nothing
    assert summary["latency_p50_s"] == 1.0


def test_a_recorder_counts_the_loads_that_ended_while_it_tracked():
    MODEL_LOADS.add("before", 9.0)  # a warm-up before the recorder started
    recorder = MetricsRecorder()
    MODEL_LOADS.add("small", 19.5)
    recorder.stop()
    MODEL_LOADS.add("after", 7.0)
    summary = recorder.summary()
    assert summary["load_s"] == 19.5 and summary["models_loaded"] == ["small 19.5s"]


def test_served_splits_cache_answers_from_engine_requests():
    recorder = MetricsRecorder()
    for record in (_hit(), _hit(), _miss(), CallRecord(role="prefilter", template="t", model="small", coalesced=True)):
        recorder.add(record)
    assert recorder.served() == (3, 1)


def test_a_real_engine_reload_inside_a_tracked_block_is_its_load_time(embedded: EmbeddedBackend):
    loaded = embedded.engine(EMBEDDER, embedding=True)  # loaded before: not this block's
    hub = MetricsHub()
    with hub.track() as recorder:
        reloaded = embedded.engine(EMBEDDER, num_ctx=loaded.ctx_per_slot + 256, embedding=True)
    with hub.track() as idle:
        embedded.engine(EMBEDDER, embedding=True)  # already loaded: nothing to count
    assert reloaded is not loaded and reloaded.load_s > 0
    assert recorder.summary()["load_s"] == round(reloaded.load_s, 3)
    assert recorder.summary()["models_loaded"] == [f"{EMBEDDER} {reloaded.load_s:.1f}s"]
    assert idle.summary()["load_s"] is None
