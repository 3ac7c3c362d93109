"""OpenAI-compatible servers (llama.cpp server, vLLM, LM Studio): `/v1/chat/completions` with
`response_format: json_schema`, SSE streaming, `/v1/embeddings`, `/v1/models`.

These servers fix the context size at launch, so `num_ctx` is not sent; the server's own
limit is read from `/v1/models` (llama.cpp reports `n_ctx_train`/`meta`) where available.
"""

import hashlib
import json
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
    RequestRejected,
    RetryableError,
    Timeouts,
)

SIZING_TIMEOUTS = Timeouts(connect_s=2, first_token_s=5)


class OpenAIBackend(HttpBackend):
    def __init__(self, base_url: str, api_key: str = ""):
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        super().__init__(base_url, kind="openai", headers=headers)
        self._models: dict[str, ModelInfo] | None = None

    def _body(self, request: ChatRequest) -> dict:
        body = {
            "model": request.model,
            "messages": list(request.messages),
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "seed": request.seed,
            "stream": request.stream,
        }
        if request.stop:
            body["stop"] = list(request.stop)
        if request.schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": request.schema, "strict": True},
            }
        if request.stream:
            body["stream_options"] = {"include_usage": True}
        return body

    def chat(self, request: ChatRequest, timeouts: Timeouts, cancel: Cancellation | None = None) -> ChatResponse:
        started = time.perf_counter()
        if not request.stream:
            data = self._post_json("/v1/chat/completions", self._body(request), request.model, timeouts)
            if "error" in data:
                raise RetryableError(f"{self.endpoint}: {data['error']}")
            choice = data["choices"][0]
            usage: dict = data.get("usage") or {}
            return self._response(
                request, choice["message"].get("content") or "", choice.get("finish_reason"), usage, started, None
            )
        parts: list[str] = []
        first_token_s = None
        finish_reason = None
        usage = {}
        for line in self._stream_lines("/v1/chat/completions", self._body(request), request.model, timeouts, cancel):
            if line.startswith("error:"):  # llama.cpp's server reports a failure mid-stream as an `error` event
                raise RetryableError(f"{self.endpoint} error mid-stream: {line[6:].strip()[:500]}")
            if not line.startswith("data:"):
                continue
            payload = line[5:].strip()
            if payload == "[DONE]":
                break
            try:
                chunk = json.loads(payload)
            except json.JSONDecodeError as exc:
                raise RetryableError(f"{self.endpoint} sent a malformed SSE event: {payload[:120]!r}") from exc
            if "error" in chunk:
                raise RetryableError(f"{self.endpoint} error mid-stream: {chunk['error']}")
            usage = chunk.get("usage") or usage
            for choice in chunk.get("choices") or []:
                piece = (choice.get("delta") or {}).get("content") or ""
                if piece and first_token_s is None:
                    first_token_s = time.perf_counter() - started
                parts.append(piece)
                if cancel is not None and piece:
                    cancel.observe(piece)
                finish_reason = choice.get("finish_reason") or finish_reason
        if finish_reason is None:
            raise RetryableError(f"{self.endpoint} stream ended without a finish reason")
        return self._response(request, "".join(parts), finish_reason, usage, started, first_token_s)

    def _response(self, request, text, finish_reason, usage, started, first_token_s) -> ChatResponse:
        details = usage.get("prompt_tokens_details") or {}
        return ChatResponse(
            text=text,
            model=request.model,
            finish_reason="length" if finish_reason == "length" else "stop",
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            cached_prompt_tokens=int(details.get("cached_tokens") or 0),
            first_token_s=first_token_s,
            total_s=time.perf_counter() - started,
            endpoint=self.endpoint,
        )

    def embed(self, model: str, texts: list[str], timeouts: Timeouts) -> EmbedResponse:
        started = time.perf_counter()
        data = self._post_json("/v1/embeddings", {"model": model, "input": texts}, model, timeouts)
        rows = sorted(data.get("data") or [], key=lambda row: row["index"])
        if len(rows) != len(texts):
            raise RetryableError(f"{self.endpoint}/v1/embeddings returned {len(rows)} vectors for {len(texts)} inputs")
        return EmbedResponse(
            vectors=[row["embedding"] for row in rows],
            model=model,
            prompt_tokens=int((data.get("usage") or {}).get("prompt_tokens") or 0),
            total_s=time.perf_counter() - started,
            endpoint=self.endpoint,
        )

    def _list_models(self, timeouts: Timeouts) -> dict[str, ModelInfo]:
        data = self._get_json("/v1/models", timeouts)
        infos = {}
        for entry in data.get("data", []):
            # OpenAI-compatible servers publish no weight digest; hash what they do publish
            # (id, owner, llama.cpp's meta) so a swapped model changes the key. Not `created`:
            # llama.cpp and vLLM fill it with the time of the request, which would change the
            # digest (and so every cache key) every second.
            stable = {k: v for k, v in entry.items() if k != "created"}
            fingerprint = hashlib.sha256(json.dumps(stable, sort_keys=True).encode()).hexdigest()
            meta = entry.get("meta") or {}
            infos[entry["id"]] = ModelInfo(
                name=entry["id"], digest=f"meta:{fingerprint}", context_length=meta.get("n_ctx_train")
            )
        self._models = infos
        return infos

    def _info(self, model: str) -> ModelInfo:
        models = (
            self._models if self._models is not None else self._list_models(Timeouts(connect_s=3, first_token_s=10))
        )
        if model in models:
            return models[model]
        if len(models) == 1:
            # llama.cpp server answers for any model name with its single loaded model.
            return next(iter(models.values()))
        raise ModelMissing(model, self.endpoint, f"start the server with {model!r} loaded")

    def model_digest(self, model: str) -> str:
        return self._info(model).digest

    def parallel_slots(self) -> int | None:
        """llama.cpp's server lists its slots at `/slots`; vLLM and others have no such route."""
        try:
            slots = self._get_json("/slots", SIZING_TIMEOUTS)
        except (ModelMissing, RequestRejected):  # 404 (no such route), 401/403
            return None
        except RetryableError as exc:
            if exc.status == 501:  # llama.cpp started with --no-slots
                return None
            raise
        return len(slots) if isinstance(slots, list) and slots else None

    def health(self, models: list[str]) -> HealthReport:
        report = HealthReport(endpoint=self.endpoint, kind=self.kind, reachable=False)
        try:
            self._list_models(Timeouts(connect_s=3, first_token_s=10))
            report.reachable = True
        except LLMError as exc:
            report.problems.append(f"{self.endpoint} is not reachable: {exc}")
            return report
        for model in models:
            try:
                report.models[model] = self._info(model)
            except ModelMissing as exc:
                report.problems.append(str(exc))
        return report
