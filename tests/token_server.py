"""A real HTTP server speaking the OpenAI-compatible routes leadflow reads, guarded by a bearer
token: for the tests that a secret reaches the server and nothing else (output, logs, reprs).

GET /v1/models lists one model to a caller with the token and answers 401 to anyone else;
POST /v1/chat/completions always fails with a 500 whose body names the failure, so every error
path of the backend and the client (retries, fallbacks, their log lines) runs.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL = "stub-model"


class TokenServer:
    def __init__(self, token: str) -> None:
        self.token = token
        self.authorizations: list[str] = []  # the Authorization header of every request
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep pytest output clean
                pass

            def _reply(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorized(self) -> bool:
                header = self.headers.get("Authorization", "")
                server.authorizations.append(header)
                return header == f"Bearer {server.token}"

            def do_GET(self) -> None:
                if not self._authorized():
                    self._reply(401, {"error": {"message": "invalid api key", "type": "invalid_request_error"}})
                elif self.path == "/v1/models":
                    self._reply(200, {"object": "list", "data": [{"id": MODEL, "object": "model"}]})
                else:
                    self._reply(404, {"error": f"no route {self.path}"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                if not self._authorized():
                    self._reply(401, {"error": {"message": "invalid api key"}})
                else:
                    self._reply(500, {"error": {"message": "the engine crashed"}})

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_port}"

    def __enter__(self) -> TokenServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
