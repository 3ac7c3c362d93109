"""Requests, responses and the error classes every backend speaks.

Errors are classified once, here, so the client's retry/fallback policy does not depend on
which server produced them (peers' lesson 7: 429/503/connection -> back off, 5xx and
mid-stream errors -> retry, 400 -> fail fast, 404 model missing -> health error).
"""

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Timeouts:
    connect_s: float = 5.0
    first_token_s: float = 120.0
    total_s: float = 600.0


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: tuple[dict[str, str], ...]
    max_tokens: int
    temperature: float = 0.0
    seed: int = 0
    num_ctx: int | None = None
    schema: dict[str, Any] | None = None
    stop: tuple[str, ...] = ()
    stream: bool = False

    def options(self) -> dict[str, Any]:
        """Every sampling/context option: part of the cache key."""
        return {
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "seed": self.seed,
            "num_ctx": self.num_ctx,
            "stop": list(self.stop),
        }


@dataclass
class ChatResponse:
    text: str
    model: str
    finish_reason: str = "stop"  # "stop" | "length"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    load_s: float = 0.0
    first_token_s: float | None = None
    total_s: float = 0.0
    endpoint: str = ""

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"


@dataclass
class EmbedResponse:
    vectors: list[list[float]]
    model: str
    prompt_tokens: int = 0
    total_s: float = 0.0
    endpoint: str = ""


@dataclass
class ModelInfo:
    name: str
    digest: str
    quantization: str = ""
    context_length: int | None = None


@dataclass
class HealthReport:
    endpoint: str
    kind: str
    reachable: bool
    version: str = ""
    models: dict[str, ModelInfo] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.reachable and not self.problems


class LLMError(RuntimeError):
    """Base class for LLM failures."""


class RetryableError(LLMError):
    """Transient: queue full (503), rate limit (429), 5xx, dropped connection, mid-stream error."""

    def __init__(self, message: str, status: int | None = None, retry_after_s: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s


class TimeoutError_(RetryableError):
    """Connect, first-token or total timeout."""


class RequestRejected(LLMError):
    """400-class: the request itself is wrong; retrying cannot help."""


class ModelMissing(LLMError):
    """404: the server does not have the model. Carries the command that would install it."""

    def __init__(self, model: str, endpoint: str, hint: str):
        super().__init__(f"model {model!r} is not available on {endpoint}: {hint}")
        self.model = model
        self.endpoint = endpoint
        self.hint = hint


class InvalidOutput(LLMError):
    """The model answered, but not with output that validates against the schema."""

    def __init__(self, message: str, text: str):
        super().__init__(message)
        self.text = text


class LLMHealthError(LLMError):
    """A backend or model is not usable; the message says what and how to fix it."""


class Cancelled(LLMError):
    """A raced request stopped because another endpoint answered first."""

    def __init__(self, message: str, tokens: int = 0):
        super().__init__(message)
        self.tokens = tokens


class Cancellation:
    """Stops an in-flight streamed request from another thread (racing): sets a flag the
    stream loop checks and closes the open response, which unblocks a waiting read."""

    def __init__(self) -> None:
        import threading

        self._event = threading.Event()
        self._lock = threading.Lock()
        self._response = None

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def attach(self, response) -> None:
        with self._lock:
            self._response = response
            if self._event.is_set():
                response.close()

    def cancel(self) -> None:
        with self._lock:
            self._event.set()
            if self._response is not None:
                self._response.close()

    def observe(self, piece: str) -> None:
        """Called by a backend with each streamed piece; a watch (`stream_parse.SchemaWatch`)
        stops the stream by raising an LLMError, which the backend passes on."""


class CircuitOpen(LLMError):
    """Every endpoint for a model is cooling down after repeated failures."""
