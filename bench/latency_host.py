"""A latency-bound LLM host for the scaling benchmark: an OpenAI-compatible chat route with a
fixed service time per request and a fixed number of slots, standing in for a remote GPU host
(a vLLM or Ollama server whose time per answer does not depend on this machine's two cores).

It answers every chat request with the same small JSON object after `service_s` in one of its
`slots` (requests beyond them wait, as on a real server with a full batch), streamed as SSE or
as one JSON body like llama.cpp's server. Figures measured against it are labelled
"latency-bound" in the results: they show how the pool and the workers scale when the hosts,
not this machine, set the pace.
"""

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CHAT = "/v1/chat/completions"


class LatencyHost:
    """`with LatencyHost(service_s, slots, answer) as host:` serves on `host.url`."""

    def __init__(self, service_s: float, slots: int, answer: dict[str, Any]) -> None:
        self.service_s, self.answer = service_s, json.dumps(answer)
        self.requests: Counter[str] = Counter()
        self._slots = threading.Semaphore(slots)
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> "LatencyHost":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _count(self, path: str) -> None:
        with self._lock:
            self.requests[path] += 1

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        host = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                host._count(self.path)
                self._send(200, json.dumps({"object": "list", "data": [{"id": "latency-host"}]}).encode())

            def do_POST(self) -> None:
                host._count(self.path)
                request = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if self.path != CHAT:
                    self._send(404, b'{"error": "not found"}')
                    return
                with host._slots:
                    time.sleep(host.service_s)
                usage = {"prompt_tokens": 50, "completion_tokens": 8, "total_tokens": 58}
                if not request.get("stream"):
                    message = {"role": "assistant", "content": host.answer}
                    choice = {"index": 0, "message": message, "finish_reason": "stop"}
                    self._send(200, json.dumps({"choices": [choice], "usage": usage}).encode())
                    return
                choice = {"index": 0, "delta": {"content": host.answer}, "finish_reason": "stop"}
                events = [{"choices": [choice]}, {"choices": [], "usage": usage}]
                body = "".join(f"data: {json.dumps(event)}\n\n" for event in events) + "data: [DONE]\n\n"
                self._send(200, body.encode(), "text/event-stream")

        return Handler
