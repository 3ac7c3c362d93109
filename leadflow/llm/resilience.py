"""Getting an answer from a pool despite failing endpoints: retries with jittered exponential
backoff (honouring Retry-After) that move to another endpoint when there is one, and racing
two endpoints for the first acceptable answer.

Failures are classified by the error types (`leadflow.llm.types`): only `RetryableError` is
retried; 400-class errors, missing models and open circuits propagate at once.
"""

import logging
import queue
import random
import threading
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, replace
from typing import NamedTuple, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from leadflow.llm.backends.base import Backend
from leadflow.llm.metrics import CallRecord
from leadflow.llm.pool import EndpointPool
from leadflow.llm.types import Cancellation, Cancelled, ChatRequest, ChatResponse, LLMError, RetryableError, Timeouts

log = logging.getLogger("leadflow.llm")

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int
    backoff_base_s: float
    backoff_cap_s: float

    def delay(self, attempt: int, retry_after_s: float | None) -> float:
        """Seconds to wait after failed attempt `attempt` (0-based): the server's Retry-After, or
        a random point in the upper half of base * 2**attempt, both capped."""
        if retry_after_s is not None:
            return min(retry_after_s, self.backoff_cap_s)
        ceiling = min(self.backoff_cap_s, self.backoff_base_s * 2**attempt)
        return random.uniform(ceiling / 2, ceiling)  # jitter so retrying workers do not stampede

    def wait(self, state: RetryCallState) -> float:
        """`delay` as a tenacity wait strategy."""
        error = state.outcome.exception() if state.outcome is not None else None
        return self.delay(state.attempt_number - 1, getattr(error, "retry_after_s", None))


def with_retries(
    pool: EndpointPool, model: str, record: CallRecord, operation: Callable[[Backend], T], policy: RetryPolicy
) -> T:
    """Run `operation` on a pool slot; a retryable failure is reported to the pool's circuit
    breaker, backed off and retried on another endpoint when there is one. Every attempt counts
    into `record` (engine calls, queue wait, endpoint), every retry too."""
    failed: set[str] = set()

    def attempt() -> T:
        with pool.slot(model, exclude=frozenset(failed)) as (backend, waited):
            record.queue_wait_s += waited
            record.engine_calls += 1
            record.endpoint = backend.endpoint
            try:
                result = operation(backend)
            except RetryableError as exc:
                pool.report(backend, model, ok=False, error=str(exc))
                failed.add(backend.endpoint)
                raise
            pool.report(backend, model, ok=True)
            return result

    def before_sleep(state: RetryCallState) -> None:
        record.retries += 1
        delay = state.next_action.sleep if state.next_action is not None else 0.0
        error = state.outcome.exception() if state.outcome is not None else None
        log.warning("retrying %s on %s in %.2fs: %s", model, record.endpoint, delay, error)

    retrying = Retrying(
        stop=stop_after_attempt(policy.max_retries + 1),
        wait=policy.wait,
        retry=retry_if_exception_type(RetryableError),
        before_sleep=before_sleep,
        reraise=True,
    )
    return retrying(attempt)


class _Outcome(NamedTuple):
    backend: Backend | None
    response: ChatResponse | None
    error: LLMError | None

    @property
    def tokens(self) -> int:
        """Tokens a racer produced: its completion, or the chunks it streamed before cancellation."""
        if self.response is not None:
            return self.response.completion_tokens
        return self.error.tokens if isinstance(self.error, Cancelled) else 0


def _race_chat(
    pool: EndpointPool, backend: Backend, request: ChatRequest, timeouts: Timeouts, cancel: Cancellation
) -> _Outcome:
    try:
        response = backend.chat(request, timeouts, cancel)
    except Cancelled as exc:
        return _Outcome(backend, None, exc)
    except LLMError as exc:
        if isinstance(exc, RetryableError):
            pool.report(backend, request.model, ok=False, error=str(exc))
        return _Outcome(backend, None, exc)
    pool.report(backend, request.model, ok=True)
    return _Outcome(backend, response, None)


def race(
    pool: EndpointPool,
    request: ChatRequest,
    record: CallRecord,
    accept: Callable[[ChatResponse], bool],
    timeouts: Timeouts,
) -> ChatResponse:
    """Send the request to two independent endpoints; the first acceptable answer wins and
    the other stream is cancelled, its tokens counted as waste (also when it ends after
    the winner has been returned). Only for separate hosts: two racers on one CPU/GPU
    would just halve each other's speed."""
    streamed = replace(request, stream=True)
    outcomes: queue.Queue[_Outcome] = queue.Queue()
    race_over = threading.Event()
    lock = threading.Lock()
    taken: set[str] = set()
    cancels = [Cancellation(), Cancellation()]

    def waste(tokens: int) -> None:
        with lock:
            record.wasted_tokens += tokens

    def racer(cancel: Cancellation) -> None:
        with ExitStack() as held:  # the slot is released before the outcome is handed over
            try:
                with lock:  # pick the two endpoints in turn so they differ
                    backend, _ = held.enter_context(pool.slot(request.model, exclude=frozenset(taken)))
                    taken.add(backend.endpoint)
            except LLMError as exc:  # no slot could be had (every circuit open)
                outcomes.put(_Outcome(None, None, exc))
                return
            outcome = _race_chat(pool, backend, streamed, timeouts, cancel)
        with lock:
            if not race_over.is_set():
                outcomes.put(outcome)
                return
        waste(outcome.tokens)  # the loser, finishing after the winner was returned

    for cancel in cancels:
        threading.Thread(target=racer, args=(cancel,), daemon=True, name="llm-race").start()
    record.raced = True
    fallback: ChatResponse | None = None
    errors: list[LLMError] = []
    for _ in cancels:
        backend, response, error = outcomes.get()
        if error is not None:
            if isinstance(error, Cancelled):
                waste(error.tokens)
            else:
                errors.append(error)
        elif response is not None and accept(response):
            with lock:
                race_over.set()
                while not outcomes.empty():  # a loser that finished at the same moment
                    record.wasted_tokens += outcomes.get_nowait().tokens
            for cancel in cancels:
                cancel.cancel()  # the winner's stream has ended: this stops only the loser
            assert backend is not None  # an answer always comes from an endpoint
            record.endpoint = backend.endpoint
            record.engine_calls += len(taken)  # every racer that got a slot reached an engine
            return response
        else:
            fallback = response
    record.engine_calls += len(taken)
    if fallback is not None:
        return fallback
    raise errors[0]
