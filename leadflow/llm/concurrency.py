"""How many requests a pool keeps in flight per (endpoint, model), sized to the engine.

In order: the explicit setting (`LEADFLOW_MAX_CONCURRENCY`) when there is one; the parallel
slots the server reports (llama.cpp `/slots`, Ollama's `OLLAMA_NUM_PARALLEL`), which is what its
operator sized it for; else a short calibration on the run's own first requests: one warm-up
request alone (it pays the cold prompt prefix), then 1, 2, 4 ... in flight, each level over
`WINDOW_ROUNDS` x level requests, keeping the level with the best request rate (a higher one must
beat a lower one by `MIN_GAIN`). It stops at the first level that loses (throughput does not
rise again past its peak, and a losing window is the run's slowest work); it doubles past 4
while the top keeps winning, up to the
engine's slots (the embedded engine, whose slots leadflow chooses) or `MAX_LEVEL`. The result
is remembered per host, model and slot count in `concurrency.json` under LEADFLOW_HOME, so
later runs start at it. Calibration costs no extra inference: the requests are the run's own.

The request rate compares like with like because a stage's requests share one template (the
classifications of a day, the dossiers of a day), as the raw-engine sweep of the benchmark does.
"""

import datetime
import json
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("leadflow.llm")

FIRST_LEVELS = (1, 2, 4)
AUTO_SLOTS = FIRST_LEVELS[-1]  # slots the embedded engine is loaded with when leadflow sizes it
MAX_LEVEL = 32  # calibration ceiling for a server that reports no slots (vLLM, LM Studio)
WINDOW_ROUNDS = 2  # a level is measured over this many x level requests
MIN_GAIN = 1.05  # a higher level must serve 5 % more requests per second than the best lower one
STORE_FILE = "concurrency.json"


@dataclass
class Calibration:
    """The state of one (endpoint, model)'s calibration: which level runs, its window, the rates."""

    ceiling: int  # the most in flight it may try
    levels: list[int] = field(default_factory=list)
    index: int = -1  # -1: the warm-up request (alone, not measured)
    admitted: int = 0
    completed: int = 0
    started: float = 0.0
    rates: dict[int, float] = field(default_factory=dict)  # level -> requests per second

    def __post_init__(self) -> None:
        self.levels = [level for level in FIRST_LEVELS if level <= self.ceiling] or [1]

    @property
    def level(self) -> int:
        return 1 if self.index < 0 else self.levels[self.index]

    @property
    def window(self) -> int:
        return 1 if self.index < 0 else WINDOW_ROUNDS * self.level

    def admits(self, in_flight: int) -> bool:
        return in_flight < self.level and self.admitted < self.window

    def admit(self, now: float) -> None:
        if self.admitted == 0:
            self.started = now
        self.admitted += 1

    def release(self, now: float) -> bool:
        """Count a finished request; True once every level has been measured."""
        self.completed += 1
        if self.completed < self.window:
            return False
        if self.index >= 0:
            self.rates[self.level] = self.window / max(now - self.started, 1e-9)
            if self.best() != self.level:  # the newest level lost: more in flight will not win either
                self.index = len(self.levels)
                return True
            if self.index == len(self.levels) - 1 and self.level * 2 <= self.ceiling:
                self.levels.append(self.level * 2)  # still winning at the top: try twice as many
        self.index += 1
        self.admitted = self.completed = 0
        return self.index == len(self.levels)

    def best(self) -> int:
        best = min(self.rates)
        for level in sorted(self.rates):
            if self.rates[level] >= self.rates[best] * MIN_GAIN:
                best = level
        return best


class Limit:
    """The in-flight bound of one (endpoint, model): fixed, or calibrating until it is known."""

    def __init__(self, source: str, fixed: int | None = None, calibration: Calibration | None = None, on_done=None):
        self.source = source  # "setting" | "server slots" | "calibrated" | "calibrated earlier" | "calibrating"
        self.fixed = fixed
        self.calibration = calibration
        self._on_done = on_done

    def admits(self, in_flight: int) -> bool:
        if self.calibration is not None:
            return self.calibration.admits(in_flight)
        assert self.fixed is not None
        return in_flight < self.fixed

    def admit(self, now: float) -> None:
        if self.calibration is not None:
            self.calibration.admit(now)

    def release(self, now: float) -> None:
        calibration = self.calibration
        if calibration is not None and calibration.release(now):
            self.fixed, self.calibration, self.source = calibration.best(), None, "calibrated"
            if self._on_done is not None:
                self._on_done(self.fixed, calibration.rates)

    def report(self) -> dict[str, Any]:
        if self.calibration is not None:
            rates = {str(k): round(v, 3) for k, v in self.calibration.rates.items()}
            return {"concurrency": self.calibration.level, "source": self.source, "rates_per_s": rates}
        return {"concurrency": self.fixed, "source": self.source}


class SizingStore:
    """Calibrated levels per host, model and slot count: a small JSON file, rewritten whole."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}  # absent or unreadable: calibrate again (and rewrite it)
        return data if isinstance(data, dict) else {}

    def get(self, key: str) -> int | None:
        with self._lock:
            entry = self._read().get(key)
        level = entry.get("concurrency") if isinstance(entry, dict) else None
        return level if isinstance(level, int) and level >= 1 else None

    def put(self, key: str, level: int, rates: dict[int, float]) -> None:
        with self._lock:
            data = self._read()
            data[key] = {
                "concurrency": level,
                "requests_per_s": {str(k): round(v, 4) for k, v in sorted(rates.items())},
                "measured_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            }
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                tmp = self.path.with_suffix(f".tmp{os.getpid()}")
                tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
                os.replace(tmp, self.path)
            except OSError as exc:  # a full disk costs a recalibration next run, nothing else
                log.warning("could not remember the calibrated concurrency in %s: %s", self.path, exc)


class Sizer:
    """Decides each (endpoint, model)'s `Limit`: the setting, the server's slots, the store, or a
    calibration whose result goes to the store."""

    def __init__(self, explicit: int = 0, store: SizingStore | None = None):
        if explicit < 0:
            raise ValueError(f"max_concurrency must be >= 0 (0 = sized to the engine), got {explicit}")
        self.explicit = explicit
        self.store = store

    def ceiling(self, slots: int | None) -> int:
        """The most requests an endpoint with `slots` may get at once."""
        return self.explicit or slots or MAX_LEVEL

    def limit(self, backend: Any, model: str, slots: int | None) -> Limit:
        """`slots`: what `backend.parallel_slots()` reported."""
        if self.explicit:
            return Limit("setting", fixed=self.explicit)
        if slots is not None and not backend.tunable_slots:
            return Limit("server slots", fixed=max(1, slots))
        ceiling = slots or MAX_LEVEL
        key = f"{backend.endpoint}|{model}|{backend.sizing_context()}|slots={slots or 'unknown'}"
        stored = self.store.get(key) if self.store is not None else None
        if stored is not None:
            return Limit("calibrated earlier", fixed=min(stored, ceiling))

        def remember(level: int, rates: dict[int, float]) -> None:
            shown = ", ".join(f"{k}: {v:.2f}/s" for k, v in sorted(rates.items()))
            log.info(
                "concurrency for %s on %s calibrated to %d (requests per second %s)",
                model,
                backend.endpoint,
                level,
                shown,
            )
            if self.store is not None:
                self.store.put(key, level, rates)

        return Limit("calibrating", calibration=Calibration(ceiling), on_done=remember)
