"""Concurrency sized to the engine: the setting wins; else the slots a server reports (llama.cpp
`/slots` of the real embedded engine's HTTP server, Ollama's `OLLAMA_NUM_PARALLEL`); else a
calibration on the first real requests, remembered per host and model for the next run."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from leadflow.llm.backends.embedded import EmbeddedBackend, EngineHandle
from leadflow.llm.backends.ollama import OllamaBackend
from leadflow.llm.backends.openai import OpenAIBackend
from leadflow.llm.concurrency import MIN_GAIN, WINDOW_ROUNDS, Calibration, SizingStore
from leadflow.llm.pool import EndpointPool
from leadflow.llm.types import ChatRequest, Timeouts
from tests.llm.conftest import OLLAMA_SMALL, SCORE_SCHEMA, SMALL, score_messages
from tests.token_server import TokenServer

TIMEOUTS = Timeouts(connect_s=2.0, first_token_s=60.0, total_s=120.0)


def request(item: str, model: str = SMALL) -> ChatRequest:
    return ChatRequest(model=model, messages=score_messages(item), max_tokens=24, seed=7, schema=SCORE_SCHEMA)


def run_through(pool: EndpointPool, items: list[str], model: str = SMALL) -> list[str]:
    """Each item as one real chat request through the pool's slots, as many threads as it allows."""

    def one(item: str) -> str:
        with pool.slot(model) as (backend, _):
            return backend.chat(request(item, model), TIMEOUTS).text

    with ThreadPoolExecutor(max_workers=pool.max_concurrency) as threads:
        return list(threads.map(one, items))


def test_the_llama_cpp_server_reports_its_slots_and_they_are_the_bound(chat_engine: EngineHandle):
    backend = OpenAIBackend(chat_engine.listening_address)
    try:
        assert backend.parallel_slots() == 2  # the session engine's n_parallel
        pool = EndpointPool([backend])
        assert pool.max_concurrency == 2
        assert pool.limit(backend, SMALL).report() == {"concurrency": 2, "source": "server slots"}
    finally:
        backend.close()


def test_a_server_without_a_slots_route_reports_none():
    with TokenServer("t0ken") as server:
        backend = OpenAIBackend(server.url, api_key="t0ken")
        try:
            assert backend.parallel_slots() is None  # 404: calibrate
        finally:
            backend.close()


def test_ollama_num_parallel_is_the_bound(monkeypatch, make_ollama_server):
    server = make_ollama_server()
    backend = OllamaBackend(server.url, keep_alive="5m")
    try:
        monkeypatch.delenv("OLLAMA_NUM_PARALLEL", raising=False)
        assert backend.parallel_slots() is None
        monkeypatch.setenv("OLLAMA_NUM_PARALLEL", "1")
        pool = EndpointPool([backend])
        answers = run_through(pool, ["a linter", "a debugger", "a profiler"], OLLAMA_SMALL)
        assert all(json.loads(a)["verdict"] in ("yes", "no") for a in answers)
        assert server.max_in_flight == 1  # real requests, never more than the server's one slot
        assert pool.limit(backend, OLLAMA_SMALL).report()["source"] == "server slots"
    finally:
        backend.close()


def test_the_setting_wins(tmp_path, embedded: EmbeddedBackend):
    store = SizingStore(tmp_path / "concurrency.json")
    pool = EndpointPool([embedded], max_concurrency=3, sizing_store=store)
    assert pool.max_concurrency == 3
    assert pool.limit(embedded, SMALL).report() == {"concurrency": 3, "source": "setting"}
    assert not store.path.exists()


def test_the_embedded_engine_is_calibrated_on_real_requests_and_remembered(
    tmp_path, embedded: EmbeddedBackend, chat_engine: EngineHandle
):
    store = SizingStore(tmp_path / "concurrency.json")
    pool = EndpointPool([embedded], sizing_store=store)  # embedded: 2 slots, leadflow's own choice
    assert pool.max_concurrency == 2
    # One warm-up request, then WINDOW_ROUNDS x level requests at levels 1 and 2.
    items = [f"tool number {i}" for i in range(1 + WINDOW_ROUNDS * (1 + 2))]
    answers = run_through(pool, items)
    assert all(json.loads(a)["score"] <= 100 for a in answers)
    assert pool.stats(embedded, SMALL).peak_in_flight <= 2

    entry = next(iter(json.loads(store.path.read_text()).values()))
    rates = {int(k): v for k, v in entry["requests_per_s"].items()}
    assert set(rates) == {1, 2} and all(v > 0 for v in rates.values())
    expected = 2 if rates[2] >= rates[1] * MIN_GAIN else 1
    assert entry["concurrency"] == expected
    assert pool.limit(embedded, SMALL).report() == {"concurrency": expected, "source": "calibrated"}

    # The next run (a new pool over the same file) starts at the remembered level.
    again = EndpointPool([embedded], sizing_store=SizingStore(store.path))
    assert again.limit(embedded, SMALL).report() == {"concurrency": expected, "source": "calibrated earlier"}


def feed(calibration: Calibration, seconds_per_window: dict[int, float]) -> int:
    """Run the calibration to its end with each level's window taking the given seconds."""
    now = 0.0
    while True:
        level = calibration.level
        window = calibration.window
        for _ in range(window):
            assert calibration.admits(0)
            calibration.admit(now)
        assert not calibration.admits(0)  # the window is full until it drains
        now += seconds_per_window.get(level, 1.0) if calibration.index >= 0 else 1.0
        for i in range(window):
            if calibration.release(now) and i == window - 1:
                return calibration.best()


@pytest.mark.parametrize(
    ("seconds", "ceiling", "best", "measured"),
    [
        ({1: 2.0, 2: 2.0, 4: 4.0}, 4, 2, [1, 2, 4]),  # twice the requests in the same time at 2, no more at 4
        ({1: 2.0, 2: 4.0, 4: 8.0}, 4, 1, [1, 2]),  # 2 is no faster than 1: 4 is not tried
        ({1: 2.0, 2: 3.0, 4: 6.5}, 4, 2, [1, 2, 4]),
        ({1: 2.0, 2: 2.1, 4: 2.2, 8: 2.3, 16: 20.0}, 32, 8, [1, 2, 4, 8, 16]),  # doubles while it wins
        ({1: 2.0, 2: 2.0}, 2, 2, [1, 2]),  # the engine's 2 slots are the ceiling
    ],
)
def test_calibration_keeps_the_best_rate(seconds, ceiling, best, measured):
    calibration = Calibration(ceiling)
    assert feed(calibration, seconds) == best
    assert sorted(calibration.rates) == measured


def test_a_higher_level_must_win_clearly():
    calibration = Calibration(2)
    window_1, window_2 = WINDOW_ROUNDS * 1, WINDOW_ROUNDS * 2
    # Level 2 serves its requests only 2 % faster per request than level 1: within noise, keep 1.
    assert feed(calibration, {1: float(window_1), 2: window_2 / 1.02}) == 1


def test_an_unreadable_store_means_calibrating_again(tmp_path):
    path = tmp_path / "concurrency.json"
    path.write_text("{not json")
    store = SizingStore(path)
    assert store.get("anything") is None
    store.put("host|model", 2, {1: 1.0, 2: 1.5})
    assert store.get("host|model") == 2
