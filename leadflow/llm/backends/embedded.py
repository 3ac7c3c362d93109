"""The embedded llama.cpp engine (xllamacpp), in-process: the zero-setup default.

Models are loaded once per process and shared by every resource instance in it (Dagster may
build resources per step). Calls are synchronous and thread-safe; continuous batching across
`n_parallel` slots serves concurrent threads. A loaded engine also serves an OpenAI-compatible
HTTP API on 127.0.0.1 (`listening_address`), which the tests use to exercise the `openai`
backend against a real server.
"""

import importlib
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leadflow.llm.backends.base import Backend
from leadflow.llm.catalog import Catalog
from leadflow.llm.metrics import MODEL_LOADS
from leadflow.llm.model_store import ensure_artifact, verified_digest
from leadflow.llm.types import (
    Cancellation,
    ChatRequest,
    ChatResponse,
    EmbedResponse,
    HealthReport,
    LLMError,
    ModelInfo,
    RequestRejected,
    RetryableError,
    Timeouts,
)

if TYPE_CHECKING:
    from tokenizers import Tokenizer


class EngineHandle:
    """A loaded xllamacpp server for one model file and context size."""

    def __init__(self, path: Path, ctx_per_slot: int, n_parallel: int, threads: int, embedding: bool):
        import xllamacpp as xlc  # imported lazily: loading the native library costs ~0.2 s

        params = xlc.CommonParams()
        params.model.path = str(path)
        params.n_parallel = n_parallel
        params.n_ctx = ctx_per_slot * n_parallel
        params.n_batch = 512 if embedding else 2048
        params.n_ubatch = 512
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.verbosity = -1
        params.cache_prompt = True
        if embedding:
            params.embedding = True
            params.pooling_type = xlc.llama_pooling_type.LLAMA_POOLING_TYPE_MEAN
        started = time.perf_counter()
        self.server = xlc.Server(params)
        self.load_s = time.perf_counter() - started
        self.path = path
        self.ctx_per_slot = ctx_per_slot
        self.listening_address = self.server.listening_address


EMBED_MAX_PIECES = 254  # MiniLM's 256-token window less [CLS] and [SEP]

_ENGINES: dict[tuple, EngineHandle] = {}
_ENGINES_LOCK = threading.Lock()


def _check_error(result: dict) -> dict:
    error = result.get("error") if isinstance(result, dict) else None
    if error is None:
        return result
    code = error.get("code") if isinstance(error, dict) else None
    message = error.get("message") if isinstance(error, dict) else str(error)
    if code in (400, 422):
        raise RequestRejected(f"embedded engine rejected the request: {message}")
    raise RetryableError(f"embedded engine error {code}: {message}", status=code)


class EmbeddedBackend(Backend):
    kind = "embedded"
    tunable_slots = True

    def __init__(self, catalog: Catalog, model_dir: Path, n_parallel: int = 2, threads: int = 2):
        self.catalog = catalog
        self.model_dir = Path(model_dir)
        self.n_parallel = n_parallel
        self.threads = threads
        self.endpoint = f"embedded://{self.model_dir}"
        self._paths: dict[str, Path] = {}
        self._tokenizers: dict[str, Tokenizer] = {}

    def model_path(self, model: str) -> Path:
        if model not in self._paths:
            self._paths[model] = ensure_artifact(self.catalog.artifact(model), self.model_dir)
        return self._paths[model]

    def engine(self, model: str, num_ctx: int | None = None, embedding: bool = False) -> EngineHandle:
        """The loaded engine for `model` with this backend's slots and threads, reloading only
        when a larger context is needed. A load goes to `MODEL_LOADS`, where the metrics of
        whoever was tracking at the time count it."""
        path = self.model_path(model)
        wanted = num_ctx or (512 if embedding else 4096)
        key = (str(path), embedding, self.n_parallel, self.threads)  # a backend sized for 2 slots never gets 4
        with _ENGINES_LOCK:
            handle = _ENGINES.get(key)
            if handle is None or handle.ctx_per_slot < wanted:
                _ENGINES.pop(key, None)
                handle = EngineHandle(path, wanted, self.n_parallel, self.threads, embedding)
                _ENGINES[key] = handle
                MODEL_LOADS.add(model, handle.load_s)
            return handle

    def loaded_context(self, model: str) -> int | None:
        artifact = self.catalog.artifact(model)
        with _ENGINES_LOCK:
            for (path, embedding, _, _), handle in _ENGINES.items():
                if not embedding and Path(path).stem == artifact.name:
                    return handle.ctx_per_slot
        return None

    def model_digest(self, model: str) -> str:
        return "sha256:" + verified_digest(self.model_path(model))

    def parallel_slots(self) -> int:
        return self.n_parallel

    def sizing_context(self) -> str:
        return f"threads={self.threads}"

    def warm(self, model: str, keep_alive: str, embedding: bool = False) -> float:
        return self.engine(model, embedding=embedding).load_s

    def _body(self, request: ChatRequest) -> dict:
        body = {
            "messages": list(request.messages),
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "seed": request.seed,
            "cache_prompt": True,
        }
        if request.stop:
            body["stop"] = list(request.stop)
        if request.schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": request.schema},
            }
        return body

    def chat(self, request: ChatRequest, timeouts: Timeouts, cancel: Cancellation | None = None) -> ChatResponse:
        # In-process calls cannot be interrupted, so timeouts apply to the server backends only.
        handle = self.engine(request.model, request.num_ctx)
        started = time.perf_counter()
        body = self._body(request)
        if request.stream:
            text, finish_reason, timings, first_token_s = self._stream(handle, body, started, cancel)
        else:
            result = _check_error(handle.server.handle_chat_completions(body))
            choice = result["choices"][0]
            text, finish_reason, timings, first_token_s = (
                choice["message"].get("content") or "",
                choice.get("finish_reason"),
                result.get("timings") or {},
                None,
            )
        return ChatResponse(
            text=text,
            model=request.model,
            finish_reason="length" if finish_reason == "length" else "stop",
            prompt_tokens=int(timings.get("prompt_n", 0)) + int(timings.get("cache_n", 0)),
            completion_tokens=int(timings.get("predicted_n", 0)),
            cached_prompt_tokens=int(timings.get("cache_n", 0)),
            first_token_s=first_token_s,
            total_s=time.perf_counter() - started,
            endpoint=self.endpoint,
        )

    @staticmethod
    def _stream(
        handle: EngineHandle, body: dict, started: float, cancel: Cancellation | None = None
    ) -> tuple[str, str | None, dict, float | None]:
        parts: list[str] = []
        state: dict[str, Any] = {"finish": None, "timings": {}, "first": None, "error": None, "stopped": None}

        def on_chunk(chunk: dict) -> bool:
            """True stops the engine's generation (a watch rejected the answer so far)."""
            if "error" in chunk:
                state["error"] = chunk
                return False
            state["timings"] = chunk.get("timings") or state["timings"]
            for choice in chunk.get("choices") or []:
                piece = (choice.get("delta") or {}).get("content") or ""
                if piece and state["first"] is None:
                    state["first"] = time.perf_counter() - started
                parts.append(piece)
                state["finish"] = choice.get("finish_reason") or state["finish"]
                if cancel is not None and piece:
                    try:
                        cancel.observe(piece)
                    except LLMError as exc:
                        state["stopped"] = exc
                        return True
            return False

        handle.server.handle_chat_completions({**body, "stream": True}, on_chunk)
        if state["stopped"] is not None:
            raise state["stopped"]
        if state["error"] is not None:
            _check_error(state["error"])
        return "".join(parts), state["finish"], state["timings"], state["first"]

    def _truncated(self, model: str, texts: list[str]) -> list[str]:
        """Cut each text after the model's maximum sequence length (256 word pieces for MiniLM,
        as sentence-transformers does): the engine rejects longer inputs, and characters are no
        measure of tokens in, say, Greek text."""
        source = self.catalog.artifact(model).source
        if source.get("kind") != "minilm_safetensors":
            return texts
        if model not in self._tokenizers:
            from tokenizers import Tokenizer

            module = importlib.import_module(source["module"])
            tokenizer = Tokenizer.from_file(str(Path(module.get_model_path()) / "tokenizer.json"))
            tokenizer.no_truncation()
            tokenizer.no_padding()
            self._tokenizers[model] = tokenizer
        limit = EMBED_MAX_PIECES
        out = []
        for text, encoding in zip(
            texts, self._tokenizers[model].encode_batch(texts, add_special_tokens=False), strict=True
        ):
            out.append(text[: encoding.offsets[limit - 1][1]] if len(encoding.ids) > limit else text)
        return out

    def embed(self, model: str, texts: list[str], timeouts: Timeouts) -> EmbedResponse:
        handle = self.engine(model, embedding=True)
        started = time.perf_counter()
        result = _check_error(handle.server.handle_embeddings({"input": self._truncated(model, texts)}))
        rows = sorted(result["data"], key=lambda row: row["index"])
        return EmbedResponse(
            vectors=[row["embedding"] for row in rows],
            model=model,
            prompt_tokens=int((result.get("usage") or {}).get("prompt_tokens") or 0),
            total_s=time.perf_counter() - started,
            endpoint=self.endpoint,
        )

    def health(self, models: list[str]) -> HealthReport:
        report = HealthReport(endpoint=self.endpoint, kind=self.kind, reachable=True)
        try:
            import xllamacpp

            report.version = f"xllamacpp {getattr(xllamacpp, '__version__', '')}".strip()
        except ImportError:
            report.reachable = False
            report.problems.append("the embedded engine is not installed: pip install xllamacpp")
            return report
        for model in models:
            try:
                artifact = self.catalog.artifact(model)
                report.models[model] = ModelInfo(
                    name=model,
                    digest=self.model_digest(model),
                    quantization=artifact.quantization,
                    context_length=artifact.context_length,
                )
            except (LLMError, RuntimeError, ValueError) as exc:
                report.problems.append(str(exc))
        return report
