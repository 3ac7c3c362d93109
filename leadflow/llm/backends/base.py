"""The interface every backend implements, and the HTTP plumbing the server backends share."""

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator

import httpx

from leadflow.llm.types import (
    Cancellation,
    Cancelled,
    ChatRequest,
    ChatResponse,
    EmbedResponse,
    HealthReport,
    ModelMissing,
    RequestRejected,
    RetryableError,
    TimeoutError_,
    Timeouts,
)


class Backend(ABC):
    """One endpoint (a server URL, or the in-process engine) that serves chat and embeddings."""

    kind: str
    endpoint: str
    # True where leadflow chooses the slot count itself (the embedded engine): the pool then
    # calibrates below it instead of taking it as the bound.
    tunable_slots: bool = False

    @abstractmethod
    def chat(self, request: ChatRequest, timeouts: Timeouts, cancel: Cancellation | None = None) -> ChatResponse:
        """`cancel` stops a streamed request early (racing); in-process engines ignore it."""

    @abstractmethod
    def embed(self, model: str, texts: list[str], timeouts: Timeouts) -> EmbedResponse: ...

    @abstractmethod
    def health(self, models: list[str]) -> HealthReport:
        """Reachability, version, and presence (digest, quantization) of each model."""

    @abstractmethod
    def model_digest(self, model: str) -> str:
        """A digest of the model's weights: part of every cache key."""

    def parallel_slots(self) -> int | None:
        """How many requests the server runs at once, if it says (None: calibrate)."""
        return None

    def sizing_context(self) -> str:
        """What else the best concurrency depends on (part of its remembered key)."""
        return ""

    def loaded_context(self, model: str) -> int | None:
        """The context size the model is loaded with now, if the server reports it."""
        return None

    def warm(self, model: str, keep_alive: str, embedding: bool = False) -> float:
        """Load `model` ahead of the first request; returns the seconds it took."""
        return 0.0

    def close(self) -> None:
        return None


def install_hint(kind: str, model: str) -> str:
    if kind == "ollama":
        return f"run `ollama pull {model}` on that host"
    return f"start the server with model {model!r} loaded (llama.cpp server `-m`, vLLM `--model`)"


class HttpBackend(Backend, ABC):
    """Shared httpx client and status-code classification for the server backends."""

    def __init__(self, base_url: str, kind: str, headers: dict[str, str] | None = None):
        self.kind = kind
        self.endpoint = base_url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.endpoint,
            headers=headers or {},
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
        )

    def close(self) -> None:
        self._client.close()

    @staticmethod
    def _httpx_timeout(timeouts: Timeouts) -> httpx.Timeout:
        # httpx's read timeout bounds each wait for bytes: for a non-streamed call that is the
        # wait for the first (and only) chunk, which is the first-token timeout.
        return httpx.Timeout(connect=timeouts.connect_s, read=timeouts.first_token_s, write=30.0, pool=None)

    def _raise_for_status(self, response: httpx.Response, model: str) -> None:
        status = response.status_code
        if status < 400:
            return
        try:
            response.read()
            detail = response.text[:500]
        except httpx.HTTPError:
            detail = ""
        if status == 404:
            raise ModelMissing(model, self.endpoint, install_hint(self.kind, model))
        if status in (429, 503):
            retry_after = response.headers.get("retry-after")
            raise RetryableError(
                f"{self.endpoint} busy ({status}): {detail}",
                status=status,
                retry_after_s=float(retry_after) if retry_after and retry_after.isdigit() else None,
            )
        if status >= 500:
            raise RetryableError(f"{self.endpoint} server error {status}: {detail}", status=status)
        raise RequestRejected(f"{self.endpoint} rejected the request ({status}): {detail}")

    def _post_json(self, path: str, body: dict, model: str, timeouts: Timeouts) -> dict:
        try:
            response = self._client.post(path, json=body, timeout=self._httpx_timeout(timeouts))
        except httpx.TimeoutException as exc:
            raise TimeoutError_(f"{self.endpoint}{path} timed out: {exc!r}") from exc
        except httpx.TransportError as exc:
            raise RetryableError(f"{self.endpoint}{path} connection failed: {exc!r}") from exc
        self._raise_for_status(response, model)
        try:
            return response.json()
        except json.JSONDecodeError as exc:
            raise RetryableError(f"{self.endpoint}{path} sent malformed JSON: {response.text[:200]!r}") from exc

    def _get_json(self, path: str, timeouts: Timeouts) -> dict:
        try:
            response = self._client.get(path, timeout=self._httpx_timeout(timeouts))
        except httpx.TimeoutException as exc:
            raise TimeoutError_(f"{self.endpoint}{path} timed out: {exc!r}") from exc
        except httpx.TransportError as exc:
            raise RetryableError(f"{self.endpoint}{path} unreachable: {exc!r}") from exc
        self._raise_for_status(response, "")
        try:
            return response.json()
        except json.JSONDecodeError as exc:
            raise RetryableError(f"{self.endpoint}{path} sent malformed JSON") from exc

    def _stream_lines(
        self, path: str, body: dict, model: str, timeouts: Timeouts, cancel: Cancellation | None = None
    ) -> Iterator[str]:
        """POST and yield response lines, enforcing the total timeout between lines."""
        deadline = time.monotonic() + timeouts.total_s
        received = 0  # streamed chunks: about one token each, counted as waste when cancelled
        cancelled = f"{self.endpoint}{path} cancelled: another endpoint answered first"
        try:
            with self._client.stream("POST", path, json=body, timeout=self._httpx_timeout(timeouts)) as response:
                if cancel is not None:
                    cancel.attach(response)
                self._raise_for_status(response, model)
                for line in response.iter_lines():
                    if cancel is not None and cancel.cancelled:
                        raise Cancelled(cancelled, tokens=received)
                    if time.monotonic() > deadline:
                        raise TimeoutError_(f"{self.endpoint}{path} exceeded total timeout {timeouts.total_s}s")
                    if line:
                        received += 1
                        yield line
        except (httpx.HTTPError, httpx.StreamError) as exc:
            if cancel is not None and cancel.cancelled:
                raise Cancelled(cancelled, tokens=received) from exc
            if isinstance(exc, httpx.TimeoutException):
                raise TimeoutError_(f"{self.endpoint}{path} timed out: {exc!r}") from exc
            raise RetryableError(f"{self.endpoint}{path} connection dropped: {exc!r}") from exc
