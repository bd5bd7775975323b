"""`StandIn`: the account, its tokens and the server's runtime state behind one ThreadingHTTPServer,
with the routes that reach them (API v4 and OAuth, the control API, the page)."""

import threading
import time
from http.server import ThreadingHTTPServer
from typing import Any

from tools.amocrm_standin.api import Api
from tools.amocrm_standin.constants import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REDIRECT_URI,
    RATE_LIMIT,
)
from tools.amocrm_standin.control import Control
from tools.amocrm_standin.models import Account
from tools.amocrm_standin.page import render_page
from tools.amocrm_standin.runtime import Runtime
from tools.amocrm_standin.server import Handler, QuietServer, Request, Response, plain_json, problem
from tools.amocrm_standin.shapes import Event
from tools.amocrm_standin.tokens import Tokens
from tools.amocrm_standin.webhooks import post_each


class StandIn:
    """amoCRM in memory behind a ThreadingHTTPServer on 127.0.0.1; `start()` runs it in a thread."""

    def __init__(
        self,
        *,
        port: int = 0,
        webhook_timeout: float = 2.0,
        rate_limit: int = RATE_LIMIT,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        redirect_uri: str = DEFAULT_REDIRECT_URI,
    ) -> None:
        self.port = port
        # One lock for every part, so a reset or a control read sees them all at one moment.
        self.lock = threading.RLock()
        self.runtime = Runtime(lock=self.lock, rate_limit=rate_limit, webhook_timeout=webhook_timeout)
        self.tokens = Tokens(
            lock=self.lock, client_id=client_id, client_secret=client_secret, redirect_uri=redirect_uri
        )
        self.account = Account(lock=self.lock, base_url=lambda: self.base_url)
        self.api = Api(account=self.account, tokens=self.tokens, runtime=self.runtime, echo=self._echo)
        self.control = Control(
            account=self.account,
            tokens=self.tokens,
            runtime=self.runtime,
            reset=self.reset,
            deliver=self.deliver,
        )
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> "StandIn":
        self.server = QuietServer(("127.0.0.1", self.port), Handler.bound(self.handle))
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, args=(0.05,), name="amocrm-standin", daemon=True
        )
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        if self.thread is not None:
            self.thread.join(timeout=5)
            self.thread = None

    def __enter__(self) -> "StandIn":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        """Forget everything: data, tokens, failures, logs; settings and integration back to defaults."""
        with self.lock:
            self.runtime.reset()
            self.tokens.reset()
            self.account.reset()

    # -- dispatch ----------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        path = request.path
        if path in ("/", "/_standin", "/_standin/") and request.method == "GET":
            return Response(200, self.page().encode(), "text/html; charset=utf-8")
        if path.startswith("/_standin/"):
            if request.client not in ("127.0.0.1", "::1"):
                return plain_json(403, {"error": "the control API answers loopback only"})
            return self.control.answer(request)
        if path.startswith(("/oauth2/", "/api/v4/")):
            started = time.monotonic()
            response = self.runtime.block()  # a blocked account answers every call alike
            if response is not None:
                self.runtime.log_request(request, response.status, started, blocked=True)
                return response
            response = self.runtime.gate(path)  # the rate limit, an injected failure, latency
            if response is None:
                response = self.api.answer(request)
            self.runtime.log_request(request, response.status, started)
            return response
        return problem(404, "Not Found", "No such path")

    def page(self) -> str:
        return render_page(self.account, self.runtime.settings)

    # -- webhooks ----------------------------------------------------------------------------

    def _echo(self, events: list[Event]) -> None:
        """amoCRM fires webhooks for API changes too; delivered in the background, like amoCRM."""
        if events and self.runtime.settings["echo"] and self.account.webhooks:
            threading.Thread(target=self.deliver, args=(events,), daemon=True).start()

    def deliver(self, events: list[Event]) -> list[dict[str, Any]]:
        """POST each subscribed destination one form-encoded body with the events it asked for."""
        with self.lock:
            if not self.account.settings["deliver_webhooks"]:
                return []  # lost, as real hooks sometimes are: only reading back finds the change
            hooks = self.account.webhooks_active()
            account = self.account.webhook_account()
            timeout = self.runtime.settings["webhook_timeout"]
        results = post_each(events, hooks, account=account, timeout=timeout, log=self.runtime.log_delivery)
        for record in results:
            # No answer within the timeout, or not a 2xx, counts against the hook (amoCRM's rule).
            ok = record["status"] is not None and 200 <= record["status"] < 300
            self.account.webhook_delivered(record["destination"], ok=ok, at=record["at"])
        return results
