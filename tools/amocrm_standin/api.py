"""The routes amoCRM serves: API v4 (the account, custom fields, pipelines, leads and their notes,
contacts, webhooks) and OAuth (the token endpoint, the account's current subdomain by refresh token)
— moto's responses.py. Each parses the request, calls the account or the tokens, and shapes the
answer: HAL on success, 204 for "nothing there", amoCRM's problem+json on errors.
"""

import json
import math
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from tools.amocrm_standin.constants import (
    DEFAULT_PAGE_LIMIT,
    MAX_COMPLEX_BATCH,
    MAX_LEADS_BATCH,
    MAX_NOTES_BATCH,
    MAX_PAGE_LIMIT,
    MAX_TASKS_BATCH,
    RIGHTS_DETAIL,
)
from tools.amocrm_standin.models import Account
from tools.amocrm_standin.runtime import Runtime
from tools.amocrm_standin.server import Request, Response, empty, hal, plain_json, problem
from tools.amocrm_standin.shapes import Event, note_href, pipelines_shape
from tools.amocrm_standin.tokens import OAuthError, Tokens
from tools.amocrm_standin.validation import Invalid, check_subscription, is_int

Route = tuple[str, str, Callable[..., Response]]


def invalid(error: Invalid) -> Response:
    return problem(400, "Bad Request", "Request validation failed", **{"validation-errors": error.groups})


def invalid_by_id(error: Invalid, items: list[Any]) -> Response:
    """The other 400 amoCRM gives for a lead PATCH, naming each failed lead by its id (amocrm-api-php
    issue 88: `{"errors": {"11062353": "Loss reason can be specified only for lost lead"}, …}`)."""
    ids = {}
    for index, item in enumerate(items):
        if isinstance(item, dict) and is_int(item.get("id")):
            ids[str(item.get("request_id", index))] = str(item["id"])
    errors = {
        ids.get(group["request_id"], group["request_id"]): "; ".join(e["detail"] for e in group["errors"])
        for group in error.groups
    }
    return problem(400, "Bad Request", "Invalid request body", errors=errors)


def json_body(request: Request) -> Any:
    if "json" not in (request.headers.get("Content-Type") or ""):
        raise Invalid.one("InvalidContentType", "", "Send a JSON body with Content-Type: application/json")
    try:
        return json.loads(request.raw or b"null")
    except ValueError:
        raise Invalid.one("InvalidJson", "", "The body is not valid JSON") from None


def batch_body(request: Request, limit: int) -> list[Any]:
    body = json_body(request)
    if not isinstance(body, list) or not body:
        raise Invalid.one("InvalidType", "", "The body must be a non-empty JSON array")
    if len(body) > limit:
        raise Invalid.one("TooMany", "", f"At most {limit} items per request")
    return body


def object_body(request: Request) -> dict[str, Any]:
    item = json_body(request)
    if not isinstance(item, dict):
        raise Invalid.one("InvalidType", "", "The body must be a JSON object")
    return item


def limit_page(request: Request) -> tuple[int, int]:
    try:
        limit = int(request.param("limit") or DEFAULT_PAGE_LIMIT)
        page = max(1, int(request.param("page") or 1))
    except ValueError:
        raise Invalid.one("InvalidType", "limit", "limit and page must be integers") from None
    if limit < 1 or limit > MAX_PAGE_LIMIT:
        limit = DEFAULT_PAGE_LIMIT  # amoCRM silently serves 50 above 250
    return limit, page


def updated_filter(request: Request, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`filter[updated_at][from|to]` (inclusive Unix times) and `order[updated_at]=asc|desc`, as a
    reader of recent changes asks (docs/amocrm-api.md §8)."""
    try:
        low = int(request.param("filter[updated_at][from]") or 0)
        high = int(request.param("filter[updated_at][to]") or 2**62)
    except ValueError:
        raise Invalid.one("InvalidType", "filter.updated_at", "updated_at must be a Unix time") from None
    items = [item for item in items if low <= int(item.get("updated_at") or 0) <= high]
    order = request.param("order[updated_at]")
    if order in ("asc", "desc"):
        items.sort(key=lambda item: (int(item.get("updated_at") or 0), item["id"]), reverse=order == "desc")
    return items


def many(request: Request, name: str) -> list[str]:
    """`filter[<name>][]=a&filter[<name>][]=b`, or one `filter[<name>]=a` (comma-separated)."""
    raw = request.query.get(f"filter[{name}][]", []) + request.query.get(f"filter[{name}]", [])
    return [v for value in raw for v in value.split(",") if v]


def ids_filter(request: Request, name: str = "id") -> set[int] | None:
    raw = many(request, name)
    if not raw:
        return None
    try:
        return {int(v) for v in raw}
    except ValueError:
        raise Invalid.one("InvalidType", f"filter.{name}", "Ids must be integers") from None


class Api:
    """API v4 and /oauth2/; `echo` sends the webhooks an API change fires."""

    def __init__(
        self, *, account: Account, tokens: Tokens, runtime: Runtime, echo: Callable[[list[Event]], None]
    ) -> None:
        self.account = account
        self.tokens = tokens
        self.runtime = runtime
        self.echo = echo
        self.routes: list[Route] = [
            ("GET", r"/api/v4/account", self.account_get),
            ("GET", r"/api/v4/(leads|contacts)/custom_fields", self.fields_list),
            ("POST", r"/api/v4/(leads|contacts)/custom_fields", self.fields_create),
            ("GET", r"/api/v4/(leads|contacts)/custom_fields/(\d+)", self.field_get),
            ("PATCH", r"/api/v4/(leads|contacts)/custom_fields/(\d+)", self.field_update),
            ("GET", r"/api/v4/leads/pipelines", self.pipelines_list),
            ("POST", r"/api/v4/leads/complex", self.leads_create_complex),
            ("GET", r"/api/v4/leads", self.leads_list),
            ("POST", r"/api/v4/leads", self.leads_create),
            ("PATCH", r"/api/v4/leads", self.leads_update),
            ("GET", r"/api/v4/leads/notes", self.notes_list),
            ("POST", r"/api/v4/leads/notes", self.notes_create),
            ("GET", r"/api/v4/leads/(\d+)/notes", self.notes_list),
            ("POST", r"/api/v4/leads/(\d+)/notes", self.notes_create),
            ("GET", r"/api/v4/leads/(\d+)/notes/(\d+)", self.note_get),
            ("GET", r"/api/v4/tasks", self.tasks_list),
            ("POST", r"/api/v4/tasks", self.tasks_create),
            ("GET", r"/api/v4/leads/(\d+)", self.lead_get),
            ("PATCH", r"/api/v4/leads/(\d+)", self.lead_update),
            ("POST", r"/api/v4/leads/(\d+)/link", self.lead_link),
            ("GET", r"/api/v4/contacts", self.contacts_list),
            ("POST", r"/api/v4/contacts", self.contacts_create),
            ("PATCH", r"/api/v4/contacts", self.contacts_update),
            ("GET", r"/api/v4/events", self.events_list),
            ("GET", r"/api/v4/contacts/(\d+)", self.contact_get),
            ("GET", r"/api/v4/webhooks", self.webhooks_list),
            ("POST", r"/api/v4/webhooks", self.webhook_subscribe),
            ("DELETE", r"/api/v4/webhooks", self.webhook_unsubscribe),
        ]

    @property
    def base_url(self) -> str:
        return self.account.base_url

    def answer(self, request: Request) -> Response:
        """An OAuth route, or an API v4 route for a request with a live Bearer token."""
        if request.path.rstrip("/") == "/oauth2/account/current/subdomain":
            return self.oauth_subdomain(request)
        if request.path.rstrip("/") == "/oauth2/access_token":
            return self.oauth_token(request)
        if not request.path.startswith("/api/v4/"):
            return problem(404, "Not Found", "No such path")
        if not self._authorized(request):
            return problem(401, "Unauthorized", "Token is missing, expired or revoked")
        if self._admin_only(request) and not self.account.settings["api_user_is_admin"]:
            return problem(403, "Forbidden", RIGHTS_DETAIL)
        try:
            return self._route(request)
        except Invalid as e:
            return invalid(e)

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("Authorization") or ""
        if not header.startswith("Bearer "):
            return False
        return self.tokens.is_valid(header.removeprefix("Bearer ").strip())

    @staticmethod
    def _admin_only(request: Request) -> bool:
        """Webhook subscriptions and custom field set-up are for an account admin (reading fields is not)."""
        path = request.path.rstrip("/")
        if path == "/api/v4/webhooks":
            return True
        return (
            request.method != "GET"
            and re.fullmatch(r"/api/v4/(leads|contacts)/custom_fields(/\d+)?", path) is not None
        )

    def _route(self, request: Request) -> Response:
        for method, pattern, handler in self.routes:
            match = re.fullmatch(pattern, request.path.rstrip("/") or "/")
            if match and method == request.method:
                return handler(request, *match.groups())
        if any(re.fullmatch(p, request.path.rstrip("/")) for _, p, _ in self.routes):
            return problem(405, "Method Not Allowed")
        return problem(404, "Not Found", "No such path")

    def _page(self, request: Request, key: str, items: list[Any]) -> Response:
        limit, page = limit_page(request)
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

    # -- OAuth ---------------------------------------------------------------------------------

    def oauth_token(self, request: Request) -> Response:
        if request.is_form:
            data: Any = {k: v[0] for k, v in parse_qs(request.raw.decode()).items()}
        else:
            try:
                data = json.loads(request.raw or b"null")
            except ValueError:
                data = None
        try:
            return plain_json(200, self.tokens.grant(data))
        except OAuthError as e:
            extra = {"type": e.problem_type} if e.problem_type else {}
            return problem(e.status, e.title, e.detail, hint=e.hint, **extra)

    def oauth_subdomain(self, request: Request) -> Response:
        """What amocrm-api-php's getAccountDomainByRefreshToken asks after a failed refresh: the
        account's current subdomain, for a live refresh token in `X-Refresh-Token` (not used up)."""
        if request.method != "GET":
            return problem(405, "Method Not Allowed")
        if not self.tokens.is_live_refresh(request.headers.get("X-Refresh-Token") or ""):
            return problem(401, "Unauthorized", "Refresh token is missing, expired or revoked")
        return plain_json(200, self.account.domain())

    # -- the account ---------------------------------------------------------------------------

    def account_get(self, request: Request) -> Response:
        with_ = {w.strip() for w in (request.param("with") or "").split(",") if w.strip()}
        return hal(200, self.account.account_get(with_))

    # -- custom fields and pipelines -----------------------------------------------------------

    def fields_list(self, request: Request, entity: str) -> Response:
        return self._page(request, "custom_fields", self.account.field_list(entity))

    def field_get(self, request: Request, entity: str, field_id: str) -> Response:
        found = self.account.field_get(entity, int(field_id))
        return empty() if found is None else hal(200, found)

    def fields_create(self, request: Request, entity: str) -> Response:
        created = self.account.fields_create(entity, batch_body(request, MAX_LEADS_BATCH))
        return hal(200, {"_total_items": len(created), "_embedded": {"custom_fields": created}})

    def field_update(self, request: Request, entity: str, field_id: str) -> Response:
        changed = self.account.field_update(entity, int(field_id), object_body(request))
        if changed is None:
            return problem(404, "Not Found", "No such custom field")
        return hal(200, changed)

    def pipelines_list(self, request: Request) -> Response:
        pipelines = pipelines_shape()
        return hal(200, {"_total_items": len(pipelines), "_embedded": {"pipelines": pipelines}})

    # -- leads ---------------------------------------------------------------------------------

    def leads_create(self, request: Request) -> Response:
        body = batch_body(request, MAX_LEADS_BATCH)
        leads, events = self.account.leads_create(body)
        self.echo(events)
        return self._created("leads", leads, body)

    def leads_create_complex(self, request: Request) -> Response:
        answer, events = self.account.leads_create_complex(batch_body(request, MAX_COMPLEX_BATCH))
        self.echo(events)
        return hal(200, answer)

    def _update(self, items: list[Any]) -> tuple[list[dict[str, Any]], list[Event]] | Response:
        """The updated leads and their events, or the 400 (keyed by lead id with `errors_by_id`)."""
        with self.runtime.lock:
            rejected, by_id = dict(self.runtime.rejected), self.runtime.settings["errors_by_id"]
        try:
            return self.account.leads_update(items, rejected=rejected)
        except Invalid as e:
            return invalid_by_id(e, items) if by_id else invalid(e)

    def leads_update(self, request: Request) -> Response:
        updated = self._update(batch_body(request, MAX_LEADS_BATCH))
        if isinstance(updated, Response):
            return updated
        answer, events = updated
        self.echo(events)
        return hal(
            200,
            {"_links": {"self": {"href": f"{self.base_url}/api/v4/leads"}}, "_embedded": {"leads": answer}},
        )

    def lead_update(self, request: Request, lead_id: str) -> Response:
        item = object_body(request)
        if "id" in item and item["id"] != int(lead_id):
            raise Invalid.one("NotEqual", "id", "The id in the body differs from the one in the path")
        if not self.account.has_lead(int(lead_id)):
            return problem(404, "Not Found", "The lead does not exist")
        updated = self._update([{**item, "id": int(lead_id)}])
        if isinstance(updated, Response):
            return updated
        answers, events = updated
        self.echo(events)
        return hal(200, {**answers[0], "_embedded": {"leads": [answers[0]]}})

    def lead_get(self, request: Request, lead_id: str) -> Response:
        with_contacts = "contacts" in (request.param("with") or "")
        lead = self.account.lead_get(int(lead_id), with_contacts=with_contacts)
        return empty() if lead is None else hal(200, lead)  # amoCRM answers 204 for a deleted lead

    def leads_list(self, request: Request) -> Response:
        ids, query = ids_filter(request), request.param("query")
        with_contacts = "contacts" in (request.param("with") or "")
        leads = self.account.leads_search(ids, query, with_contacts=with_contacts)
        return self._page(request, "leads", updated_filter(request, leads))

    def lead_link(self, request: Request, lead_id: str) -> Response:
        links = self.account.lead_link(int(lead_id), batch_body(request, MAX_LEADS_BATCH))
        if links is None:
            return problem(404, "Not Found", "The lead does not exist")
        return hal(200, {"_total_items": len(links), "_embedded": {"links": links}})

    # -- notes ---------------------------------------------------------------------------------

    def notes_create(self, request: Request, lead_id: str | None = None) -> Response:
        """Notes on any leads (each item names its `entity_id`), or on the lead in the path."""
        body = batch_body(request, MAX_NOTES_BATCH)
        notes = self.account.notes.create(body, entity_id=None if lead_id is None else int(lead_id))
        items = [
            {
                "id": note["id"],
                "entity_id": note["entity_id"],
                "request_id": str(item.get("request_id", index)),
                "_links": {"self": {"href": note_href(self.base_url, note)}},
            }
            for index, (note, item) in enumerate(zip(notes, body, strict=True))
        ]
        return hal(
            200,
            {"_links": {"self": {"href": f"{self.base_url}{request.path}"}}, "_embedded": {"notes": items}},
        )

    def notes_list(self, request: Request, lead_id: str | None = None) -> Response:
        """One lead's notes, or all leads' (`filter[entity_id]`), by `filter[note_type]`, oldest first."""
        entity_ids = {int(lead_id)} if lead_id is not None else ids_filter(request, "entity_id")
        notes = self.account.notes.search(
            entity_ids=entity_ids, ids=ids_filter(request), note_types=set(many(request, "note_type")) or None
        )
        return self._page(request, "notes", updated_filter(request, notes))

    def note_get(self, request: Request, lead_id: str, note_id: str) -> Response:
        note = self.account.notes.get(int(lead_id), int(note_id))
        return empty() if note is None else hal(200, note)

    # -- tasks ---------------------------------------------------------------------------------

    def tasks_create(self, request: Request) -> Response:
        """Tasks, all or none: `{text, complete_till, entity_id, entity_type, ...}` each."""
        body = batch_body(request, MAX_TASKS_BATCH)
        tasks = self.account.tasks.create(body)
        items = [
            {"id": task["id"], "request_id": str(item.get("request_id", index)), "_links": task["_links"]}
            for index, (task, item) in enumerate(zip(tasks, body, strict=True))
        ]
        return hal(
            200,
            {"_links": {"self": {"href": f"{self.base_url}/api/v4/tasks"}}, "_embedded": {"tasks": items}},
        )

    def tasks_list(self, request: Request) -> Response:
        """Tasks by `filter[entity_type]` and `filter[entity_id][]`, oldest first (204: none)."""
        entity_type = (many(request, "entity_type") or [None])[0]
        tasks = self.account.tasks.search(
            entity_type=entity_type, entity_ids=ids_filter(request, "entity_id")
        )
        return self._page(request, "tasks", tasks)

    # -- contacts ------------------------------------------------------------------------------

    def contacts_list(self, request: Request) -> Response:
        ids, query = ids_filter(request), request.param("query")
        return self._page(
            request, "contacts", updated_filter(request, self.account.contacts_search(ids, query))
        )

    def contacts_create(self, request: Request) -> Response:
        body = batch_body(request, MAX_LEADS_BATCH)
        contacts, events = self.account.contacts_create(body)
        self.echo(events)
        return self._created("contacts", contacts, body)

    def events_list(self, request: Request) -> Response:
        """Only the lead deletes and restores the stand-in keeps, by `filter[type]` and created_at."""
        types = set((request.param("filter[type]") or "").split(",")) - {""}
        since = int(request.param("filter[created_at][from]") or 0)
        with self.account.lock:
            events = [e for e in self.account.event_log if e["created_at"] >= since]
        return self._page(request, "events", [e for e in events if not types or e["type"] in types])

    def contacts_update(self, request: Request) -> Response:
        try:
            answer, events = self.account.contacts_update(batch_body(request, MAX_LEADS_BATCH))
        except Invalid as e:
            return invalid(e)
        self.echo(events)
        return hal(
            200,
            {
                "_links": {"self": {"href": f"{self.base_url}/api/v4/contacts"}},
                "_embedded": {"contacts": answer},
            },
        )

    def contact_get(self, request: Request, contact_id: str) -> Response:
        contact = self.account.contact_get(int(contact_id))
        return empty() if contact is None else hal(200, contact)

    # -- webhooks ------------------------------------------------------------------------------

    def webhooks_list(self, request: Request) -> Response:
        hooks = self.account.webhooks_list(request.param("filter[destination]"))
        if not hooks:
            return empty()
        return hal(200, {"_total_items": len(hooks), "_embedded": {"webhooks": hooks}})

    def webhook_subscribe(self, request: Request) -> Response:
        data = json_body(request)
        check_subscription(data)
        return hal(201, self.account.webhook_subscribe(data))

    def webhook_unsubscribe(self, request: Request) -> Response:
        data = json_body(request)
        if not isinstance(data, dict) or not isinstance(data.get("destination"), str):
            raise Invalid.one("NotBlank", "destination", "This value should not be blank.")
        self.account.webhook_unsubscribe(data["destination"])
        return empty()
