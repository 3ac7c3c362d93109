"""Ollama's native API: `/api/chat` with a full JSON schema in `format`, `/api/embed`, `/api/tags`,
`/api/ps`, `/api/version`.

The native API (not Ollama's OpenAI shim) is used because only it takes `num_ctx` and
`keep_alive`, and reports load/eval timings per request.
"""

import json
import os
import time

from leadflow.llm.backends.base import HttpBackend
from leadflow.llm.types import (
    Cancellation,
    ChatRequest,
    ChatResponse,
    EmbedResponse,
    HealthReport,
    LLMError,
    ModelInfo,
    ModelMissing,
    RetryableError,
    Timeouts,
)

_NS = 1e-9


class OllamaBackend(HttpBackend):
    def __init__(self, base_url: str, keep_alive: str = "30m"):
        super().__init__(base_url, kind="ollama")
        self.keep_alive = keep_alive
        self._digests: dict[str, str] = {}

    def _body(self, request: ChatRequest) -> dict:
        options: dict[str, object] = {
            "temperature": request.temperature,
            "seed": request.seed,
            "num_predict": request.max_tokens,
        }
        if request.num_ctx:
            options["num_ctx"] = request.num_ctx
        if request.stop:
            options["stop"] = list(request.stop)
        body = {
            "model": request.model,
            "messages": list(request.messages),
            "options": options,
            "keep_alive": self.keep_alive,
            "stream": request.stream,
        }
        if request.schema is not None:
            body["format"] = request.schema
        return body

    def chat(self, request: ChatRequest, timeouts: Timeouts, cancel: Cancellation | None = None) -> ChatResponse:
        started = time.perf_counter()
        if not request.stream:
            final: dict = self._post_json("/api/chat", self._body(request), request.model, timeouts)
            if "error" in final:
                raise RetryableError(f"{self.endpoint}: {final['error']}")
            return self._response(request, final.get("message", {}).get("content", ""), final, started, None)
        parts: list[str] = []
        first_token_s = None
        final = {}
        for line in self._stream_lines("/api/chat", self._body(request), request.model, timeouts, cancel):
            try:
                chunk = json.loads(line)
            except json.JSONDecodeError as exc:
                raise RetryableError(f"{self.endpoint} sent a malformed NDJSON line: {line[:120]!r}") from exc
            if "error" in chunk:
                # Ollama reports failures during a stream as an error object with status 200.
                raise RetryableError(f"{self.endpoint} error mid-stream: {chunk['error']}")
            piece = chunk.get("message", {}).get("content", "")
            if piece and first_token_s is None:
                first_token_s = time.perf_counter() - started
            parts.append(piece)
            if cancel is not None and piece:
                cancel.observe(piece)
            if chunk.get("done"):
                final = chunk
                break
        if not final:
            raise RetryableError(f"{self.endpoint} stream ended without a final chunk")
        return self._response(request, "".join(parts), final, started, first_token_s)

    def _response(self, request, text, final, started, first_token_s) -> ChatResponse:
        done_reason = final.get("done_reason", "stop")
        return ChatResponse(
            text=text,
            model=request.model,
            finish_reason="length" if done_reason == "length" else "stop",
            prompt_tokens=int(final.get("prompt_eval_count") or 0),
            completion_tokens=int(final.get("eval_count") or 0),
            load_s=float(final.get("load_duration") or 0) * _NS,
            first_token_s=first_token_s,
            total_s=time.perf_counter() - started,
            endpoint=self.endpoint,
        )

    def embed(self, model: str, texts: list[str], timeouts: Timeouts) -> EmbedResponse:
        started = time.perf_counter()
        body = {"model": model, "input": texts, "keep_alive": self.keep_alive}
        data = self._post_json("/api/embed", body, model, timeouts)
        vectors = data.get("embeddings")
        if not isinstance(vectors, list) or len(vectors) != len(texts):
            raise RetryableError(
                f"{self.endpoint}/api/embed returned {len(vectors or [])} vectors for {len(texts)} inputs"
            )
        return EmbedResponse(
            vectors=vectors,
            model=model,
            prompt_tokens=int(data.get("prompt_eval_count") or 0),
            total_s=time.perf_counter() - started,
            endpoint=self.endpoint,
        )

    def _tags(self, timeouts: Timeouts) -> dict[str, ModelInfo]:
        data = self._get_json("/api/tags", timeouts)
        infos = {}
        for entry in data.get("models", []):
            details = entry.get("details") or {}
            info = ModelInfo(
                name=entry["name"], digest=entry.get("digest", ""), quantization=details.get("quantization_level", "")
            )
            infos[entry["name"]] = info
            self._digests[entry["name"]] = info.digest
        return infos

    def model_digest(self, model: str) -> str:
        if model not in self._digests:
            self._tags(Timeouts(connect_s=3, first_token_s=10))
        try:
            return self._digests[model]
        except KeyError:
            raise ModelMissing(model, self.endpoint, f"run `ollama pull {model}` on that host") from None

    def parallel_slots(self) -> int | None:
        """Ollama's API does not tell its parallelism; the operator's `OLLAMA_NUM_PARALLEL`
        (the variable the server reads) does, when it is set here too."""
        raw = os.environ.get("OLLAMA_NUM_PARALLEL", "").strip()
        return int(raw) if raw.isdigit() and int(raw) > 0 else None

    def loaded_context(self, model: str) -> int | None:
        try:
            data = self._get_json("/api/ps", Timeouts(connect_s=2, first_token_s=5))
        except LLMError:
            return None
        for entry in data.get("models", []):
            if entry.get("name") == model or entry.get("model") == model:
                return entry.get("context_length")
        return None

    def warm(self, model: str, keep_alive: str, embedding: bool = False) -> float:
        # An empty chat request (a one-word embed for embedding models) loads the model and
        # pins it for keep_alive.
        started = time.perf_counter()
        if embedding:
            body = {"model": model, "input": ["warm-up"], "keep_alive": keep_alive}
            self._post_json("/api/embed", body, model, Timeouts())
        else:
            self._post_json("/api/chat", {"model": model, "messages": [], "keep_alive": keep_alive}, model, Timeouts())
        return time.perf_counter() - started

    def health(self, models: list[str]) -> HealthReport:
        report = HealthReport(endpoint=self.endpoint, kind=self.kind, reachable=False)
        quick = Timeouts(connect_s=3, first_token_s=10)
        try:
            report.version = self._get_json("/api/version", quick).get("version", "")
            report.reachable = True
            tags = self._tags(quick)
        except LLMError as exc:
            report.problems.append(f"{self.endpoint} is not reachable: {exc}")
            return report
        for model in models:
            if model in tags:
                report.models[model] = tags[model]
            else:
                report.problems.append(f"model {model!r} missing on {self.endpoint}: run `ollama pull {model}`")
        return report
