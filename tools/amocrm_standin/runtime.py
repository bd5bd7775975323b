"""How the stand-in behaves as a server rather than as an account: its settings (latency, rate limit,
webhook echo and timeout, a blocked account, 400s keyed by lead id), injected failures (whole answers,
or one lead's validation), the rate-limit window, and the logs of what it received and what webhooks
it sent. `block()` and `gate()` apply them to an API request before it is routed.
"""

import collections
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from tools.amocrm_standin.constants import NGINX_403
from tools.amocrm_standin.server import Request, Response, empty, problem
from tools.amocrm_standin.validation import ControlError, is_int, parse_bool

BLOCKED = (None, "402", "403")  # `blocked`: not blocked, the plan lapsed, the account is blocked


class Runtime:
    """Settings, failures and logs; `reset()` clears them and restores the settings given here."""

    def __init__(
        self,
        *,
        lock: threading.RLock,
        rate_limit: int,
        webhook_timeout: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lock = lock
        self.clock = clock  # the rate limit's one-second window; tests move it instead of sleeping
        self._defaults = {"rate_limit": rate_limit, "webhook_timeout": webhook_timeout}
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.settings: dict[str, Any] = {
                "latency": 0.0,
                "rate_limit": self._defaults["rate_limit"],
                "echo": True,
                "webhook_timeout": self._defaults["webhook_timeout"],
                "blocked": None,
                "errors_by_id": False,  # a PATCH /leads 400 as {"errors": {"<lead id>": "…"}}
            }
            self.failures: list[dict[str, Any]] = []
            self.rejected: dict[int, str] = {}  # lead id → the message its validation fails with
            self.blocked_calls = 0
            self.hits: collections.deque[float] = collections.deque()
            self.requests: list[dict[str, Any]] = []
            self.deliveries: list[dict[str, Any]] = []

    # -- before a request is routed ------------------------------------------------------------

    def block(self) -> Response | None:
        """While the account is blocked, every API and OAuth call gets the same answer (and is counted):
        403 with nginx's HTML page (amocrm-api-php issue 434), or 402 as a problem for a lapsed plan."""
        with self.lock:
            blocked = self.settings["blocked"]
            if blocked is None:
                return None
            self.blocked_calls += 1
        if blocked == "403":
            return Response(403, NGINX_403.encode(), "text/html")
        return problem(402, "Payment Required", "The account's paid period is over")

    def gate(self, path: str) -> Response | None:
        """A 429 over the rate limit, an injected failure, or None (after any latency) to go on."""
        if path.startswith("/api/v4/") and not self._take_rate_slot():
            return empty(429)  # amoCRM's 429 may come with no body at all
        failure = self._take_failure(path)
        if failure is not None:
            if "timeout" in failure:
                time.sleep(failure["timeout"])  # then answer normally: the client has given up already
            else:
                status = failure["status"]
                if status == 429:
                    return empty(429)
                return problem(status, "Injected failure", f"the stand-in was told to answer {status}")
        if self.settings["latency"]:
            time.sleep(self.settings["latency"])
        return None

    def _take_rate_slot(self) -> bool:
        now = self.clock()
        with self.lock:
            while self.hits and self.hits[0] <= now - 1.0:
                self.hits.popleft()
            if len(self.hits) >= self.settings["rate_limit"]:
                return False
            self.hits.append(now)
            return True

    def _take_failure(self, path: str) -> dict[str, Any] | None:
        with self.lock:
            for failure in self.failures:
                if path.startswith(failure.get("path") or "/"):
                    failure["count"] -= 1
                    if failure["count"] <= 0:
                        self.failures.remove(failure)
                    return failure
        return None

    # -- logs ----------------------------------------------------------------------------------

    def log_request(self, request: Request, status: int, started: float, *, blocked: bool = False) -> None:
        body = None
        if request.raw:
            try:
                body = json.loads(request.raw)
            except ValueError:
                body = request.raw.decode(errors="replace")[:2000]
        with self.lock:
            self.requests.append(
                {
                    "method": request.method,
                    "path": request.path,
                    "query": {k: v if len(v) > 1 else v[0] for k, v in request.query.items()},
                    "status": status,
                    "at": time.time(),
                    "duration_ms": int((time.monotonic() - started) * 1000),
                    "body": body,
                    "blocked": blocked,
                }
            )

    def log_delivery(self, record: dict[str, Any]) -> None:
        with self.lock:
            self.deliveries.append(record)

    # -- what the control API does ------------------------------------------------------------

    def inject_failure(
        self, *, count: int = 1, status: int | None = None, timeout: float | None = None, path: str = "/"
    ) -> list[dict[str, Any]]:
        """The next `count` API requests (under `path`) answer `status`, or sleep `timeout` seconds first."""
        if not is_int(count) or count < 1:
            raise ControlError("count must be a positive integer")
        if (status is None) == (timeout is None):
            raise ControlError("send either status (e.g. 500, 503, 429) or timeout (seconds)")
        failure: dict[str, Any] = {"count": count, "path": path}
        if status is not None:
            if not is_int(status) or not 400 <= status <= 599:
                raise ControlError("status must be an HTTP error status")
            failure["status"] = status
        else:
            if not isinstance(timeout, int | float) or timeout < 0:
                raise ControlError("timeout must be a number of seconds")
            failure["timeout"] = float(timeout)
        with self.lock:
            self.failures.append(failure)
            return [dict(f) for f in self.failures]

    def clear_failures(self) -> None:
        with self.lock:
            self.failures.clear()
            self.rejected.clear()

    def reject(self, lead_id: int, message: str | None = None) -> dict[int, str]:
        """Every PATCH that includes `lead_id` fails validation for it, until `unreject`."""
        if message is not None and (not isinstance(message, str) or not message.strip()):
            raise ControlError("message must be a non-empty string")
        with self.lock:
            self.rejected[lead_id] = message or "The lead cannot be changed"
            return dict(self.rejected)

    def unreject(self, lead_id: int) -> dict[int, str]:
        with self.lock:
            self.rejected.pop(lead_id, None)
            return dict(self.rejected)

    def checked_settings(self, data: dict[str, Any]) -> dict[str, Any]:
        """`data` (keys of `settings` only) in its stored form, or ControlError."""
        checked: dict[str, Any] = {}
        for key, value in data.items():
            if key in ("echo", "errors_by_id"):
                value = parse_bool(key, value)
            elif key == "blocked":
                value = None if value in (None, False, "", "null", "none") else str(value)
                if value not in BLOCKED:
                    raise ControlError('blocked must be "403", "402" or null')
            else:
                try:
                    value = float(value)
                except (TypeError, ValueError):
                    raise ControlError(f"{key} must be a number") from None
                if key == "rate_limit":
                    value = int(value)
            checked[key] = value
        return checked

    def configure(self, **data: Any) -> dict[str, Any]:
        """latency (seconds before every API answer), rate_limit (per second), echo, webhook_timeout,
        blocked ("403", "402" or null), errors_by_id."""
        checked = self.checked_settings(data)
        with self.lock:
            self.settings.update(checked)
            if checked.get("blocked"):
                self.blocked_calls = 0  # counts the calls of this block
            return dict(self.settings)
