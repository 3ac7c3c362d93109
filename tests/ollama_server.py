"""A real HTTP server speaking Ollama's native wire protocol, backed by real inference.

Real Ollama cannot be installed on the test machines and no engine here serves `/api/*`, so
this server translates Ollama's protocol onto the embedded llama.cpp engine (xllamacpp, the
same engines `EmbeddedBackend` loads once per process): every answer that is not a scripted
fault comes from the model.

Routes: POST /api/chat (NDJSON streaming or one JSON object; `format` = JSON schema or "json";
`options.num_ctx/num_predict/temperature/seed/stop`), POST /api/embed, GET /api/tags,
GET /api/ps, GET /api/version. Unknown models answer 404 `{"error": "model 'x' not found"}`.

Loaded-model bookkeeping follows Ollama: a request whose `num_ctx` differs from the size the
model is loaded with counts as a reload (`loads`), and `/api/ps` reports the loaded size. The
real engine is shared and not reloaded; only the bookkeeping is Ollama's.

Fault injection: `inject(kind, ...)` queues scripted faults that requests consume in order
(thread-safe). Kinds: "503" (queue full), "500", "404", "400", "error_mid_stream",
"slow_first_token" (delay before the first byte, then a real answer), "reset" (close the
socket without a response), "malformed" (invalid JSON / NDJSON), "invalid_output"
(syntactically valid JSON that violates the schema). `requests` counts requests per path,
`inferences` those that reached the engine, and `max_in_flight` is the gauge of concurrent
inference requests (chat + embed); a request leaves the gauge just before its last bytes are
written, so a client that holds a slot until the response is fully read can never see more
in flight than its bound.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import select
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from leadflow.llm.backends.embedded import EmbeddedBackend
from leadflow.llm.types import LLMError, Timeouts
from tests.http_faults import reset_connection

# Ollama-style names -> catalog artifacts.
DEFAULT_MODELS = {
    "qwen2.5-coder:0.5b-instruct-q4_K_M": "qwen2.5-coder-0.5b-instruct-q4_k_m",
    "all-minilm:l6-v2": "all-minilm-l6-v2-q8_0",
}
FAULT_KINDS = (
    "503",
    "500",
    "404",
    "400",
    "error_mid_stream",
    "slow_first_token",
    "reset",
    "malformed",
    "invalid_output",
)
INFERENCE_PATHS = ("/api/chat", "/api/embed")
BUSY = "server busy, please try again.  maximum pending requests exceeded"
VERSION = "0.12.0-leadflow-test"
_NS = 1_000_000_000


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _client_gone(sock: socket.socket) -> bool:
    """True when the peer has closed its end (readable with nothing to read)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


@dataclass
class Fault:
    kind: str
    path: str = "/api/chat"  # "*" matches every path
    model: str | None = None  # None matches every model
    times: int | None = 1  # None: forever
    delay_s: float = 1.0  # slow_first_token
    chunks: int = 2  # error_mid_stream: content chunks before the error
    message: str = "llama runner process has terminated: exit status 2"
    content: str = '{"score": 999}'  # invalid_output
    retry_after: str | None = None  # 503: Retry-After header


@dataclass
class _Exchange:
    """Per-request state: leaves the in-flight gauge exactly once."""

    server: OllamaTestServer
    counted: bool = False
    done: bool = False

    def finish(self) -> None:
        if self.counted and not self.done:
            self.done = True
            self.server._leave()


@dataclass
class ModelEntry:
    name: str
    artifact: str
    digest: str
    embedding: bool
    quantization: str
    size: int
    family: str = field(default="")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ollama-test"
    timeout = 60  # idle keep-alive connections close after this

    # ---- plumbing ---------------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        return

    @property
    def app(self) -> OllamaTestServer:
        return self.server.app  # type: ignore[attr-defined]

    def setup(self) -> None:
        super().setup()
        self.app._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.app._track(self.connection, add=False)

    def send_json(
        self, status: int, obj: Any, headers: dict[str, str] | None = None, ex: _Exchange | None = None
    ) -> None:
        self.send_raw(status, json.dumps(obj).encode(), "application/json; charset=utf-8", headers, ex)

    def send_raw(
        self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None, ex: _Exchange | None = None
    ) -> None:
        if ex is not None:
            ex.finish()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def write_line(self, obj: Any | bytes) -> None:
        data = (obj if isinstance(obj, bytes) else json.dumps(obj).encode()) + b"\n"
        self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")

    def end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")

    def reset(self) -> None:
        """Drop the connection with a TCP RST and no response."""
        reset_connection(self)

    # ---- routes -----------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        path = self.path.split("?", 1)[0]
        body: dict = {}
        raw = b""
        if method == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
        app = self.app
        app._count(path)
        ex = _Exchange(app)
        if path in INFERENCE_PATHS:
            app._enter()
            ex.counted = True
        try:
            if method == "POST":
                try:
                    body = json.loads(raw or b"{}")
                    if not isinstance(body, dict):
                        raise ValueError("body is not an object")
                except ValueError as exc:
                    self.send_json(400, {"error": f"invalid request body: {exc}"}, ex=ex)
                    return
            route = {
                ("POST", "/api/chat"): app._chat,
                ("POST", "/api/embed"): app._embed,
                ("GET", "/api/tags"): app._tags,
                ("GET", "/api/ps"): app._ps,
                ("GET", "/api/version"): app._version,
                ("GET", "/"): app._root,
            }.get((method, path))
            if route is None:
                self.send_json(404, {"error": "404 page not found"}, ex=ex)
                return
            fault = app._take_fault(path, body.get("model"))
            if fault is not None and app._apply_fault(self, fault, body, ex):
                return
            route(self, body, ex)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True  # the client went away (e.g. its timeout fired)
        except OSError:
            self.close_connection = True
        finally:
            ex.finish()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, app: OllamaTestServer):
        self.app = app
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request, client_address) -> None:  # a dropped client is not a test failure
        return


class OllamaTestServer:
    """Start with `with OllamaTestServer(embedded) as server:`; its URL is `server.url`."""

    def __init__(
        self,
        engine: EmbeddedBackend,
        models: dict[str, str] | None = None,
        default_num_ctx: int = 4096,
        max_predict: int = 256,
    ):
        self.engine = engine
        self.default_num_ctx = default_num_ctx
        self.max_predict = max_predict
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._closing = threading.Event()
        self._connections: set[socket.socket] = set()
        self.requests: Counter[str] = Counter()
        self.inferences: Counter[str] = Counter()
        self.faults_served: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        self.loads = 0
        self.loaded: dict[str, int] = {}
        self.chat_bodies: list[dict] = []
        self.models: dict[str, ModelEntry] = {}
        for name, artifact_name in (models or DEFAULT_MODELS).items():
            self.add_model(name, artifact_name)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle ----------------------------------------------------------------------------

    def start(self) -> OllamaTestServer:
        self._httpd = _HTTPServer(self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="ollama-test", daemon=True
        )
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        assert isinstance(host, str)  # an AF_INET server: its address is a (host, port) pair
        return f"http://{host}:{port}"

    def close(self) -> None:
        self._closing.set()
        if self._httpd is None:
            return
        self._httpd.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> OllamaTestServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            (self._connections.add if add else self._connections.discard)(conn)

    # ---- models -------------------------------------------------------------------------------

    def add_model(self, name: str, artifact_name: str) -> ModelEntry:
        artifact = self.engine.catalog.artifact(artifact_name)
        path = self.engine.model_path(artifact_name)
        weights = self.engine.model_digest(artifact_name).removeprefix("sha256:")
        entry = ModelEntry(
            name=name,
            artifact=artifact_name,
            # Ollama's digest is the manifest's; derive one per name from the weights' sha256.
            digest=hashlib.sha256(f"{name}\n{weights}".encode()).hexdigest(),
            embedding=artifact.source.get("kind") == "minilm_safetensors",
            quantization=artifact.quantization,
            size=path.stat().st_size,
            family="bert" if artifact_name.startswith("all-minilm") else "qwen2",
        )
        with self._lock:
            self.models[name] = entry
        return entry

    def repull(self, name: str) -> str:
        """Simulate `ollama pull` fetching new weights under the same tag: a new digest."""
        with self._lock:
            entry = self.models[name]
            entry.digest = hashlib.sha256(f"repull\n{entry.digest}".encode()).hexdigest()
            self.loaded.pop(name, None)
            return entry.digest

    def set_loaded(self, name: str, num_ctx: int) -> None:
        """Pretend another client already loaded `name` with context `num_ctx`."""
        with self._lock:
            self.models[name]
            self.loaded[name] = num_ctx

    def _model(self, name: Any) -> ModelEntry | None:
        with self._lock:
            return self.models.get(name) if isinstance(name, str) else None

    # ---- faults and counters -------------------------------------------------------------------

    def inject(self, kind: str, *, times: int | None = 1, path: str = "/api/chat", **params: Any) -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; known: {FAULT_KINDS}")
        fault = Fault(kind=kind, path=path, times=times, **params)
        with self._lock:
            self._faults.append(fault)
        return fault

    def pending_faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take_fault(self, path: str, model: Any) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.path not in ("*", path) or (fault.model is not None and fault.model != model):
                    continue
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                self.faults_served[fault.kind] += 1
                return fault
        return None

    def _count(self, path: str) -> None:
        with self._lock:
            self.requests[path] += 1

    def _enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def reset_stats(self) -> None:
        with self._lock:
            self.requests.clear()
            self.inferences.clear()
            self.faults_served.clear()
            self.max_in_flight = self.in_flight
            self.chat_bodies.clear()

    # ---- fault responses -------------------------------------------------------------------------

    def _apply_fault(self, h: _Handler, fault: Fault, body: dict, ex: _Exchange) -> bool:
        """Serve `fault`; False means "go on with the real answer" (slow_first_token)."""
        kind = fault.kind
        model = body.get("model", "")
        stream = body.get("stream", True)
        if kind == "503":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
            h.send_json(503, {"error": BUSY}, headers, ex=ex)
        elif kind == "500":
            h.send_json(500, {"error": fault.message}, ex=ex)
        elif kind == "404":
            h.send_json(404, {"error": f"model '{model}' not found"}, ex=ex)
        elif kind == "400":
            h.send_json(400, {"error": "invalid options: num_ctx must be a positive integer"}, ex=ex)
        elif kind == "reset":
            ex.finish()
            h.reset()
        elif kind == "slow_first_token":
            # Interruptible by close(); a client whose first-token timeout fires goes away and
            # the late answer hits a closed socket, which the handler swallows.
            self._closing.wait(fault.delay_s)
            if self._closing.is_set() or _client_gone(h.connection):
                h.close_connection = True
                return True  # nobody is waiting for the answer: spare the engine
            return False
        elif kind == "error_mid_stream":
            if not stream:
                h.send_json(500, {"error": fault.message}, ex=ex)
                return True
            h.start_stream()
            for i in range(fault.chunks):
                h.write_line(self._chunk(model, f'{{"part{i}": ' if i == 0 else " 1"))
            ex.finish()
            h.write_line({"error": fault.message})
            h.end_stream()
        elif kind == "malformed":
            broken = b'{"model": "' + model.encode() + b'", "message": {"role": "assistant", "content": '
            if not stream:
                h.send_raw(200, broken, "application/json; charset=utf-8", ex=ex)
                return True
            h.start_stream()
            h.write_line(self._chunk(model, "{"))
            ex.finish()
            h.write_line(broken)
            h.end_stream()
        elif kind == "invalid_output":
            with self._lock:
                self.chat_bodies.append(body)
            entry = self._model(model)
            if entry is None:
                h.send_json(404, {"error": f"model '{model}' not found"}, ex=ex)
                return True
            self._respond_chat(
                h, model, [fault.content], "stop", {"predicted_n": 5}, 0.0, stream, time.perf_counter(), ex
            )
        return True

    # ---- real routes ---------------------------------------------------------------------------------

    def _root(self, h: _Handler, body: dict, ex: _Exchange) -> None:
        h.send_raw(200, b"Ollama is running", "text/plain; charset=utf-8", ex=ex)

    def _version(self, h: _Handler, body: dict, ex: _Exchange) -> None:
        h.send_json(200, {"version": VERSION}, ex=ex)

    def _details(self, entry: ModelEntry) -> dict:
        return {
            "parent_model": "",
            "format": "gguf",
            "family": entry.family,
            "families": [entry.family],
            "parameter_size": "23M" if entry.embedding else "494M",
            "quantization_level": entry.quantization,
        }

    def _tags(self, h: _Handler, body: dict, ex: _Exchange) -> None:
        with self._lock:
            entries = list(self.models.values())
        models = [
            {
                "name": e.name,
                "model": e.name,
                "modified_at": _now(),
                "size": e.size,
                "digest": e.digest,
                "details": self._details(e),
            }
            for e in entries
        ]
        h.send_json(200, {"models": models}, ex=ex)

    def _ps(self, h: _Handler, body: dict, ex: _Exchange) -> None:
        with self._lock:
            loaded = [(self.models[name], ctx) for name, ctx in self.loaded.items() if name in self.models]
        expires = (datetime.now(UTC) + timedelta(minutes=30)).isoformat().replace("+00:00", "Z")
        models = [
            {
                "name": e.name,
                "model": e.name,
                "size": e.size,
                "digest": e.digest,
                "details": self._details(e),
                "expires_at": expires,
                "size_vram": 0,
                "context_length": ctx,
            }
            for e, ctx in loaded
        ]
        h.send_json(200, {"models": models}, ex=ex)

    def _not_found(self, h: _Handler, model: Any, ex: _Exchange) -> None:
        h.send_json(404, {"error": f"model '{model}' not found"}, ex=ex)

    def _ensure_loaded(self, entry: ModelEntry, num_ctx: int) -> float:
        """Ollama reloads a model whose requested num_ctx differs from the loaded one."""
        started = time.perf_counter()
        with self._lock:
            reload = self.loaded.get(entry.name) != num_ctx
            if reload:
                self.loads += 1
                self.loaded[entry.name] = num_ctx
        if entry.embedding:
            self.engine.engine(entry.artifact, embedding=True)
        else:
            self.engine.engine(entry.artifact)  # the shared engine; never resized by a test
        return time.perf_counter() - started if reload else 0.0

    @staticmethod
    def _chunk(model: str, piece: str) -> dict:
        return {"model": model, "created_at": _now(), "message": {"role": "assistant", "content": piece}, "done": False}

    def _final(self, model: str, done_reason: str, timings: dict, load_s: float, started: float) -> dict:
        return {
            "model": model,
            "created_at": _now(),
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": done_reason,
            "total_duration": int((time.perf_counter() - started) * _NS),
            "load_duration": int(load_s * _NS),
            "prompt_eval_count": int(timings.get("prompt_n", 0)) + int(timings.get("cache_n", 0)),
            "prompt_eval_duration": int(float(timings.get("prompt_ms", 0)) * 1e6),
            "eval_count": int(timings.get("predicted_n", 0)),
            "eval_duration": int(float(timings.get("predicted_ms", 0)) * 1e6),
        }

    def _respond_chat(self, h, model, pieces, done_reason, timings, load_s, stream, started, ex) -> None:
        """Send already-generated `pieces` (fault answers) as Ollama would."""
        if not stream:
            final = self._final(model, done_reason, timings, load_s, started)
            final["message"]["content"] = "".join(pieces)
            h.send_json(200, final, ex=ex)
            return
        h.start_stream()
        for piece in pieces:
            h.write_line(self._chunk(model, piece))
        ex.finish()
        h.write_line(self._final(model, done_reason, timings, load_s, started))
        h.end_stream()

    def _engine_body(self, body: dict) -> dict:
        options = body.get("options") or {}
        if not isinstance(options, dict):
            raise ValueError("options must be an object")
        num_predict = int(options.get("num_predict", -1))
        payload: dict[str, Any] = {
            "messages": body["messages"],
            "max_tokens": num_predict if num_predict > 0 else self.max_predict,
            "temperature": float(options.get("temperature", 0.8)),
            "seed": int(options.get("seed", -1)),
            "cache_prompt": True,
        }
        if options.get("stop"):
            payload["stop"] = list(options["stop"])
        fmt = body.get("format")
        if isinstance(fmt, dict):
            payload["response_format"] = {"type": "json_schema", "json_schema": {"name": "output", "schema": fmt}}
        elif fmt == "json":
            payload["response_format"] = {"type": "json_object"}
        elif fmt not in (None, ""):
            raise ValueError(f"invalid format {fmt!r}")
        return payload

    def _chat(self, h: _Handler, body: dict, ex: _Exchange) -> None:
        started = time.perf_counter()
        entry = self._model(body.get("model"))
        if entry is None:
            self._not_found(h, body.get("model"), ex)
            return
        model = entry.name
        if entry.embedding:
            h.send_json(400, {"error": f'"{model}" does not support chat'}, ex=ex)
            return
        with self._lock:
            self.chat_bodies.append(body)
        messages = body.get("messages")
        stream = bool(body.get("stream", True))
        options = body.get("options") or {}
        try:
            num_ctx = int(options.get("num_ctx") or self.default_num_ctx) if isinstance(options, dict) else 0
            if num_ctx <= 0 or not isinstance(messages, list):
                raise ValueError("messages must be a list and num_ctx positive")
            payload = self._engine_body(body) if messages else None
        except (TypeError, ValueError, KeyError) as exc:
            h.send_json(400, {"error": f"invalid request: {exc}"}, ex=ex)
            return
        load_s = self._ensure_loaded(entry, num_ctx)
        if payload is None:  # an empty chat only loads the model (keep_alive warm-up)
            final = self._final(model, "load", {}, load_s, started)
            h.send_json(200, final, ex=ex)
            return
        with self._lock:
            self.inferences["/api/chat"] += 1
        handle = self.engine.engine(entry.artifact)
        if not stream:
            result = handle.server.handle_chat_completions(payload)
            error = result.get("error") if isinstance(result, dict) else None
            if error is not None:
                code = error.get("code", 500) if isinstance(error, dict) else 500
                message = error.get("message") if isinstance(error, dict) else str(error)
                h.send_json(400 if code in (400, 422) else 500, {"error": message}, ex=ex)
                return
            choice = result["choices"][0]
            done_reason = "length" if choice.get("finish_reason") == "length" else "stop"
            final = self._final(model, done_reason, result.get("timings") or {}, load_s, started)
            final["message"]["content"] = choice["message"].get("content") or ""
            h.send_json(200, final, ex=ex)
            return

        state: dict[str, Any] = {"started": False, "finish": None, "timings": {}, "error": None, "gone": False}

        def on_chunk(chunk: dict) -> bool:
            if "error" in chunk:
                state["error"] = chunk["error"]
                return False
            state["timings"] = chunk.get("timings") or state["timings"]
            for choice in chunk.get("choices") or []:
                state["finish"] = choice.get("finish_reason") or state["finish"]
                piece = (choice.get("delta") or {}).get("content") or ""
                if not piece:
                    continue
                try:
                    if not state["started"]:
                        h.start_stream()  # headers go out with the first token, as in Ollama
                        state["started"] = True
                    h.write_line(self._chunk(model, piece))
                except OSError:
                    state["gone"] = True
                    return True  # stop generating for a client that went away
            return False

        handle.server.handle_chat_completions({**payload, "stream": True}, on_chunk)
        if state["gone"]:
            h.close_connection = True
            return
        error = state["error"]
        if not state["started"]:
            if error is not None:
                message = error.get("message") if isinstance(error, dict) else str(error)
                code = error.get("code", 500) if isinstance(error, dict) else 500
                h.send_json(400 if code in (400, 422) else 500, {"error": message}, ex=ex)
                return
            h.start_stream()
        if error is not None:
            ex.finish()
            h.write_line({"error": error.get("message") if isinstance(error, dict) else str(error)})
            h.end_stream()
            return
        done_reason = "length" if state["finish"] == "length" else "stop"
        ex.finish()
        h.write_line(self._final(model, done_reason, state["timings"], load_s, started))
        h.end_stream()

    def _embed(self, h: _Handler, body: dict, ex: _Exchange) -> None:
        started = time.perf_counter()
        model = body.get("model")
        entry = self._model(model)
        if entry is None:
            self._not_found(h, model, ex)
            return
        if not entry.embedding:
            h.send_json(400, {"error": f'"{model}" does not support embeddings'}, ex=ex)
            return
        texts = body.get("input")
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            h.send_json(400, {"error": "invalid input: expected a string or a list of strings"}, ex=ex)
            return
        load_s = self._ensure_loaded(entry, 512)
        with self._lock:
            self.inferences["/api/embed"] += 1
        try:
            response = self.engine.embed(entry.artifact, texts, Timeouts())
        except LLMError as exc:
            h.send_json(500, {"error": str(exc)}, ex=ex)
            return
        vectors = []
        for vector in response.vectors:  # Ollama's /api/embed returns L2-normalized vectors
            arr = np.asarray(vector, dtype=np.float64)
            norm = float(np.linalg.norm(arr))
            vectors.append((arr / norm if norm > 0 else arr).tolist())
        h.send_json(
            200,
            {
                "model": model,
                "embeddings": vectors,
                "total_duration": int((time.perf_counter() - started) * _NS),
                "load_duration": int(load_s * _NS),
                "prompt_eval_count": response.prompt_tokens,
            },
            ex=ex,
        )
