"""HTTP plumbing: the request and response values the routes trade, the answers amoCRM gives (HAL,
problem+json, an empty 204/429), and the stdlib handler and server that carry them.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Any
    raw: bytes
    client: str = "127.0.0.1"

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    @property
    def is_form(self) -> bool:
        return "application/x-www-form-urlencoded" in (self.headers.get("Content-Type") or "")


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def hal(status: int, body: Any) -> Response:
    return Response(status, json.dumps(body, ensure_ascii=False).encode(), "application/hal+json")


def plain_json(status: int, body: Any) -> Response:
    return Response(status, json.dumps(body, ensure_ascii=False).encode(), "application/json")


def problem(status: int, title: str, detail: str = "", **extra: Any) -> Response:
    body = {"title": title, "type": f"https://httpstatus.es/{status}", "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return Response(status, json.dumps(body, ensure_ascii=False).encode(), "application/problem+json")


def empty(status: int = 204) -> Response:
    return Response(status)


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (an injected timeout) closes the socket before the answer: not an error.
        pass


class Handler(BaseHTTPRequestHandler):
    """Turns each HTTP request into a `Request` for `app` and writes back its `Response`."""

    protocol_version = "HTTP/1.1"
    server_version = "amoCRM-standin/1.0"
    timeout = 30  # idle keep-alive connections end, so threads do not pile up
    # Headers and body go out as two writes; with Nagle on, the body waits for the client's delayed
    # ACK of the headers: 40 ms added to every answer on a kept-alive connection.
    disable_nagle_algorithm = True
    app: Callable[[Request], Response]

    @classmethod
    def bound(cls, app: Callable[[Request], Response]) -> type["Handler"]:
        """A handler class for the server to instantiate per connection, answering with `app`."""
        return type("BoundHandler", (cls,), {"app": staticmethod(app)})

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        request = Request(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers=self.headers,
            raw=raw,
            client=self.client_address[0],
        )
        try:
            response = self.app(request)
        except Exception as e:  # a bug in the stand-in: answer, so the client does not hang
            response = problem(500, "Stand-in error", f"{type(e).__name__}: {e}")
        self.send_response(response.status)
        if response.content_type:
            self.send_header("Content-Type", response.content_type)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.status != 204:
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if response.status != 204 and response.body:
            self.wfile.write(response.body)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log lives in /_standin/requests
