"""A per-run token budget: once the engines have spent it, requests that would reach an engine
are refused (`BudgetExhausted`) while cache hits are still served, so a stage publishes what it
finished and leaves the rest for the next run, which gets the finished part from the cache."""

import threading

from leadflow.llm.metrics import CallRecord
from leadflow.llm.types import LLMError


class BudgetExhausted(LLMError):
    """The run's token budget is spent; this request was deferred, not failed."""


class TokenBudget:
    """Engine tokens (prompt + completion) a run may still spend. `spent` starts with what the
    run's earlier stages recorded in the ledger. Requests in flight when the budget runs out
    finish, so a run can end up to one request per worker above its limit."""

    def __init__(self, limit: int, spent: int = 0) -> None:
        if limit <= 0:
            raise ValueError(f"a token budget must be positive, got {limit}")
        self.limit = limit
        self._lock = threading.Lock()
        self._spent = spent
        self.deferred = 0

    @property
    def spent(self) -> int:
        with self._lock:
            return self._spent

    def admit(self) -> None:
        """Raise BudgetExhausted (and count a deferral) when nothing is left."""
        with self._lock:
            if self._spent < self.limit:
                return
            self.deferred += 1
        raise BudgetExhausted(
            f"run token budget of {self.limit} spent ({self._spent} tokens): deferred to the next run"
        )

    def charge(self, record: CallRecord) -> None:
        with self._lock:
            self._spent += record.prompt_tokens + record.completion_tokens

    def report(self) -> dict[str, int]:
        with self._lock:
            return {"limit": self.limit, "spent": self._spent, "deferred": self.deferred}
