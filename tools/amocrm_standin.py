"""A local amoCRM stand-in: API v4 and OAuth as ../shared/amocrm-api.md describes them, in memory.

Run it: `python tools/amocrm_standin.py --port 8911` (127.0.0.1 only), or in-process from a test:
`standin = StandIn(port=0); standin.start(); ...; standin.stop()`.

It is as strict as amoCRM: custom field values by a field id or code of that entity only (never a
name), dates as integers, select values as existing enums, integer prices and ids, batch limits,
single-use codes and refresh tokens, a 401 for a missing or expired token, 204 with no body for
"nothing there", and 429 (empty body) above 7 API requests in any second.

A control API under /_standin/ (JSON or form-encoded, no auth) sets the integration up, creates
auth codes and long-lived tokens, expires tokens, injects failures and latency, resets the state,
shows what was received, and plays a manager who edits a lead — which posts amoCRM's form-encoded,
v2-shaped webhook to every subscribed destination. Changes made through the API fire the same
webhooks (amoCRM's "echo"), unless `echo` is switched off. `/` is a small HTML page over the same.
"""

import argparse
import collections
import datetime
import html
import json
import math
import re
import secrets
import signal
import threading
import time
import urllib.error
import urllib.request
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

MOSCOW = zoneinfo.ZoneInfo("Europe/Moscow")
ACCOUNT_ID = 31000001
SUBDOMAIN = "flowers"
API_USER_ID = 8000001  # the integration's own user: the author of API changes
MANAGER_USER_ID = 8000002  # the manager the control API plays
PIPELINE_ID = 7000001
WON, LOST = 142, 143
DEFAULT_CLIENT_ID = "standin-client-id"
DEFAULT_CLIENT_SECRET = "standin-client-secret"  # noqa: S105 - a fake credential for local runs
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8000/amocrm/oauth/callback/"
HIDDEN = "***"
CODE_LIFETIME = 20 * 60
ACCESS_LIFETIME = 86400
REFRESH_LIFETIME = 90 * 86400
LONG_LIVED_LIFETIME = 5 * 365 * 86400
RATE_LIMIT = 7  # requests per second, whole server
MAX_LEADS_BATCH = 250
MAX_COMPLEX_BATCH = 50
MAX_PAGE_LIMIT = 250
DEFAULT_PAGE_LIMIT = 50
TEXT_MAX_LENGTH = 256
FIELD_TYPES = {
    "text",
    "textarea",
    "numeric",
    "select",
    "multiselect",
    "radiobutton",
    "checkbox",
    "date",
    "date_time",
    "birthday",
    "url",
    "streetaddress",
    "price",
    "monetary",
    "multitext",
}
ENUM_TYPES = {"select", "multiselect", "radiobutton", "multitext"}
SINGLE_VALUE_TYPES = FIELD_TYPES - {"multiselect", "multitext"}
DATE_TYPES = {"date", "date_time", "birthday"}
NUMBER_TYPES = {"numeric", "price", "monetary"}
NUMERIC_STRING = re.compile(r"-?\d+(\.\d+)?")
FIELD_CODE = re.compile(r"[A-Z0-9_]+")
LEAD_KEYS = {
    "id",
    "name",
    "price",
    "status_id",
    "pipeline_id",
    "created_by",
    "updated_by",
    "closed_at",
    "created_at",
    "updated_at",
    "loss_reason_id",
    "responsible_user_id",
    "custom_fields_values",
    "tags_to_add",
    "tags_to_delete",
    "_embedded",
    "request_id",
}
CONTACT_KEYS = {
    "id",
    "name",
    "first_name",
    "last_name",
    "responsible_user_id",
    "created_by",
    "updated_by",
    "created_at",
    "updated_at",
    "custom_fields_values",
    "tags_to_add",
    "tags_to_delete",
    "_embedded",
    "request_id",
}
INTEGER_KEYS = {
    "id",
    "price",
    "status_id",
    "pipeline_id",
    "created_by",
    "updated_by",
    "closed_at",
    "created_at",
    "updated_at",
    "loss_reason_id",
    "responsible_user_id",
}
WEBHOOK_EVENTS = {
    f"{action}_{entity}"
    for entity in ("lead", "contact", "company", "customer", "task")
    for action in ("add", "update", "delete", "restore", "status", "responsible", "note")
}
# The webhook body's event key for each subscription setting.
EVENT_KINDS = {"add_lead": "add", "update_lead": "update", "status_lead": "status", "delete_lead": "delete"}
PIPELINES = [
    {
        "id": PIPELINE_ID,
        "name": "Воронка",
        "sort": 1,
        "is_main": True,
        "statuses": [
            (60000001, "Неразобранное", 10, 1),
            (60000002, "Первичный контакт", 20, 0),
            (60000003, "Переговоры", 30, 0),
            (60000004, "Принимают решение", 40, 0),
            (WON, "Успешно реализовано", 10000, 0),
            (LOST, "Закрыто и не реализовано", 11000, 0),
        ],
    }
]
FIRST_WORKING_STATUS = 60000002
CONTACT_FIELDS = [
    {"id": 500001, "name": "Телефон", "code": "PHONE", "type": "multitext", "sort": 4,
     "enums": ["WORK", "WORKDD", "MOB", "FAX", "HOME", "OTHER"]},
    {"id": 500002, "name": "Email", "code": "EMAIL", "type": "multitext", "sort": 6,
     "enums": ["WORK", "PRIV", "OTHER"]},
    {"id": 500003, "name": "Должность", "code": "POSITION", "type": "text", "sort": 2, "enums": None},
]  # fmt: skip


def _now() -> int:
    return int(time.time())


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and " " not in value


def php_pairs(value: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """PHP-style nested keys (`leads[update][0][id]`), as http_build_query flattens arrays."""
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        if value is None:
            return  # http_build_query leaves nulls out
        yield prefix, ("1" if value else "0") if isinstance(value, bool) else str(value)
        return
    for key, item in items:
        yield from php_pairs(item, f"{prefix}[{key}]" if prefix else str(key))


def php_encode(value: dict[str, Any]) -> str:
    # urlencode quotes with quote_plus: brackets become %5B/%5D and spaces "+", like http_build_query.
    return urlencode(list(php_pairs(value)))


# -- HTTP plumbing ------------------------------------------------------------------------------


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


class Invalid(Exception):
    """A 400 in amoCRM's validation-errors shape; one bad item rejects the whole request."""

    def __init__(self, groups: list[dict[str, Any]]) -> None:
        super().__init__("validation failed")
        self.groups = groups

    @classmethod
    def one(cls, code: str, path: str, detail: str, request_id: str = "0") -> "Invalid":
        return cls([{"request_id": request_id, "errors": [{"code": code, "path": path, "detail": detail}]}])

    def response(self) -> Response:
        return problem(400, "Bad Request", "Request validation failed", **{"validation-errors": self.groups})


class Errors(list):
    def add(self, code: str, path: str, detail: str) -> None:
        self.append({"code": code, "path": path, "detail": detail})


class ControlError(Exception):
    pass


# -- the stand-in -------------------------------------------------------------------------------


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
        self.lock = threading.RLock()
        self._defaults = {
            "webhook_timeout": webhook_timeout,
            "rate_limit": rate_limit,
            "client_id": client_id,
            "client_secret": client_secret,
            "redirect_uri": redirect_uri,
        }
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None
        self.reset()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> "StandIn":
        handler = type("BoundHandler", (Handler,), {"standin": self})
        self.server = QuietServer(("127.0.0.1", self.port), handler)
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
            self.settings: dict[str, Any] = {
                "latency": 0.0,
                "rate_limit": self._defaults["rate_limit"],
                "echo": True,
                "webhook_timeout": self._defaults["webhook_timeout"],
            }
            self.integration = {k: self._defaults[k] for k in ("client_id", "client_secret", "redirect_uri")}
            self.codes: dict[str, float] = {}
            self.access_tokens: dict[str, float] = {}
            self.refresh_tokens: dict[str, float] = {}
            self.revoked_refresh_tokens: set[str] = set()
            self.failures: list[dict[str, Any]] = []
            self.hits: collections.deque[float] = collections.deque()
            self.requests: list[dict[str, Any]] = []
            self.deliveries: list[dict[str, Any]] = []
            self.webhooks: dict[str, dict[str, Any]] = {}
            self.leads: dict[int, dict[str, Any]] = {}
            self.contacts: dict[int, dict[str, Any]] = {}
            self.ids = {"lead": 30000001, "contact": 20000001, "field": 600001, "enum": 900001, "hook": 1}
            self.fields: dict[str, dict[int, dict[str, Any]]] = {"leads": {}, "contacts": {}}
            for spec in CONTACT_FIELDS:
                enums = None
                if spec["enums"]:
                    enums = [
                        {"id": self._next("enum"), "value": v, "sort": (i + 1) * 2}
                        for i, v in enumerate(spec["enums"])
                    ]
                self.fields["contacts"][spec["id"]] = self._field_shape(
                    "contacts", {**spec, "enums": enums}, predefined=True
                )

    def _next(self, kind: str) -> int:
        value = self.ids[kind]
        self.ids[kind] += 1
        return value

    # -- dispatch ----------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        path = request.path
        if path in ("/", "/_standin", "/_standin/") and request.method == "GET":
            return Response(200, self.page().encode(), "text/html; charset=utf-8")
        if path.startswith("/_standin/"):
            if request.client not in ("127.0.0.1", "::1"):
                return plain_json(403, {"error": "the control API answers loopback only"})
            return self.control(request)
        if path == "/oauth2/access_token" or path.startswith("/api/v4/"):
            started = time.monotonic()
            response = self._api(request)
            self._log(request, response.status, started)
            return response
        return problem(404, "Not Found", "No such path")

    def _log(self, request: Request, status: int, started: float) -> None:
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
                }
            )

    def _api(self, request: Request) -> Response:
        is_api = request.path.startswith("/api/v4/")
        if is_api and not self._take_rate_slot():
            return empty(429)  # amoCRM's 429 may come with no body at all
        failure = self._take_failure(request.path)
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
        try:
            if not is_api:
                return self.oauth_token(request)
            if not self._authorized(request):
                return problem(401, "Unauthorized", "Token is missing, expired or revoked")
            return self._route(request)
        except Invalid as e:
            return e.response()

    def _take_rate_slot(self) -> bool:
        now = time.monotonic()
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

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("Authorization") or ""
        if not header.startswith("Bearer "):
            return False
        token = header.removeprefix("Bearer ").strip()
        with self.lock:
            expires_at = self.access_tokens.get(token)
        return expires_at is not None and expires_at > time.time()

    def _route(self, request: Request) -> Response:
        for method, pattern, handler in self._routes():
            match = re.fullmatch(pattern, request.path.rstrip("/") or "/")
            if match and method == request.method:
                return handler(request, *match.groups())
        if any(re.fullmatch(p, request.path.rstrip("/")) for _, p, _ in self._routes()):
            return problem(405, "Method Not Allowed")
        return problem(404, "Not Found", "No such path")

    def _routes(self) -> list[tuple[str, str, Callable[..., Response]]]:
        return [
            ("GET", r"/api/v4/(leads|contacts)/custom_fields", self.fields_list),
            ("POST", r"/api/v4/(leads|contacts)/custom_fields", self.fields_create),
            ("GET", r"/api/v4/(leads|contacts)/custom_fields/(\d+)", self.field_get),
            ("PATCH", r"/api/v4/(leads|contacts)/custom_fields/(\d+)", self.field_update),
            ("GET", r"/api/v4/leads/pipelines", self.pipelines_list),
            ("POST", r"/api/v4/leads/complex", self.leads_create_complex),
            ("GET", r"/api/v4/leads", self.leads_list),
            ("POST", r"/api/v4/leads", self.leads_create),
            ("PATCH", r"/api/v4/leads", self.leads_update),
            ("GET", r"/api/v4/leads/(\d+)", self.lead_get),
            ("PATCH", r"/api/v4/leads/(\d+)", self.lead_update),
            ("POST", r"/api/v4/leads/(\d+)/link", self.lead_link),
            ("GET", r"/api/v4/contacts", self.contacts_list),
            ("POST", r"/api/v4/contacts", self.contacts_create),
            ("GET", r"/api/v4/contacts/(\d+)", self.contact_get),
            ("GET", r"/api/v4/webhooks", self.webhooks_list),
            ("POST", r"/api/v4/webhooks", self.webhook_subscribe),
            ("DELETE", r"/api/v4/webhooks", self.webhook_unsubscribe),
        ]

    # -- request bodies ----------------------------------------------------------------------

    @staticmethod
    def _json_body(request: Request) -> Any:
        if "json" not in (request.headers.get("Content-Type") or ""):
            raise Invalid.one(
                "InvalidContentType", "", "Send a JSON body with Content-Type: application/json"
            )
        try:
            return json.loads(request.raw or b"null")
        except ValueError:
            raise Invalid.one("InvalidJson", "", "The body is not valid JSON") from None

    def _batch_body(self, request: Request, limit: int) -> list[Any]:
        body = self._json_body(request)
        if not isinstance(body, list) or not body:
            raise Invalid.one("InvalidType", "", "The body must be a non-empty JSON array")
        if len(body) > limit:
            raise Invalid.one("TooMany", "", f"At most {limit} items per request")
        return body

    @staticmethod
    def _limit_page(request: Request) -> tuple[int, int]:
        try:
            limit = int(request.param("limit") or DEFAULT_PAGE_LIMIT)
            page = max(1, int(request.param("page") or 1))
        except ValueError:
            raise Invalid.one("InvalidType", "limit", "limit and page must be integers") from None
        if limit < 1 or limit > MAX_PAGE_LIMIT:
            limit = DEFAULT_PAGE_LIMIT  # amoCRM silently serves 50 above 250
        return limit, page

    def _page(self, request: Request, key: str, items: list[Any], extra: dict | None = None) -> Response:
        limit, page = self._limit_page(request)
        chunk = items[(page - 1) * limit : page * limit]
        if not chunk:
            return empty()
        links = {"self": {"href": f"{self.base_url}{request.path}?page={page}&limit={limit}"}}
        if page * limit < len(items):
            links["next"] = {"href": f"{self.base_url}{request.path}?page={page + 1}&limit={limit}"}
        last = max(1, math.ceil(len(items) / limit))
        links["last"] = {"href": f"{self.base_url}{request.path}?page={last}&limit={limit}"}
        body = {"_total_items": len(items), "_page": page, "_page_count": last, "_links": links}
        body["_embedded"] = {key: chunk}
        return hal(200, body)

    # -- OAuth -------------------------------------------------------------------------------

    def oauth_token(self, request: Request) -> Response:
        if request.is_form:
            data: Any = {k: v[0] for k, v in parse_qs(request.raw.decode()).items()}
        else:
            try:
                data = json.loads(request.raw or b"null")
            except ValueError:
                data = None
        if not isinstance(data, dict):
            return self._oauth_error(400, "The body must be a JSON object")
        for key in ("client_id", "client_secret", "grant_type", "redirect_uri"):
            if not isinstance(data.get(key), str) or not data[key]:
                return self._oauth_error(400, f"Check the `{key}` parameter")
        with self.lock:
            if data["client_id"] != self.integration["client_id"]:
                return self._oauth_error(400, "Client not found", title="Invalid client")
            if not secrets.compare_digest(data["client_secret"], self.integration["client_secret"]):
                return self._oauth_error(401, "Client authentication failed", title="Invalid client")
            if data["redirect_uri"] != self.integration["redirect_uri"]:
                return self._oauth_error(400, "Check the `redirect_uri` parameter")
            now = time.time()
            if data["grant_type"] == "authorization_code":
                code = data.get("code")
                expires_at = self.codes.pop(code, None) if isinstance(code, str) else None
                if expires_at is None or expires_at <= now:
                    return self._oauth_error(400, "Authorization code has been revoked")
            elif data["grant_type"] == "refresh_token":
                refresh = data.get("refresh_token")
                expires_at = self.refresh_tokens.pop(refresh, None) if isinstance(refresh, str) else None
                if expires_at is None or expires_at <= now:
                    return self._oauth_error(400, "Token has been revoked")
                self.revoked_refresh_tokens.add(refresh)
            else:
                return self._oauth_error(400, "The authorization grant type is not supported")
            access = f"standin-access.{secrets.token_urlsafe(24)}"
            refresh = f"standin-refresh.{secrets.token_urlsafe(32)}"
            self.access_tokens[access] = now + ACCESS_LIFETIME
            self.refresh_tokens[refresh] = now + REFRESH_LIFETIME
        answer = {
            "token_type": "Bearer",
            "expires_in": ACCESS_LIFETIME,
            "access_token": access,
            "refresh_token": refresh,
        }
        return plain_json(200, answer)

    @staticmethod
    def _oauth_error(status: int, hint: str, title: str = "Некорректный запрос") -> Response:
        return problem(status, title, "Incorrect request", hint=hint)

    # -- custom fields -----------------------------------------------------------------------

    def _field_shape(self, entity: str, data: dict[str, Any], predefined: bool = False) -> dict[str, Any]:
        field_id = data["id"]
        return {
            "id": field_id,
            "name": data["name"],
            "type": data["type"],
            "account_id": ACCOUNT_ID,
            "code": data.get("code"),
            "sort": data.get("sort", 500),
            "is_api_only": bool(data.get("is_api_only", False)),
            "enums": data.get("enums"),
            "group_id": None,
            "required_statuses": [],
            "is_deletable": not predefined,
            "is_predefined": predefined,
            "entity_type": entity,
            "remind": None,
            "_links": {"self": {"href": f"{self.base_url}/api/v4/{entity}/custom_fields/{field_id}"}},
        }

    def fields_list(self, request: Request, entity: str) -> Response:
        with self.lock:
            fields = sorted(self.fields[entity].values(), key=lambda f: (f["sort"], f["id"]))
            return self._page(request, "custom_fields", json.loads(json.dumps(fields)))

    def field_get(self, request: Request, entity: str, field_id: str) -> Response:
        with self.lock:
            found = self.fields[entity].get(int(field_id))
            if found is None:
                return empty()
            return hal(200, found)

    def _check_enums(self, enums: Any, path: str, errors: Errors, existing: list | None) -> list | None:
        if not isinstance(enums, list) or not enums:
            errors.add("InvalidType", path, "enums must be a non-empty array")
            return None
        known = {e["id"]: e for e in existing or []}
        checked = []
        seen: set[str] = set()
        for i, enum in enumerate(enums):
            if not isinstance(enum, dict):
                errors.add("InvalidType", f"{path}.{i}", "An enum must be an object")
                continue
            value, sort = enum.get("value"), enum.get("sort", (i + 1) * 10)
            if not isinstance(value, str) or not value.strip():
                errors.add("NotBlank", f"{path}.{i}.value", "This value should not be blank.")
                continue
            if value in seen:
                errors.add("NotUnique", f"{path}.{i}.value", "Enum values must be unique")
            seen.add(value)
            if not _is_int(sort):
                errors.add("InvalidType", f"{path}.{i}.sort", "This value should be of type integer.")
                continue
            if "id" in enum and (not _is_int(enum["id"]) or enum["id"] not in known):
                errors.add("NotSupportedChoice", f"{path}.{i}.id", "No such enum on this field")
                continue
            checked.append({"id": enum.get("id"), "value": value, "sort": sort})
        return checked

    def fields_create(self, request: Request, entity: str) -> Response:
        body = self._batch_body(request, MAX_LEADS_BATCH)
        groups, checked = [], []
        with self.lock:
            codes = {f["code"] for f in self.fields[entity].values() if f["code"]}
            for index, item in enumerate(body):
                errors = Errors()
                if not isinstance(item, dict):
                    errors.add("InvalidType", "", "A field must be an object")
                else:
                    if not isinstance(item.get("name"), str) or not item["name"].strip():
                        errors.add("NotBlank", "name", "This value should not be blank.")
                    if item.get("type") not in FIELD_TYPES - {"multitext"}:
                        errors.add(
                            "NotSupportedChoice", "type", "The value you selected is not a valid choice."
                        )
                    code = item.get("code")
                    if code is not None and (not isinstance(code, str) or not FIELD_CODE.fullmatch(code)):
                        errors.add("InvalidCode", "code", "A code is [A-Z0-9_]")
                    elif code is not None and code in codes:
                        errors.add("NotUnique", "code", "A field with this code already exists")
                    codes.add(code)
                    if "sort" in item and not _is_int(item["sort"]):
                        errors.add("InvalidType", "sort", "This value should be of type integer.")
                    item_enums = None
                    if item.get("type") in ENUM_TYPES:
                        item_enums = self._check_enums(item.get("enums"), "enums", errors, None)
                    checked.append((item, item_enums))
                if errors:
                    groups.append({"request_id": str(index), "errors": errors})
            if groups:
                raise Invalid(groups)
            created = []
            for item, item_enums in checked:
                enums = None
                if item_enums is not None:
                    enums = [
                        {"id": self._next("enum"), "value": e["value"], "sort": e["sort"]} for e in item_enums
                    ]
                data = {**item, "id": self._next("field"), "enums": enums}
                shape = self._field_shape(entity, data)
                self.fields[entity][shape["id"]] = shape
                created.append(shape)
            body = {"_total_items": len(created), "_embedded": {"custom_fields": created}}
            return hal(200, json.loads(json.dumps(body)))

    def field_update(self, request: Request, entity: str, field_id: str) -> Response:
        data = self._json_body(request)
        if not isinstance(data, dict):
            raise Invalid.one("InvalidType", "", "The body must be a JSON object")
        with self.lock:
            found = self.fields[entity].get(int(field_id))
            if found is None:
                return problem(404, "Not Found", "No such custom field")
            errors = Errors()
            if "name" in data and (not isinstance(data["name"], str) or not data["name"].strip()):
                errors.add("NotBlank", "name", "This value should not be blank.")
            if "sort" in data and not _is_int(data["sort"]):
                errors.add("InvalidType", "sort", "This value should be of type integer.")
            enums = None
            if "enums" in data:
                if found["type"] not in ENUM_TYPES:
                    errors.add("NotSupported", "enums", "This field has no enums")
                else:
                    enums = self._check_enums(data["enums"], "enums", errors, found["enums"])
            if errors:
                raise Invalid([{"request_id": "0", "errors": errors}])
            for key in ("name", "sort"):
                if key in data:
                    found[key] = data[key]
            if enums is not None:
                # amoCRM replaces the list: enums sent without an id are new, enums left out are deleted.
                found["enums"] = [{**e, "id": e["id"] or self._next("enum")} for e in enums]
                self._drop_lost_enum_values(entity, found)
            return hal(200, json.loads(json.dumps(found)))

    def _drop_lost_enum_values(self, entity: str, changed: dict[str, Any]) -> None:
        """A deleted enum takes the value it held on every lead with it."""
        live = {e["id"]: e["value"] for e in changed["enums"]}
        for record in (self.leads if entity == "leads" else self.contacts).values():
            values = record["cf"].get(changed["id"])
            if values is None:
                continue
            kept = [dict(v, value=live[v["enum_id"]]) for v in values if v.get("enum_id") in live]
            if kept:
                record["cf"][changed["id"]] = kept
            else:
                del record["cf"][changed["id"]]

    # -- custom field values -----------------------------------------------------------------

    def _field_by(self, entity: str, item: dict[str, Any], path: str, errors: Errors) -> dict | None:
        if "field_id" in item:
            field_id = item["field_id"]
            if not _is_int(field_id):
                errors.add("InvalidType", f"{path}.field_id", "This value should be of type integer.")
                return None
            found = self.fields[entity].get(field_id)
            if found is None:
                errors.add(
                    "NotSupportedChoice", f"{path}.field_id", "The value you selected is not a valid choice."
                )
            return found
        if "field_code" in item:
            code = item["field_code"]
            found = next((f for f in self.fields[entity].values() if code and f["code"] == code), None)
            if found is None:
                errors.add(
                    "NotSupportedChoice",
                    f"{path}.field_code",
                    "The value you selected is not a valid choice.",
                )
            return found
        errors.add(
            "NotBlank", f"{path}.field_id", "field_id or field_code is required; names are not accepted"
        )
        return None

    def _check_value(self, spec: dict[str, Any], value: Any, path: str, errors: Errors) -> dict | None:
        if not isinstance(value, dict):
            errors.add("InvalidType", path, "A value must be an object")
            return None
        kind, raw = spec["type"], value.get("value")
        enums = spec["enums"] or []
        if kind in ("select", "radiobutton", "multiselect"):
            if "enum_id" in value:
                enum = next(
                    (e for e in enums if _is_int(value["enum_id"]) and e["id"] == value["enum_id"]), None
                )
                where = f"{path}.enum_id"
            else:
                enum = next((e for e in enums if isinstance(raw, str) and e["value"] == raw), None)
                where = f"{path}.value"
            if enum is None:
                errors.add("NotSupportedChoice", where, "The value you selected is not a valid choice.")
                return None
            return {"value": enum["value"], "enum_id": enum["id"], "enum_code": None}
        if kind == "multitext":
            code = value.get("enum_code", "WORK")
            enum = next((e for e in enums if e["value"] == code), None)
            if "enum_id" in value:
                enum = next((e for e in enums if e["id"] == value["enum_id"]), None)
            if enum is None:
                errors.add(
                    "NotSupportedChoice", f"{path}.enum_code", "The value you selected is not a valid choice."
                )
                return None
            if not isinstance(raw, str) or not raw.strip():
                errors.add("NotBlank", f"{path}.value", "This value should not be blank.")
                return None
            return {"value": raw, "enum_id": enum["id"], "enum_code": enum["value"]}
        where = f"{path}.value"
        if kind in DATE_TYPES:
            if not _is_int(raw):
                errors.add("InvalidType", where, "This value should be of type integer (a Unix timestamp).")
                return None
            return {"value": raw}
        if kind in NUMBER_TYPES:
            number_ok = (_is_int(raw) or isinstance(raw, float)) and math.isfinite(raw)
            if not number_ok and not (isinstance(raw, str) and NUMERIC_STRING.fullmatch(raw)):
                errors.add("InvalidType", where, "This value should be a number (a dot before decimals).")
                return None
            return {"value": str(raw)}
        if kind == "checkbox":
            if not isinstance(raw, bool):
                errors.add("InvalidType", where, "This value should be of type boolean.")
                return None
            return {"value": raw}
        if not isinstance(raw, str):
            errors.add("InvalidType", where, "This value should be of type string.")
            return None
        if kind == "text" and len(raw) > TEXT_MAX_LENGTH:
            errors.add(
                "InvalidLength", where, f"This value is too long: {TEXT_MAX_LENGTH} characters at most."
            )
            return None
        if kind == "url" and not _is_url(raw):
            errors.add("InvalidUrl", where, "This value is not a valid URL.")
            return None
        return {"value": raw}

    def _check_custom_fields(self, entity: str, items: Any, errors: Errors) -> list[tuple[int, list | None]]:
        """(field id, stored values or None to clear) for every item; problems go to `errors`."""
        path = "custom_fields_values"
        if items is None:
            return []
        if not isinstance(items, list):
            errors.add("InvalidType", path, "This value should be of type array.")
            return []
        checked = []
        for i, item in enumerate(items):
            where = f"{path}.{i}"
            if not isinstance(item, dict):
                errors.add("InvalidType", where, "This value should be of type object.")
                continue
            spec = self._field_by(entity, item, where, errors)
            if spec is None:
                continue
            if "values" not in item:
                errors.add("NotBlank", f"{where}.values", "This value should not be blank.")
                continue
            values = item["values"]
            if values is None:
                checked.append((spec["id"], None))
                continue
            if not isinstance(values, list) or not values:
                errors.add(
                    "NotBlank", f"{where}.values", "Send a non-empty array, or null to clear the field."
                )
                continue
            if spec["type"] in SINGLE_VALUE_TYPES and len(values) > 1:
                errors.add("TooMany", f"{where}.values", "This field holds one value.")
                continue
            stored = [self._check_value(spec, v, f"{where}.values.{j}", errors) for j, v in enumerate(values)]
            if all(v is not None for v in stored):
                checked.append((spec["id"], stored))
        return checked

    def _render_custom_fields(self, entity: str, cf: dict[int, list]) -> list | None:
        rendered = []
        for field_id, values in cf.items():
            spec = self.fields[entity].get(field_id)
            if spec is None:
                continue
            rendered.append(
                {
                    "field_id": field_id,
                    "field_name": spec["name"],
                    "field_code": spec["code"],
                    "field_type": spec["type"],
                    "values": [dict(v) for v in values],
                }
            )
        return rendered or None

    # -- leads and contacts: validation ------------------------------------------------------

    def _check_common(self, item: dict[str, Any], allowed: set[str], errors: Errors) -> None:
        for key in item:
            if key not in allowed:
                errors.add("ExtraField", key, "This field was not expected.")
        for key in INTEGER_KEYS & set(item):
            if item[key] is not None and not _is_int(item[key]):
                errors.add("InvalidType", key, "This value should be of type integer.")
        for key in ("name", "first_name", "last_name"):
            if key in item and not isinstance(item[key], str):
                errors.add("InvalidType", key, "This value should be of type string.")
        if "request_id" in item and not isinstance(item["request_id"], str | int):
            errors.add("InvalidType", "request_id", "This value should be of type string.")
        if "price" in item and _is_int(item["price"]) and not 0 <= item["price"] < 2**31:
            errors.add("InvalidRange", "price", "This value is out of range.")
        for key in ("tags_to_add", "tags_to_delete"):
            if key in item:
                self._check_tags(item[key], key, errors)

    @staticmethod
    def _check_tags(tags: Any, path: str, errors: Errors) -> None:
        if not isinstance(tags, list):
            errors.add("InvalidType", path, "This value should be of type array.")
            return
        for i, tag in enumerate(tags):
            ok = isinstance(tag, dict) and (
                (isinstance(tag.get("name"), str) and tag["name"].strip()) or _is_int(tag.get("id"))
            )
            if not ok:
                errors.add("InvalidType", f"{path}.{i}", "A tag is {name} or {id}.")

    def _check_lead(self, item: Any, errors: Errors, *, update: bool, complex_: bool = False) -> dict:
        """The checked lead: its custom field changes and the contacts it names (ids or new ones)."""
        checked: dict[str, Any] = {"cf": [], "contact_ids": [], "new_contact": None, "tags": []}
        if not isinstance(item, dict):
            errors.add("InvalidType", "", "A lead must be an object")
            return checked
        self._check_common(item, LEAD_KEYS if update else LEAD_KEYS - {"id"}, errors)
        if update:
            if not _is_int(item.get("id")):
                errors.add("NotBlank", "id", "Every item of an update needs its integer id.")
            elif item["id"] not in self.leads:
                errors.add("NotFound", "id", "The lead does not exist.")
        if _is_int(item.get("pipeline_id")) and item["pipeline_id"] not in {p["id"] for p in PIPELINES}:
            errors.add("NotSupportedChoice", "pipeline_id", "The value you selected is not a valid choice.")
        if _is_int(item.get("status_id")):
            pipeline_id = item.get("pipeline_id") or PIPELINE_ID
            statuses = next((p["statuses"] for p in PIPELINES if p["id"] == pipeline_id), [])
            if item["status_id"] not in {s[0] for s in statuses}:
                errors.add("NotSupportedChoice", "status_id", "The value you selected is not a valid choice.")
        if _is_int(item.get("responsible_user_id")) and item["responsible_user_id"] not in (
            API_USER_ID,
            MANAGER_USER_ID,
        ):
            errors.add("NotSupportedChoice", "responsible_user_id", "No such user.")
        checked["cf"] = self._check_custom_fields("leads", item.get("custom_fields_values"), errors)
        embedded = item.get("_embedded")
        if embedded is None:
            embedded = {}
        if not isinstance(embedded, dict):
            errors.add("InvalidType", "_embedded", "This value should be of type object.")
            return checked
        for key in embedded:
            if key not in ("tags", "contacts", "companies", "source", "metadata"):
                errors.add("ExtraField", f"_embedded.{key}", "This field was not expected.")
        if "tags" in embedded:
            self._check_tags(embedded["tags"], "_embedded.tags", errors)
            if isinstance(embedded["tags"], list):
                checked["tags"] = [t for t in embedded["tags"] if isinstance(t, dict)]
        contacts = embedded.get("contacts", [])
        if not isinstance(contacts, list):
            errors.add("InvalidType", "_embedded.contacts", "This value should be of type array.")
            return checked
        if complex_ and len(contacts) > 1:
            errors.add("TooMany", "_embedded.contacts", "A complex lead takes one contact.")
        for i, contact in enumerate(contacts):
            where = f"_embedded.contacts.{i}"
            if isinstance(contact, dict) and set(contact) <= {"id", "is_main"} and "id" in contact:
                if not _is_int(contact["id"]) or contact["id"] not in self.contacts:
                    errors.add("NotFound", f"{where}.id", "The contact does not exist.")
                else:
                    checked["contact_ids"].append(contact["id"])
            elif complex_:
                contact_errors = Errors()
                checked["new_contact"] = self._check_contact(contact, contact_errors)
                for error in contact_errors:
                    errors.add(error["code"], f"{where}.{error['path']}".rstrip("."), error["detail"])
            else:
                errors.add("NotBlank", f"{where}.id", "Link existing contacts by id (or use /leads/complex).")
        return checked

    def _check_contact(self, item: Any, errors: Errors) -> dict:
        checked: dict[str, Any] = {"cf": [], "item": item}
        if not isinstance(item, dict):
            errors.add("InvalidType", "", "A contact must be an object")
            return checked
        self._check_common(item, CONTACT_KEYS - {"id"}, errors)
        checked["cf"] = self._check_custom_fields("contacts", item.get("custom_fields_values"), errors)
        return checked

    def _validate_batch(self, body: list[Any], check: Callable[[Any, Errors], dict]) -> list[dict]:
        groups, checked = [], []
        for index, item in enumerate(body):
            errors = Errors()
            checked.append(check(item, errors))
            if errors:
                request_id = item.get("request_id") if isinstance(item, dict) else None
                groups.append(
                    {"request_id": str(request_id if request_id is not None else index), "errors": errors}
                )
        if groups:
            raise Invalid(groups)
        return checked

    # -- leads and contacts: storage ---------------------------------------------------------

    def _apply_cf(self, record: dict[str, Any], changes: list[tuple[int, list | None]]) -> None:
        for field_id, values in changes:
            if values is None:
                record["cf"].pop(field_id, None)
            else:
                record["cf"][field_id] = values

    def _lead_new(self, item: dict[str, Any], checked: dict[str, Any], *, by: int) -> dict[str, Any]:
        now = _now()
        lead_id = self._next("lead")
        pipeline_id = item.get("pipeline_id") or PIPELINE_ID
        lead = {
            "id": lead_id,
            "name": item.get("name") or f"Сделка #{lead_id}",
            "price": item.get("price") or 0,
            "responsible_user_id": item.get("responsible_user_id") or API_USER_ID,
            "status_id": item.get("status_id") or FIRST_WORKING_STATUS,
            "pipeline_id": pipeline_id,
            "created_by": by,
            "updated_by": by,
            "created_at": item.get("created_at") or now,
            "updated_at": item.get("updated_at") or now,
            "closed_at": item.get("closed_at"),
            "cf": {},
            "tags": [],
            "contacts": [],
        }
        self._apply_cf(lead, checked["cf"])
        self._add_tags(lead, checked["tags"] + list(item.get("tags_to_add") or []))
        for contact_id in checked["contact_ids"]:
            self._link(lead, contact_id)
        self.leads[lead_id] = lead
        return lead

    def _add_tags(self, record: dict[str, Any], tags: list[dict[str, Any]]) -> None:
        for tag in tags:
            name = tag.get("name") or f"tag-{tag.get('id')}"
            if name not in [t["name"] for t in record["tags"]]:
                record["tags"].append({"id": 100000 + len(name) * 97 + sum(map(ord, name)), "name": name})

    def _link(self, lead: dict[str, Any], contact_id: int) -> None:
        if contact_id not in lead["contacts"]:
            lead["contacts"].append(contact_id)
        contact = self.contacts[contact_id]
        if lead["id"] not in contact["leads"]:
            contact["leads"].append(lead["id"])

    def _contact_new(self, checked: dict[str, Any]) -> dict[str, Any]:
        item, now = checked["item"], _now()
        contact_id = self._next("contact")
        first, last = item.get("first_name") or "", item.get("last_name") or ""
        contact = {
            "id": contact_id,
            "name": item.get("name") or " ".join(p for p in (first, last) if p) or f"Контакт #{contact_id}",
            "first_name": first,
            "last_name": last,
            "responsible_user_id": item.get("responsible_user_id") or API_USER_ID,
            "created_by": API_USER_ID,
            "updated_by": API_USER_ID,
            "created_at": now,
            "updated_at": now,
            "cf": {},
            "tags": [],
            "leads": [],
        }
        self._apply_cf(contact, checked["cf"])
        self.contacts[contact_id] = contact
        return contact

    def _lead_update(self, lead: dict[str, Any], item: dict[str, Any], checked: dict, *, by: int) -> dict:
        """Apply a PATCH (only what it mentions); the events it fires."""
        old_status, old_pipeline = lead["status_id"], lead["pipeline_id"]
        for key in ("name", "price", "status_id", "pipeline_id", "responsible_user_id", "closed_at"):
            if key in item and item[key] is not None:
                lead[key] = item[key]
        if "status_id" in item and "pipeline_id" not in item:
            lead["pipeline_id"] = old_pipeline
        self._apply_cf(lead, checked["cf"])
        self._add_tags(lead, checked["tags"] + list(item.get("tags_to_add") or []))
        drop = {t.get("name") for t in item.get("tags_to_delete") or []}
        lead["tags"] = [t for t in lead["tags"] if t["name"] not in drop]
        for contact_id in checked["contact_ids"]:
            self._link(lead, contact_id)
        lead["updated_at"] = item.get("updated_at") or _now()
        lead["updated_by"] = by
        return {"old_status_id": old_status, "old_pipeline_id": old_pipeline}

    def render_lead(self, lead: dict[str, Any], *, with_contacts: bool = False) -> dict[str, Any]:
        body = {k: v for k, v in lead.items() if k not in ("cf", "tags", "contacts")}
        body.update(
            {
                "group_id": 0,
                "loss_reason_id": None,
                "closest_task_at": None,
                "is_deleted": False,
                "custom_fields_values": self._render_custom_fields("leads", lead["cf"]),
                "score": None,
                "account_id": ACCOUNT_ID,
                "labor_cost": None,
                "_links": {"self": {"href": f"{self.base_url}/api/v4/leads/{lead['id']}"}},
                "_embedded": {"tags": [dict(t, color=None) for t in lead["tags"]], "companies": []},
            }
        )
        if with_contacts:
            body["_embedded"]["contacts"] = [
                {
                    "id": contact_id,
                    "is_main": i == 0,
                    "_links": {"self": {"href": f"{self.base_url}/api/v4/contacts/{contact_id}"}},
                }
                for i, contact_id in enumerate(lead["contacts"])
            ]
        return body

    def render_contact(self, contact: dict[str, Any]) -> dict[str, Any]:
        body = {k: v for k, v in contact.items() if k not in ("cf", "tags", "leads")}
        body.update(
            {
                "group_id": 0,
                "closest_task_at": None,
                "is_deleted": False,
                "is_unsorted": False,
                "custom_fields_values": self._render_custom_fields("contacts", contact["cf"]),
                "account_id": ACCOUNT_ID,
                "_links": {"self": {"href": f"{self.base_url}/api/v4/contacts/{contact['id']}"}},
                "_embedded": {"tags": [], "companies": []},
            }
        )
        return body

    def _created(self, key: str, records: list[dict[str, Any]], body: list[Any]) -> Response:
        items = []
        for index, (record, item) in enumerate(zip(records, body, strict=True)):
            items.append(
                {
                    "id": record["id"],
                    "request_id": str(item.get("request_id", index)),
                    "_links": {"self": {"href": f"{self.base_url}/api/v4/{key}/{record['id']}"}},
                }
            )
        return hal(
            200, {"_links": {"self": {"href": f"{self.base_url}/api/v4/{key}"}}, "_embedded": {key: items}}
        )

    # -- leads endpoints ---------------------------------------------------------------------

    def leads_create(self, request: Request) -> Response:
        body = self._batch_body(request, MAX_LEADS_BATCH)
        with self.lock:
            checked = self._validate_batch(
                body, lambda item, errors: self._check_lead(item, errors, update=False)
            )
            leads = [self._lead_new(item, c, by=API_USER_ID) for item, c in zip(body, checked, strict=True)]
            events = [("add_lead", self._webhook_lead(lead), {}) for lead in leads]
        self._echo(events)
        return self._created("leads", leads, body)

    def leads_create_complex(self, request: Request) -> Response:
        body = self._batch_body(request, MAX_COMPLEX_BATCH)
        with self.lock:
            checked = self._validate_batch(
                body, lambda item, errors: self._check_lead(item, errors, update=False, complex_=True)
            )
            answer, events = [], []
            for index, (item, lead_checked) in enumerate(zip(body, checked, strict=True)):
                contact_id = None
                if lead_checked["new_contact"] is not None:
                    contact = self._contact_new(lead_checked["new_contact"])
                    lead_checked["contact_ids"] = [contact["id"]]
                if lead_checked["contact_ids"]:
                    contact_id = lead_checked["contact_ids"][0]
                lead = self._lead_new(item, lead_checked, by=API_USER_ID)
                events.append(("add_lead", self._webhook_lead(lead), {}))
                answer.append(
                    {
                        "id": lead["id"],
                        "contact_id": contact_id,
                        "company_id": None,
                        "request_id": [str(item.get("request_id", index))],
                        "merged": False,
                    }
                )
        self._echo(events)
        return hal(200, answer)

    def _update_many(self, items: list[Any]) -> list[dict[str, Any]]:
        with self.lock:
            checked = self._validate_batch(
                items, lambda item, errors: self._check_lead(item, errors, update=True)
            )
            answer, events = [], []
            for index, (item, lead_checked) in enumerate(zip(items, checked, strict=True)):
                lead = self.leads[item["id"]]
                old = self._lead_update(lead, item, lead_checked, by=API_USER_ID)
                events += self._update_events(lead, old)
                answer.append(
                    {
                        "id": lead["id"],
                        "updated_at": lead["updated_at"],
                        "request_id": str(item.get("request_id", index)),
                        "_links": {"self": {"href": f"{self.base_url}/api/v4/leads/{lead['id']}"}},
                    }
                )
        self._echo(events)
        return answer

    def _update_events(self, lead: dict[str, Any], old: dict[str, Any]) -> list[tuple[str, dict, dict]]:
        events = [("update_lead", self._webhook_lead(lead), {})]
        if old["old_status_id"] != lead["status_id"] or old["old_pipeline_id"] != lead["pipeline_id"]:
            events.append(("status_lead", self._webhook_lead(lead), old))
        return events

    def leads_update(self, request: Request) -> Response:
        answer = self._update_many(self._batch_body(request, MAX_LEADS_BATCH))
        return hal(
            200,
            {"_links": {"self": {"href": f"{self.base_url}/api/v4/leads"}}, "_embedded": {"leads": answer}},
        )

    def lead_update(self, request: Request, lead_id: str) -> Response:
        item = self._json_body(request)
        if not isinstance(item, dict):
            raise Invalid.one("InvalidType", "", "The body must be a JSON object")
        if "id" in item and item["id"] != int(lead_id):
            raise Invalid.one("NotEqual", "id", "The id in the body differs from the one in the path")
        with self.lock:
            if int(lead_id) not in self.leads:
                return problem(404, "Not Found", "The lead does not exist")
        answer = self._update_many([{**item, "id": int(lead_id)}])[0]
        return hal(200, {**answer, "_embedded": {"leads": [answer]}})

    def lead_get(self, request: Request, lead_id: str) -> Response:
        with self.lock:
            lead = self.leads.get(int(lead_id))
            if lead is None:
                return empty()  # amoCRM answers 204 for a deleted lead
            return hal(200, self.render_lead(lead, with_contacts="contacts" in (request.param("with") or "")))

    @staticmethod
    def _ids_filter(request: Request) -> set[int] | None:
        raw = request.query.get("filter[id][]", []) + request.query.get("filter[id]", [])
        if not raw:
            return None
        try:
            return {int(v) for value in raw for v in value.split(",") if v}
        except ValueError:
            raise Invalid.one("InvalidType", "filter.id", "Ids must be integers") from None

    @staticmethod
    def _matches(record: dict[str, Any], query: str | None, names: tuple[str, ...]) -> bool:
        if not query:
            return True
        needle = query.casefold()
        texts = [str(record.get(n) or "") for n in names] + [str(record["id"])]
        texts += [str(v.get("value", "")) for values in record["cf"].values() for v in values]
        return any(needle in text.casefold() for text in texts)

    def leads_list(self, request: Request) -> Response:
        ids, query = self._ids_filter(request), request.param("query")
        with_contacts = "contacts" in (request.param("with") or "")
        with self.lock:
            found = [
                self.render_lead(lead, with_contacts=with_contacts)
                for lead in self.leads.values()
                if (ids is None or lead["id"] in ids) and self._matches(lead, query, ("name",))
            ]
        return self._page(request, "leads", found)

    def lead_link(self, request: Request, lead_id: str) -> Response:
        body = self._batch_body(request, MAX_LEADS_BATCH)
        with self.lock:
            lead = self.leads.get(int(lead_id))
            if lead is None:
                return problem(404, "Not Found", "The lead does not exist")

            def check(item: Any, errors: Errors) -> dict:
                if not isinstance(item, dict):
                    errors.add("InvalidType", "", "A link must be an object")
                    return {}
                if item.get("to_entity_type") != "contacts":
                    errors.add("NotSupportedChoice", "to_entity_type", "The stand-in links contacts only.")
                elif not _is_int(item.get("to_entity_id")) or item["to_entity_id"] not in self.contacts:
                    errors.add("NotFound", "to_entity_id", "The contact does not exist.")
                return item

            self._validate_batch(body, check)
            links = []
            for item in body:
                self._link(lead, item["to_entity_id"])
                links.append(
                    {
                        "entity_id": lead["id"],
                        "entity_type": "leads",
                        "to_entity_id": item["to_entity_id"],
                        "to_entity_type": "contacts",
                        "metadata": {"is_main": lead["contacts"][0] == item["to_entity_id"]},
                    }
                )
        return hal(200, {"_total_items": len(links), "_embedded": {"links": links}})

    def pipelines_list(self, request: Request) -> Response:
        pipelines = []
        for p in PIPELINES:
            statuses = [
                {
                    "id": status_id,
                    "name": name,
                    "sort": sort,
                    "is_editable": status_id not in (WON, LOST),
                    "pipeline_id": p["id"],
                    "color": "#99ccff",
                    "type": kind,
                    "account_id": ACCOUNT_ID,
                }
                for status_id, name, sort, kind in p["statuses"]
            ]
            pipelines.append(
                {
                    "id": p["id"],
                    "name": p["name"],
                    "sort": p["sort"],
                    "is_main": p["is_main"],
                    "is_unsorted_on": True,
                    "is_archive": False,
                    "account_id": ACCOUNT_ID,
                    "_embedded": {"statuses": statuses},
                }
            )
        return hal(200, {"_total_items": len(pipelines), "_embedded": {"pipelines": pipelines}})

    # -- contacts endpoints ------------------------------------------------------------------

    def contacts_list(self, request: Request) -> Response:
        ids, query = self._ids_filter(request), request.param("query")
        with self.lock:
            found = [
                self.render_contact(contact)
                for contact in self.contacts.values()
                if (ids is None or contact["id"] in ids)
                and self._matches(contact, query, ("name", "first_name", "last_name"))
            ]
        return self._page(request, "contacts", found)

    def contacts_create(self, request: Request) -> Response:
        body = self._batch_body(request, MAX_LEADS_BATCH)
        with self.lock:
            checked = self._validate_batch(body, self._check_contact)
            contacts = [self._contact_new(c) for c in checked]
        return self._created("contacts", contacts, body)

    def contact_get(self, request: Request, contact_id: str) -> Response:
        with self.lock:
            contact = self.contacts.get(int(contact_id))
            return empty() if contact is None else hal(200, self.render_contact(contact))

    # -- webhooks endpoints ------------------------------------------------------------------

    def webhooks_list(self, request: Request) -> Response:
        destination = request.param("filter[destination]")
        with self.lock:
            hooks = [dict(h) for h in self.webhooks.values() if destination in (None, h["destination"])]
        if not hooks:
            return empty()
        return hal(200, {"_total_items": len(hooks), "_embedded": {"webhooks": hooks}})

    def webhook_subscribe(self, request: Request) -> Response:
        data = self._json_body(request)
        errors = Errors()
        if not isinstance(data, dict):
            raise Invalid.one("InvalidType", "", "The body must be a JSON object")
        destination, events = data.get("destination"), data.get("settings")
        if not isinstance(destination, str) or not _is_url(destination):
            errors.add("InvalidUrl", "destination", "This value is not a valid URL.")
        if not isinstance(events, list) or not events or not all(e in WEBHOOK_EVENTS for e in events):
            errors.add("NotSupportedChoice", "settings", "The value you selected is not a valid choice.")
        if "sort" in data and not _is_int(data["sort"]):
            errors.add("InvalidType", "sort", "This value should be of type integer.")
        if errors:
            raise Invalid([{"request_id": "0", "errors": errors}])
        with self.lock:
            hook = self.webhooks.get(destination)
            now = _now()
            if hook is None:
                hook = {"id": self._next("hook"), "destination": destination, "created_at": now}
                hook.update({"account_id": ACCOUNT_ID, "created_by": API_USER_ID, "disabled": False})
                self.webhooks[destination] = hook
            hook.update({"updated_at": now, "sort": data.get("sort", 10), "settings": list(events)})
            return hal(201, dict(hook))

    def webhook_unsubscribe(self, request: Request) -> Response:
        data = self._json_body(request)
        if not isinstance(data, dict) or not isinstance(data.get("destination"), str):
            raise Invalid.one("NotBlank", "destination", "This value should not be blank.")
        with self.lock:
            self.webhooks.pop(data["destination"], None)
        return empty()

    # -- webhook delivery --------------------------------------------------------------------

    def _webhook_lead(self, lead: dict[str, Any]) -> dict[str, Any]:
        """A lead in the v2 shape webhooks carry: custom_fields, enum, timestamps as digits."""
        custom_fields = []
        for field_id, values in lead["cf"].items():
            spec = self.fields["leads"].get(field_id)
            if spec is None:
                continue
            rendered = []
            for v in values:
                value = {"value": v.get("value")}
                if v.get("enum_id"):
                    value["enum"] = v["enum_id"]
                rendered.append(value)
            entry = {"id": field_id, "name": spec["name"], "values": rendered}
            if spec["code"]:
                entry["code"] = spec["code"]
            custom_fields.append(entry)
        body = {
            "id": lead["id"],
            "name": lead["name"],
            "status_id": lead["status_id"],
            "price": lead["price"],
            "responsible_user_id": lead["responsible_user_id"],
            "last_modified": lead["updated_at"],
            "modified_user_id": lead["updated_by"],
            "created_user_id": lead["created_by"],
            "date_create": lead["created_at"],
            "pipeline_id": lead["pipeline_id"],
            "tags": [dict(t) for t in lead["tags"]],
            "account_id": ACCOUNT_ID,
            "custom_fields": custom_fields,
            "created_at": lead["created_at"],
            "updated_at": lead["updated_at"],
        }
        return {k: v for k, v in body.items() if v not in ([], None)}

    def _echo(self, events: list[tuple[str, dict, dict]]) -> None:
        """amoCRM fires webhooks for API changes too; delivered in the background, like amoCRM."""
        if events and self.settings["echo"] and self.webhooks:
            threading.Thread(target=self.deliver, args=(events,), daemon=True).start()

    def deliver(self, events: list[tuple[str, dict, dict]]) -> list[dict[str, Any]]:
        """POST each subscribed destination one form-encoded body with the events it asked for."""
        with self.lock:
            hooks = [dict(h) for h in self.webhooks.values() if not h["disabled"]]
            timeout = self.settings["webhook_timeout"]
        results = []
        for hook in sorted(hooks, key=lambda h: h["sort"]):
            leads: dict[str, list] = {}
            for setting, lead, extra in events:
                if setting in hook["settings"]:
                    leads.setdefault(EVENT_KINDS[setting], []).append({**lead, **extra})
            if not leads:
                continue
            account = {"subdomain": SUBDOMAIN, "id": ACCOUNT_ID, "_links": {"self": self.base_url}}
            results.append(
                self._post_webhook(
                    hook["destination"], php_encode({"leads": leads, "account": account}), timeout
                )
            )
        return results

    def _post_webhook(self, destination: str, body: str, timeout: float) -> dict[str, Any]:
        record: dict[str, Any] = {"destination": destination, "body": body, "at": time.time()}
        request = urllib.request.Request(  # noqa: S310 - destinations are http(s) URLs checked on subscribe
            destination,
            data=body.encode(),
            method="POST",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "User-Agent": "amoCRM-Webhooks/3.0",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - as above
                record["status"] = answer.status
        except urllib.error.HTTPError as e:
            record["status"] = e.code
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            record["status"] = None
            record["error"] = type(getattr(e, "reason", e)).__name__
        with self.lock:
            self.deliveries.append(record)
        return record

    # -- control API -------------------------------------------------------------------------

    def control(self, request: Request) -> Response:
        if request.is_form:
            data: Any = {k: v[-1] for k, v in parse_qs(request.raw.decode(), keep_blank_values=True).items()}
        elif request.raw:
            try:
                data = json.loads(request.raw)
            except ValueError:
                return plain_json(400, {"error": "the body is not JSON"})
        else:
            data = {}
        if not isinstance(data, dict):
            return plain_json(400, {"error": "the body must be a JSON object"})
        path = request.path.removeprefix("/_standin").rstrip("/")
        try:
            result = self._control_route(request.method, path, data)
        except ControlError as e:
            return plain_json(400, {"error": str(e)})
        if result is None:
            return plain_json(404, {"error": f"no control route {request.method} {request.path}"})
        if request.is_form:
            return Response(303, headers={"Location": "/"})  # the HTML page's forms
        return plain_json(200, result)

    def _control_route(self, method: str, path: str, data: dict[str, Any]) -> Any:
        match = re.fullmatch(r"/leads/(\d+)(/manager|/delete)?", path)
        if match:
            lead_id = int(match.group(1))
            if method == "GET" and not match.group(2):
                with self.lock:
                    lead = self.leads.get(lead_id)
                    if lead is None:
                        raise ControlError(f"no lead {lead_id}")
                    return self.render_lead(lead, with_contacts=True)
            if method == "POST" and match.group(2) == "/manager":
                return self.manager_edit(lead_id, data)
            if method == "POST" and match.group(2) == "/delete":
                return self.manager_delete(lead_id)
            return None
        with self.lock:
            if method == "GET" and path == "/state":
                return {
                    "base_url": self.base_url,
                    "integration": self._integration_shown(),
                    "settings": dict(self.settings),
                    "failures": [dict(f) for f in self.failures],
                    "webhooks": [dict(h) for h in self.webhooks.values()],
                    "counts": {
                        "leads": len(self.leads),
                        "contacts": len(self.contacts),
                        "requests": len(self.requests),
                    },
                }
            if method == "GET" and path == "/leads":
                return {"leads": [self.render_lead(lead, with_contacts=True) for lead in self.leads.values()]}
            if method == "GET" and path == "/contacts":
                return {"contacts": [self.render_contact(c) for c in self.contacts.values()]}
            if method == "GET" and path == "/fields":
                return json.loads(json.dumps({entity: list(f.values()) for entity, f in self.fields.items()}))
            if method == "GET" and path == "/requests":
                return {"requests": list(self.requests)}
            if method == "DELETE" and path == "/requests":
                self.requests.clear()
                return {"requests": []}
            if method == "GET" and path == "/deliveries":
                return {"deliveries": list(self.deliveries)}
            if method == "GET" and path == "/webhooks":
                return {"webhooks": [dict(h) for h in self.webhooks.values()]}
        if method == "POST" and path == "/integration":
            return self.configure_integration(**data)
        if method == "POST" and path == "/codes":
            return self.create_code()
        if method == "POST" and path == "/tokens/long-lived":
            return {"access_token": self.issue_long_lived_token(data.get("token"))}
        if method == "POST" and path == "/tokens/expire":
            return self.expire_tokens(refresh=bool(data.get("refresh")))
        if method == "POST" and path == "/failures":
            return {"failures": self.inject_failure(**data)}
        if method == "DELETE" and path == "/failures":
            with self.lock:
                self.failures.clear()
            return {"failures": []}
        if method == "POST" and path == "/settings":
            return self.configure(**data)
        if method == "POST" and path == "/reset":
            self.reset()
            return {"reset": True}
        return None

    def _integration_shown(self) -> dict[str, str]:
        return {**self.integration, "client_secret": HIDDEN}

    def configure_integration(self, **data: Any) -> dict[str, Any]:
        unknown = set(data) - {"client_id", "client_secret", "redirect_uri"}
        if unknown or not all(isinstance(v, str) and v for v in data.values()):
            raise ControlError("send client_id, client_secret, redirect_uri as non-empty strings")
        with self.lock:
            self.integration.update(data)
            return self._integration_shown()

    def create_code(self) -> dict[str, Any]:
        """A single-use authorization code, as amoCRM hands it to the redirect URI (~20 minutes)."""
        code = secrets.token_urlsafe(24)
        with self.lock:
            self.codes[code] = time.time() + CODE_LIFETIME
            query = urlencode(
                {
                    "code": code,
                    "referer": urlsplit(self.base_url).netloc,
                    "client_id": self.integration["client_id"],
                }
            )
            return {
                "code": code,
                "expires_in": CODE_LIFETIME,
                "redirect": f"{self.integration['redirect_uri']}?{query}",
            }

    def issue_long_lived_token(self, token: str | None = None) -> str:
        token = token or f"standin-long-lived.{secrets.token_urlsafe(24)}"
        with self.lock:
            self.access_tokens[token] = time.time() + LONG_LIVED_LIFETIME
        return token

    def expire_tokens(self, *, refresh: bool = False) -> dict[str, int]:
        """Every access token (and with `refresh`, every refresh token) stops working now."""
        with self.lock:
            expired = {"access_tokens": len(self.access_tokens), "refresh_tokens": 0}
            self.access_tokens = dict.fromkeys(self.access_tokens, 0.0)
            if refresh:
                expired["refresh_tokens"] = len(self.refresh_tokens)
                self.refresh_tokens = dict.fromkeys(self.refresh_tokens, 0.0)
            return expired

    def inject_failure(
        self, *, count: int = 1, status: int | None = None, timeout: float | None = None, path: str = "/"
    ) -> list[dict[str, Any]]:
        """The next `count` API requests (under `path`) answer `status`, or sleep `timeout` seconds first."""
        if not _is_int(count) or count < 1:
            raise ControlError("count must be a positive integer")
        if (status is None) == (timeout is None):
            raise ControlError("send either status (e.g. 500, 503, 429) or timeout (seconds)")
        failure: dict[str, Any] = {"count": count, "path": path}
        if status is not None:
            if not _is_int(status) or not 400 <= status <= 599:
                raise ControlError("status must be an HTTP error status")
            failure["status"] = status
        else:
            if not isinstance(timeout, int | float) or timeout < 0:
                raise ControlError("timeout must be a number of seconds")
            failure["timeout"] = float(timeout)
        with self.lock:
            self.failures.append(failure)
            return [dict(f) for f in self.failures]

    def configure(self, **data: Any) -> dict[str, Any]:
        """latency (seconds before every API answer), rate_limit (per second), echo, webhook_timeout."""
        with self.lock:
            for key, value in data.items():
                if key not in self.settings:
                    raise ControlError(f"unknown setting {key!r}; known: {sorted(self.settings)}")
                if key == "echo":
                    value = value if isinstance(value, bool) else str(value).lower() in ("1", "true", "on")
                else:
                    try:
                        value = float(value)
                    except (TypeError, ValueError):
                        raise ControlError(f"{key} must be a number") from None
                    if key == "rate_limit":
                        value = int(value)
                self.settings[key] = value
            return dict(self.settings)

    def manager_edit(self, lead_id: int, data: dict[str, Any]) -> dict[str, Any]:
        """A manager changes a lead in amoCRM's UI: price, status, name, custom fields → webhooks."""
        changes = self._manager_changes(data)
        with self.lock:
            lead = self.leads.get(lead_id)
            if lead is None:
                raise ControlError(f"no lead {lead_id}")
            item = {k: changes[k] for k in ("name", "price", "status_id") if k in changes}
            errors = Errors()
            if "status_id" in item and item["status_id"] not in {s[0] for s in PIPELINES[0]["statuses"]}:
                raise ControlError(f"no status {item['status_id']}")
            cf = []
            for i, change in enumerate(changes.get("custom_fields", [])):
                cf += self._check_custom_fields("leads", [self._manager_field(change)], errors)
                if errors:
                    raise ControlError(f"custom field {i}: {errors[0]['path']}: {errors[0]['detail']}")
            old = self._lead_update(lead, item, {"cf": cf, "tags": [], "contact_ids": []}, by=MANAGER_USER_ID)
            events = self._update_events(lead, old)
            rendered = self.render_lead(lead, with_contacts=True)
        deliveries = self.deliver(events)
        return {"lead": rendered, "deliveries": deliveries}

    def manager_delete(self, lead_id: int) -> dict[str, Any]:
        with self.lock:
            lead = self.leads.pop(lead_id, None)
            if lead is None:
                raise ControlError(f"no lead {lead_id}")
            for contact in self.contacts.values():
                if lead_id in contact["leads"]:
                    contact["leads"].remove(lead_id)
            payload = {"id": lead_id, "status_id": lead["status_id"], "pipeline_id": lead["pipeline_id"]}
        return {"deleted": lead_id, "deliveries": self.deliver([("delete_lead", payload, {})])}

    @staticmethod
    def _manager_changes(data: dict[str, Any]) -> dict[str, Any]:
        """JSON ({"price", "status_id", "name", "custom_fields": [...]}) or the page's flat form."""
        changes: dict[str, Any] = {}
        try:
            for key in ("price", "status_id"):
                if data.get(key) not in (None, ""):
                    changes[key] = int(data[key])
        except (TypeError, ValueError):
            raise ControlError("price and status_id must be whole numbers") from None
        if data.get("name"):
            changes["name"] = str(data["name"])
        fields = data.get("custom_fields") or []
        if data.get("field_id") not in (None, ""):
            fields = [*fields, {k: data.get(k) for k in ("field_id", "value", "enum_id") if k in data}]
        if not isinstance(fields, list):
            raise ControlError("custom_fields must be a list of {field_id, value | enum_id}")
        changes["custom_fields"] = fields
        return changes

    def _manager_field(self, change: Any) -> dict[str, Any]:
        if not isinstance(change, dict):
            raise ControlError("a custom field change is {field_id, value | enum_id}")
        try:
            field_id = int(change["field_id"])
            enum_id = int(change["enum_id"]) if change.get("enum_id") not in (None, "") else None
        except (KeyError, TypeError, ValueError):
            raise ControlError("field_id and enum_id must be whole numbers") from None
        spec = self.fields["leads"].get(field_id)
        if spec is None:
            raise ControlError(f"no lead field {field_id}")
        value = change.get("value")
        if enum_id is not None:
            return {"field_id": field_id, "values": [{"enum_id": enum_id}]}
        if value in (None, ""):
            return {"field_id": field_id, "values": None}
        if spec["type"] in DATE_TYPES and not _is_int(value):
            value = _date_timestamp(str(value))
        elif spec["type"] == "checkbox":
            value = value is True or str(value).lower() in ("1", "true", "on")
        elif spec["type"] in NUMBER_TYPES:
            value = str(value).replace(",", ".").replace(" ", "")
        elif spec["type"] not in DATE_TYPES:
            value = str(value)
        return {"field_id": field_id, "values": [{"value": value}]}

    # -- the HTML page -----------------------------------------------------------------------

    def page(self) -> str:
        e = html.escape
        with self.lock:
            leads = [self.render_lead(lead, with_contacts=True) for lead in self.leads.values()]
            fields = list(self.fields["leads"].values())
            hooks = [h["destination"] for h in self.webhooks.values()]
        statuses = PIPELINES[0]["statuses"]
        status_names = {s[0]: s[1] for s in statuses}
        parts = [
            "<!doctype html><html lang='ru'><head><meta charset='utf-8'>",
            "<meta name='viewport' content='width=device-width, initial-scale=1'>",
            "<title>amoCRM stand-in</title></head><body>",
            f"<h1>amoCRM stand-in</h1><p>API: <code>{e(self.base_url)}/api/v4/</code> · "
            f"{len(leads)} leads · webhooks: {e(', '.join(hooks) or 'none')}</p>",
        ]
        if not leads:
            parts.append("<p>No leads yet.</p>")
        for lead in reversed(leads):
            parts.append(f"<section><h2>#{lead['id']} {e(lead['name'])}</h2><dl>")
            parts.append(f"<dt>Бюджет</dt><dd>{lead['price']}</dd>")
            parts.append(
                f"<dt>Статус</dt><dd>{e(status_names.get(lead['status_id'], str(lead['status_id'])))}</dd>"
            )
            parts.append(f"<dt>Изменена</dt><dd>{_when(lead['updated_at'])}</dd>")
            for item in lead["custom_fields_values"] or []:
                shown = ", ".join(_readable(item["field_type"], v) for v in item["values"])
                parts.append(f"<dt>{e(item['field_name'])}</dt><dd>{e(shown)}</dd>")
            parts.append("</dl>")
            action = f"/_standin/leads/{lead['id']}/manager"
            options = "".join(
                f"<option value='{s[0]}'{' selected' if s[0] == lead['status_id'] else ''}>{e(s[1])}</option>"
                for s in statuses
            )
            parts.append(
                f"<form method='post' action='{action}'><label>Бюджет "
                f"<input name='price' type='number' min='0' value='{lead['price']}'></label> "
                f"<label>Статус <select name='status_id'>{options}</select></label> "
                "<button>Сохранить как менеджер</button></form>"
            )
            field_options = "".join(
                f"<option value='{f['id']}'>{e(f['name'])} ({f['type']})</option>" for f in fields
            )
            if field_options:
                parts.append(
                    f"<form method='post' action='{action}'><label>Поле "
                    f"<select name='field_id'>{field_options}</select></label> "
                    "<label>Значение (текст, число, дата ГГГГ-ММ-ДД) <input name='value'></label> "
                    "<label>или enum id <input name='enum_id' type='number'></label> "
                    "<button>Изменить поле</button></form>"
                )
            parts.append("</section>")
        parts.append("</body></html>")
        return "\n".join(parts)


def _date_timestamp(text: str) -> int:
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            day = datetime.datetime.strptime(text.strip(), fmt).date()  # noqa: DTZ007 - a calendar date
        except ValueError:
            continue
        return int(datetime.datetime.combine(day, datetime.time.min, tzinfo=MOSCOW).timestamp())
    raise ControlError(f"not a date: {text[:32]!r} (YYYY-MM-DD or DD.MM.YYYY)")


def _when(timestamp: int | None) -> str:
    if not timestamp:
        return ""
    return datetime.datetime.fromtimestamp(timestamp, tz=MOSCOW).strftime("%d.%m.%Y %H:%M:%S")


def _readable(kind: str, value: dict[str, Any]) -> str:
    if kind in DATE_TYPES and _is_int(value.get("value")):
        return datetime.datetime.fromtimestamp(value["value"], tz=MOSCOW).strftime("%d.%m.%Y")
    if value.get("enum_id"):
        return f"{value.get('value')} (enum {value['enum_id']})"
    return str(value.get("value"))


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (an injected timeout) closes the socket before the answer: not an error.
        pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "amoCRM-standin/1.0"
    timeout = 30  # idle keep-alive connections end, so threads do not pile up
    standin: StandIn

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
            response = self.standin.handle(request)
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


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description="A local amoCRM stand-in on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8911, help="port to listen on (default 8911)")
    parser.add_argument(
        "--webhook-timeout", type=float, default=2.0, help="seconds to wait for a webhook 2xx"
    )
    parser.add_argument("--rate-limit", type=int, default=RATE_LIMIT, help="API requests per second")
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID, help="the integration's client_id")
    parser.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET, help="the integration's secret")
    parser.add_argument("--redirect-uri", default=DEFAULT_REDIRECT_URI, help="the integration's redirect URI")
    args = parser.parse_args()
    standin = StandIn(
        port=args.port,
        webhook_timeout=args.webhook_timeout,
        rate_limit=args.rate_limit,
        client_id=args.client_id,
        client_secret=args.client_secret,
        redirect_uri=args.redirect_uri,
    )
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops it as cleanly as Ctrl-C
    standin.start()
    print(f"amoCRM stand-in on {standin.base_url}/  (API {standin.base_url}/api/v4/, control /_standin/)")
    print(f"client_id={args.client_id} redirect_uri={args.redirect_uri}; Ctrl-C stops it", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        standin.stop()


if __name__ == "__main__":
    main()
