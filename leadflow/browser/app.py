"""The lead browser: a Starlette app over the published views, for `leadflow serve`.

Reads are short read-only connections opened per request (`waiting_connection`): while a
pipeline run holds the warehouse for a write the request waits for it (seconds at most; a
run never holds the file across LLM calls), and never holds the file itself longer than one
query. A good/bad click is a short read-write connection that waits the same way, so a label
given during a run lands as soon as the run's write is committed.

Only loopback is served, and only to whoever has the address `leadflow serve` printed: its
random token becomes a SameSite=Strict, HttpOnly cookie (another local user, or a page open in
the same browser, cannot read leads or write labels). Pages carry a Content-Security-Policy
that allows only this server's own script and stylesheet, on top of escaped templates.
"""

import secrets
import socket
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import duckdb
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from leadflow.browser.leads import Filters, LeadList, lead_detail, list_leads
from leadflow.browser.render import STATIC, render
from leadflow.storage.connections import LOCK_WAIT_S, WarehouseMissing, is_lock_conflict, waiting_connection
from leadflow.storage.labels import LABELS, Label, LabelError, write_labels

LOOPBACK = "127.0.0.1"  # the only address served
COOKIE = "leadflow_token"
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class BrowserSettings:
    database: str  # the warehouse file
    labeled_by: str  # who the labels given here are by
    token: str  # what the printed address carries
    wait_s: float = LOCK_WAIT_S  # how long a request waits for a pipeline run's write
    lease_url: str = ""  # the cluster's writer lease, when several hosts share the file

    def connect(self, read_only: bool) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        return waiting_connection(self.database, read_only, self.wait_s, self.lease_url)


class TokenGate(BaseHTTPMiddleware):
    """Every request needs the token: from the printed address (`?token=`, then kept as a cookie
    and dropped from the address) or the cookie."""

    def __init__(self, app: Any, token: str) -> None:
        super().__init__(app)
        self.token = token

    async def dispatch(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        given = request.query_params.get("token")
        if given is not None and secrets.compare_digest(given, self.token):
            query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "token"])
            response: Response = RedirectResponse(request.url.path + (f"?{query}" if query else ""), status_code=303)
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="strict", path="/")
        elif secrets.compare_digest(request.cookies.get(COOKIE, ""), self.token):
            response = await call_next(request)
        else:
            response = HTMLResponse("Open the address `leadflow serve` printed (it carries the access token).", 403)
        response.headers.update(HEADERS)
        return response


def create_app(settings: BrowserSettings) -> Starlette:
    def page(template: str, status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(render(template, standalone=False, **context), status)

    def leads_page(request: Request) -> HTMLResponse:
        filters = Filters.from_params(request.query_params)
        try:
            with settings.connect(read_only=True) as conn:
                view = list_leads(conn, filters)
            missing = "" if view.total else "No published lead yet: a run publishes them once its checks pass."
        except WarehouseMissing as exc:
            view, missing = LeadList([], 0, 0, [], [], []), str(exc)
        return page("leads.html", title="Leads", filters=filters, view=view, missing=missing)

    def lead_page(request: Request) -> HTMLResponse:
        signal_id = request.path_params["signal_id"]
        try:
            with settings.connect(read_only=True) as conn:
                detail = lead_detail(conn, signal_id)
        except WarehouseMissing as exc:
            return page("message.html", 404, title="No warehouse", message=str(exc))
        if detail is None:
            return page("message.html", 404, title="Not found", message=f"No published lead {signal_id!r}.")
        return page("lead.html", title=detail.lead.title or signal_id, detail=detail)

    def store(label: Label) -> None:
        with settings.connect(read_only=False) as conn:
            write_labels(conn, [label])

    async def post_label(request: Request) -> JSONResponse:
        # JSON only: a cross-site form cannot send it without a preflight this server never answers.
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return JSONResponse({"error": "send JSON: {signal_id, label}"}, 415)
        try:
            body = await request.json()
            label = Label(
                signal_id=str(body["signal_id"]),
                label=str(body["label"]),
                source="browser",
                labeled_by=settings.labeled_by,
            )
            await run_in_threadpool(store, label)
        except (ValueError, KeyError, TypeError) as exc:  # LabelError is a ValueError; so is bad JSON
            message = str(exc) if isinstance(exc, LabelError) else f"expected {{signal_id, label: {'|'.join(LABELS)}}}"
            return JSONResponse({"error": message}, 400)
        except WarehouseMissing as exc:
            return JSONResponse({"error": str(exc)}, 503)
        return JSONResponse({"signal_id": label.signal_id, "label": label.label})

    def warehouse_error(request: Request, exc: Exception) -> Response:
        """A run that held the warehouse past the wait: busy, try again (any other error: 500)."""
        busy = is_lock_conflict(exc)
        message = "The warehouse stayed busy (a pipeline run is writing): try again." if busy else str(exc)
        status = 503 if busy else 500
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": message}, status)
        return page("message.html", status, title="Busy" if busy else "Error", message=message)

    return Starlette(
        exception_handlers={duckdb.Error: warehouse_error},
        routes=[
            Route("/", leads_page),
            Route("/lead/{signal_id:path}", lead_page),
            Route("/api/labels", post_label, methods=["POST"]),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        middleware=[Middleware(TokenGate, token=settings.token)],
    )


def new_token() -> str:
    return secrets.token_urlsafe(24)


def serve(settings: BrowserSettings, port: int, announce: Callable[[str], None]) -> None:
    """Serve the browser on 127.0.0.1:`port` (0 = a free port) until interrupted; `announce`
    gets the address to open (with the token) once the port is bound."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOOPBACK, port))
    announce(f"http://{LOOPBACK}:{sock.getsockname()[1]}/?token={settings.token}")
    uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning")).run(sockets=[sock])
