"""A real OpenAI-compatible LLM server in a process of its own, for the fault tests.

The process loads the small model into llama.cpp (xllamacpp, whose HTTP server speaks the
OpenAI routes) and puts a front on a port of the test's choosing, the same one after a restart
as a restarted server would have. The front forwards every request to llama.cpp and streams its
bytes back unchanged; on request it serves instead a fault that such servers produce:

- "503": llama.cpp's answer while the model loads (vLLM's when its queue is full), with an
  optional Retry-After;
- "slow_first_token": the answer held back `delay_s` before its first byte (a stream's headers go
  out at once, as vLLM sends them), then the real answer;
- "bad_json": a completion whose content is not JSON (a model answering without a grammar),
  streamed in 4-character pieces `pace_s` apart (counted as `bad_json_pieces` once written: a
  client that stops reading early is seen to have made the server write fewer);
- "cut_stream": `chunks` real SSE events, then the connection reset (a server dying mid-answer);
- "error_event": `chunks` real SSE events, then an error event in `style` "openai"
  (`data: {"error": ...}`) or "llamacpp" (`error: {...}`, what llama.cpp's server sends).

Killing the process (SIGKILL) is the server dying. Control routes on the same port:
POST /test/faults (a list of faults), GET /test/stats (chat requests received, faults served, and
real answers given without a fault, each counted once written: a client may have it a moment
before it is counted), POST /test/reset.

`python -m tests.faults.llm_server --model-dir DIR [--port N]` prints `READY <port>` once it serves.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

import httpx

from leadflow.paths import PROJECT_ROOT
from tests.http_faults import reset_connection

CHAT = "/v1/chat/completions"
ARTIFACT = "qwen2.5-coder-0.5b-instruct-q4_k_m"
LOADING = {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}
ENGINE_DIED = "llama runner process has terminated: exit status 2"
FAULT_KINDS = ("503", "slow_first_token", "bad_json", "cut_stream", "error_event")
START_TIMEOUT_S = 180.0  # the first start may assemble the model file from its packages


@dataclass
class Fault:
    kind: str
    model: str | None = None  # None matches every model
    times: int | None = 1  # None: every request from now on
    retry_after: str | None = None  # 503
    delay_s: float = 1.0  # slow_first_token
    content: str = '{"verdict": "ye'  # bad_json: a JSON object cut short
    pace_s: float = 0.0  # bad_json, streamed: seconds between pieces (a model's decode pace)
    chunks: int = 2  # cut_stream, error_event: real SSE events sent before the fault
    style: str = "openai"  # error_event


class _State:
    """Queued faults and counters, shared by the request threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.faults: list[Fault] = []
        self.counts: Counter[str] = Counter()

    def take(self, model: Any) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.model not in (None, model):
                    continue
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                self.counts[f"fault:{fault.kind}"] += 1
                return fault
        return None

    def count(self, name: str) -> None:
        with self.lock:
            self.counts[name] += 1


def _sse(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def _completion(model: str, content: str) -> dict:
    return {
        "id": "chatcmpl-fault",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 30, "completion_tokens": 6, "total_tokens": 36},
    }


def _chunk(model: str, delta: dict, finish_reason: str | None = None) -> dict:
    return {
        "id": "chatcmpl-fault",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Front

    def log_message(self, format: str, *args: Any) -> None:
        return

    # ---- plumbing -------------------------------------------------------------------------------

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def _write(self, data: bytes) -> None:
        """One HTTP chunk (an empty one ends the body)."""
        self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _reset(self) -> None:
        """Drop the connection with a TCP RST, as the kernel does for a process that died."""
        reset_connection(self)

    # ---- routes ---------------------------------------------------------------------------------

    def do_GET(self) -> None:
        if self.path == "/test/stats":
            with self.server.state.lock:
                self._reply(200, json.dumps(dict(self.server.state.counts)).encode())
            return
        self._forward("GET", b"")

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        state = self.server.state
        if self.path == "/test/faults":
            faults = [Fault(**spec) for spec in json.loads(raw)]
            unknown = [f.kind for f in faults if f.kind not in FAULT_KINDS]
            if unknown:
                self._reply(400, json.dumps({"error": f"unknown faults {unknown}"}).encode())
                return
            with state.lock:
                state.faults.extend(faults)
            self._reply(200, b"{}")
            return
        if self.path == "/test/reset":
            with state.lock:
                state.faults.clear()
                state.counts.clear()
            self._reply(200, b"{}")
            return
        fault = None
        if self.path == CHAT:
            state.count("chat")
            try:
                body = json.loads(raw)
            except ValueError:
                body = {}  # llama.cpp answers it with a 400
            fault = state.take(body.get("model"))
        try:
            if fault is None:
                self._forward("POST", raw)
            else:
                self._serve(fault, body, raw)
        except OSError:
            self.close_connection = True  # the client went away (its timeout fired)

    # ---- the real answer ------------------------------------------------------------------------

    def _forward(self, method: str, raw: bytes, fault: Fault | None = None) -> None:
        """llama.cpp's answer, streamed through as it comes; `fault` delays or breaks it."""
        upstream = self.server.upstream
        with upstream.stream(method, self.path, content=raw or None, headers={"Content-Type": "application/json"}) as r:
            if not r.headers.get("content-type", "").startswith("text/event-stream"):
                body = r.read()
                if fault is not None and fault.kind == "cut_stream":
                    self._reset()
                    return
                if fault is not None and fault.kind == "error_event":
                    self._reply(500, json.dumps({"error": {"code": 500, "message": ENGINE_DIED}}).encode())
                    return
                if fault is not None:  # slow_first_token
                    time.sleep(fault.delay_s)
                self._reply(r.status_code, body)
                if self.path == CHAT and r.status_code == 200 and fault is None:
                    self.server.state.count("answered")
                return
            self._start_stream()
            if fault is not None and fault.kind == "slow_first_token":
                time.sleep(fault.delay_s)
            events = 0
            for line in r.iter_lines():
                if fault is not None and line.startswith("data:") and events == fault.chunks:
                    if fault.kind == "cut_stream":
                        self._reset()
                        return
                    if fault.kind == "error_event":
                        error = {"code": 500, "message": ENGINE_DIED, "type": "server_error"}
                        event = _sse({"error": error}) if fault.style == "openai" else self._llamacpp_error(error)
                        self._write(event)
                        self._write(b"")
                        return
                self._write(line.encode() + b"\n")
                events += line.startswith("data:")
                if line == "data: [DONE]" and fault is None:  # a late answer nobody waits for is none
                    self.server.state.count("answered")  # now: a client done at [DONE] may be gone next
            self._write(b"")

    @staticmethod
    def _llamacpp_error(error: dict) -> bytes:
        return b"error: " + json.dumps(error).encode() + b"\n\n"

    # ---- faults ---------------------------------------------------------------------------------

    def _serve(self, fault: Fault, body: dict, raw: bytes) -> None:
        model = str(body.get("model", ""))
        if fault.kind == "503":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
            self._reply(503, json.dumps(LOADING).encode(), headers)
        elif fault.kind == "bad_json":
            if not body.get("stream"):
                self._reply(200, json.dumps(_completion(model, fault.content)).encode())
                return
            self._start_stream()
            self._write(_sse(_chunk(model, {"role": "assistant", "content": None})))
            for start in range(0, len(fault.content), 4):
                self._write(_sse(_chunk(model, {"content": fault.content[start : start + 4]})))
                self.server.state.count("bad_json_pieces")
                time.sleep(fault.pace_s)
            self._write(_sse(_chunk(model, {}, "stop")))
            self._write(b"data: [DONE]\n\n")
            self._write(b"")
        else:  # slow_first_token, cut_stream, error_event: the real answer, delayed or broken
            self._forward("POST", raw, fault)


class _Front(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True  # a restart binds the port its predecessor held

    def __init__(self, port: int, upstream: httpx.Client) -> None:
        self.state = _State()
        self.upstream = upstream
        super().__init__(("127.0.0.1", port), _Handler)

    def handle_error(self, request, client_address) -> None:  # a client that went away
        return


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)  # one thread: far faster on a busy 2-core machine
    args = parser.parse_args()

    from leadflow.llm.backends.embedded import EmbeddedBackend
    from leadflow.llm.catalog import load_catalog
    from leadflow.paths import RESOURCES_DIR

    engines = EmbeddedBackend(load_catalog(RESOURCES_DIR / "models.yaml"), Path(args.model_dir), 2, args.threads)
    engine = engines.engine(ARTIFACT, 1024)
    front = _Front(args.port, httpx.Client(base_url=engine.listening_address, timeout=None))
    print(f"READY {front.server_port}", flush=True)
    front.serve_forever(poll_interval=0.05)


# ---- the tests' side ------------------------------------------------------------------------------


class LLMServer:
    """The server process, as the tests drive it: start, inject faults, read counts, kill, restart."""

    def __init__(self, model_dir: Path) -> None:
        self.model_dir = model_dir
        self.port = 0
        self.process: subprocess.Popen[str] | None = None
        self._log: IO[bytes] | None = None
        self._control = httpx.Client(timeout=10.0)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LLMServer:
        """Start the process on the port it had before (a free one the first time)."""
        command = [sys.executable, "-m", "tests.faults.llm_server", "--model-dir", str(self.model_dir)]
        if self._log is not None:
            self._log.close()
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - the server's stderr, kept until close()
        process = subprocess.Popen(
            [*command, "--port", str(self.port)],
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            start_new_session=True,
        )
        self.process = process
        ready: list[str] = []
        reader = threading.Thread(target=lambda: ready.append(process.stdout.readline() if process.stdout else ""))
        reader.start()
        reader.join(START_TIMEOUT_S)
        if not ready or not ready[0].startswith("READY "):
            self.kill()
            self._log.seek(0)
            raise RuntimeError(f"the LLM server process did not start: {self._log.read()[-2000:]!r}")
        self.port = int(ready[0].split()[1])
        return self

    def inject(self, kind: str, **params: Any) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; known: {FAULT_KINDS}")
        self._control.post(f"{self.url}/test/faults", json=[asdict(Fault(kind, **params))]).raise_for_status()

    def stats(self) -> Counter[str]:
        response = self._control.get(f"{self.url}/test/stats")
        response.raise_for_status()
        return Counter(response.json())

    def reset(self) -> None:
        self._control.post(f"{self.url}/test/reset").raise_for_status()

    def kill(self) -> None:
        """SIGKILL: no cleanup, open connections reset by the kernel."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def close(self) -> None:
        self.kill()
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        if self._log is not None:
            self._log.close()
        self._control.close()


if __name__ == "__main__":
    main()
