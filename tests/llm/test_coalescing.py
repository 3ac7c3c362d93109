"""SingleFlight: concurrent callers of one key share one computation, its result or its error."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from leadflow.llm.coalescing import SingleFlight

FOLLOWERS = 4


def _held(result: int | Exception):
    """A computation that starts, then waits for `gate` before returning (or raising) `result`."""
    started, gate, calls = threading.Event(), threading.Event(), []

    def compute() -> int:
        calls.append(1)
        started.set()
        assert gate.wait(10)
        if isinstance(result, Exception):
            raise result
        return result

    return compute, started, gate, calls


def test_concurrent_callers_of_one_key_share_one_computation():
    flights: SingleFlight[int] = SingleFlight()
    compute, started, gate, calls = _held(42)
    with ThreadPoolExecutor(FOLLOWERS + 1) as pool:
        leader = pool.submit(flights.do, "k", compute)
        assert started.wait(10)
        followers = [pool.submit(flights.do, "k", compute) for _ in range(FOLLOWERS)]
        time.sleep(0.3)  # the followers reach the key while it is in flight
        gate.set()
        assert leader.result(10) == (42, False)
        assert [f.result(10) for f in followers] == [(42, True)] * FOLLOWERS
    assert len(calls) == 1


def test_the_leaders_error_reaches_every_caller_and_frees_the_key():
    flights: SingleFlight[int] = SingleFlight()
    boom = RuntimeError("engine fell over")
    compute, started, gate, calls = _held(boom)
    with ThreadPoolExecutor(FOLLOWERS + 1) as pool:
        leader = pool.submit(flights.do, "k", compute)
        assert started.wait(10)
        followers = [pool.submit(flights.do, "k", compute) for _ in range(FOLLOWERS)]
        time.sleep(0.3)
        gate.set()
        for future in (leader, *followers):
            with pytest.raises(RuntimeError) as failure:
                future.result(10)
            assert failure.value is boom
    assert len(calls) == 1
    assert flights.do("k", lambda: 7) == (7, False)  # a later call computes again


def test_other_keys_do_not_wait_and_finished_keys_are_not_remembered():
    flights: SingleFlight[int] = SingleFlight()
    compute, started, gate, _ = _held(1)
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(flights.do, "a", compute)
        assert started.wait(10)
        assert flights.do("b", lambda: 2) == (2, False)  # while "a" is still in flight
        gate.set()
        assert held.result(10) == (1, False)
    runs: list[int] = []

    def count() -> int:
        runs.append(1)
        return len(runs)

    assert flights.do("a", count) == (1, False)
    assert flights.do("a", count) == (2, False)
