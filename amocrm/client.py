"""HTTP to amoCRM API v4: one session, a timeout on every call, typed errors, retries, one log line a call.

Retries: 401 → refresh the token once (single-flight, see services) and retry once; 429 and 5xx,
timeouts and connection failures → up to `max_retries` more tries with exponential backoff and
jitter, honouring Retry-After; 400 and the other 4xx → raised at once. A POST that may already
have reached amoCRM (read timeout, 500, 504) is not repeated, so a lead is never created twice; a
POST is retried only on 429, 503 or a connection that was never made.
Every request first takes a slot from the limiter it is given (`services.connection.client_get` gives
the deployment-wide one, amocrm.ratelimit), so this module needs no database.
"""

import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

import requests
from django.conf import settings
from urllib3.exceptions import NameResolutionError, NewConnectionError

from accounts import emails
from amocrm.answers import error_for
from amocrm.exceptions import (
    AmoCRMAuthError,
    AmoCRMError,
    AmoCRMNotFound,
    AmoCRMRateLimited,
    AmoCRMRedirected,
    AmoCRMUnavailable,
    AmoCRMValidationError,
)
from amocrm.tokens import StaticTokenSource, TokenSource  # noqa: F401 - StaticTokenSource re-exported

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 3.05
BATCH_SIZE = 50  # amoCRM takes 250 per write but recommends 50; the complex create takes 50 at most
PAGE_SIZE = 50
MAX_PAGES = 200  # a guard against a `next` link that never ends
BACKOFF_BASE = 1.0  # seconds; doubled each retry
MAX_BACKOFF = 30.0
MAX_RETRY_AFTER = 60.0  # a longer Retry-After is left to the caller (the outbox) to honour
REQUEST_ID_HEADERS = ("X-Request-Id", "X-Amo-Request-Id", "X-Trace-Id")


class Limiter(Protocol):
    def acquire(self) -> object: ...


class Breaker(Protocol):
    """The deployment-wide circuit breaker (amocrm.services.breaker): asked before every call."""

    def allow(self) -> None:
        """Return when a call may be made; raise AmoCRMCircuitOpen when it may not."""
        ...

    def succeeded(self) -> None: ...

    def failed(self, error: AmoCRMError) -> None: ...


def chunks(items: Sequence[Any], size: int = BATCH_SIZE) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _contact_emails(contact: dict[str, Any]) -> set[str]:
    return {
        emails.normalize(str(value.get("value", "")))
        for field in contact.get("custom_fields_values") or []
        if field.get("field_code") == "EMAIL"
        for value in field.get("values") or []
        if isinstance(value, dict)
    }


def _never_sent(error: requests.ConnectionError) -> bool:
    """True when the connection was never made, so amoCRM cannot have acted on the request (a
    ConnectTimeout never gets here: it is a Timeout, answered first)."""
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(reason, (NewConnectionError, NameResolutionError))


class AmoCRMClient:
    """The amoCRM API v4 calls the integration needs; returns plain dicts, raises amocrm.exceptions."""

    def __init__(
        self,
        *,
        base_url: str,
        tokens: TokenSource | None,
        timeout: float | None = None,
        limiter: Limiter,
        breaker: Breaker | None = None,
        max_retries: int = 3,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        session: requests.Session | None = None,
    ) -> None:
        if not base_url:
            raise AmoCRMError("AMOCRM_BASE_URL is not set")
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self.timeout = (CONNECT_TIMEOUT, timeout if timeout is not None else settings.AMOCRM_TIMEOUT)
        self.limiter = limiter
        self.breaker = breaker
        self.max_retries = max_retries
        self.sleep = sleep
        self.jitter = jitter
        self.session = session or requests.Session()
        self.session.headers.update({"Accept": "application/hal+json, application/json"})

    def __repr__(self) -> str:
        return f"<AmoCRMClient base_url={self.base_url!r}>"

    # -- transport -------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
    ) -> Any:
        """One API call with refresh-on-401 and retries; the decoded JSON, or None for a 204.

        The breaker, when given, is asked before every attempt (a retry too), so an outage that opens
        it stops this call's retries at once instead of sleeping through them.
        """
        if self.tokens is None:
            raise AmoCRMAuthError("amoCRM is not connected", path=path)
        idempotent = method != "POST" if idempotent is None else idempotent
        self._allow()
        token = self.tokens.access_token()
        refreshed = False
        retries = 0
        while True:
            try:
                result = self._send(method, path, params=params, json=json, token=token)
            except AmoCRMAuthError as e:
                self._answered(e)
                if refreshed:
                    raise
                token = self.tokens.refresh(stale_access_token=token)
                refreshed = True
                self._allow()
            except (AmoCRMRateLimited, AmoCRMUnavailable) as e:
                self._answered(e)
                delay = self._retry_delay(e, retries=retries, idempotent=idempotent)
                if delay is None:
                    raise
                retries += 1
                logger.warning(
                    "amocrm.retry method=%s path=%s status=%s retry=%s delay_s=%.2f",
                    method,
                    path,
                    e.status or e.message,
                    retries,
                    delay,
                )
                self.sleep(delay)
                self._allow()
            except AmoCRMError as e:
                self._answered(e)
                raise
            else:
                self._answered(None)
                return result

    def _allow(self) -> None:
        if self.breaker is not None:
            self.breaker.allow()

    def _answered(self, error: AmoCRMError | None) -> None:
        """Tell the breaker: a block, a lapsed plan or amoCRM trouble counts against it; a 429 says
        nothing; any other answer (2xx, 400, 401, 404) shows amoCRM is there."""
        if self.breaker is None or isinstance(error, AmoCRMRateLimited):
            return
        if error is not None and (error.opens_breaker or isinstance(error, AmoCRMUnavailable)):
            self.breaker.failed(error)
        else:
            self.breaker.succeeded()

    def token_request(self, data: dict[str, str]) -> dict[str, Any]:
        """POST /oauth2/access_token (code or refresh grant). Not retried: a refresh token is single-use."""
        path = "/oauth2/access_token"
        try:
            body = self._send("POST", path, json=data, token=None)
        except (AmoCRMValidationError, AmoCRMAuthError, AmoCRMNotFound) as e:
            raise AmoCRMAuthError(
                f"amoCRM refused to issue tokens ({e.message}); reconnect the integration",
                status=e.status,
                path=path,
            ) from e
        if not isinstance(body, dict) or not body.get("access_token"):
            raise AmoCRMError("amoCRM's token answer has no access token", path=path)
        return body

    def account_subdomain(self, *, refresh_token: str) -> dict[str, Any]:
        """Where the account lives now, after a subdomain rename: `{id, subdomain, domain,
        top_level_domain}`. Asked of the `api_domain` host (this client's base URL) with the refresh
        token, as the official client does after a refresh answered 401/404 (docs/amocrm-api.md §3)."""
        path = "/oauth2/account/current/subdomain"
        body = self._send("GET", path, token=None, headers={"X-Refresh-Token": refresh_token})
        if not isinstance(body, dict) or not body.get("domain"):
            raise AmoCRMError("amoCRM's answer names no account domain", path=path)
        return body

    def _retry_delay(self, error: AmoCRMError, *, retries: int, idempotent: bool) -> float | None:
        if retries >= self.max_retries:
            return None
        if isinstance(error, AmoCRMRateLimited):
            if error.retry_after is not None:
                if error.retry_after > MAX_RETRY_AFTER:
                    return None
                return error.retry_after + self.jitter() * BACKOFF_BASE
        elif not idempotent and error.may_have_acted:
            return None
        backoff = min(MAX_BACKOFF, BACKOFF_BASE * 2**retries)
        return backoff / 2 + self.jitter() * backoff / 2

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        token: str | None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        if token is not None:
            # The token endpoint is left out: it is called under the token row lock, and rarely.
            self.limiter.acquire()
        headers = {**(headers or {}), **({"Authorization": f"Bearer {token}"} if token is not None else {})}
        started = time.monotonic()
        try:
            response = self.session.request(
                method,
                f"{self.base_url}{path}",
                params=params,
                json=json,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,  # tokens only ever go to the host we chose (AmoCRMRedirected)
            )
        except requests.Timeout as e:
            self._log(method, path, "timeout", started, None, level=logging.WARNING)
            raise AmoCRMUnavailable(
                "amoCRM did not answer in time", path=path, never_sent=isinstance(e, requests.ConnectTimeout)
            ) from e
        except requests.ConnectionError as e:
            self._log(method, path, "connection_error", started, None, level=logging.WARNING)
            raise AmoCRMUnavailable(
                "could not connect to amoCRM", path=path, never_sent=_never_sent(e)
            ) from e
        except requests.RequestException as e:
            self._log(method, path, "request_error", started, None, level=logging.WARNING)
            raise AmoCRMError("the request to amoCRM failed", path=path) from e
        request_id = next((response.headers[h] for h in REQUEST_ID_HEADERS if h in response.headers), None)
        self._log(method, path, response.status_code, started, request_id)
        if 300 <= response.status_code < 400:
            # The Location is not logged either: it is someone else's address, maybe with our data.
            raise AmoCRMRedirected(
                "amoCRM answered with a redirect, which is never followed",
                status=response.status_code,
                path=path,
            )
        if response.status_code == 204:
            return None  # amoCRM answers 204 with no body for "nothing there"
        if not response.ok:
            raise error_for(response, path)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as e:
            raise AmoCRMError(
                "amoCRM answered with invalid JSON", status=response.status_code, path=path
            ) from e

    @staticmethod
    def _log(
        method: str,
        path: str,
        status: object,
        started: float,
        request_id: str | None,
        level: int = logging.INFO,
    ) -> None:
        # Path only: query strings may hold an email (contact search); never headers or bodies.
        logger.log(
            level,
            "amocrm.request method=%s path=%s status=%s duration_ms=%d request_id=%s",
            method,
            path,
            status,
            (time.monotonic() - started) * 1000,
            request_id or "-",
        )

    def _batch(
        self, method: str, path: str, items: Sequence[dict[str, Any]], unwrap: Callable[[Any], list]
    ) -> list:
        results: list[dict[str, Any]] = []
        for chunk in chunks(items):
            try:
                results.extend(unwrap(self.request(method, path, json=chunk)))
            except AmoCRMError as e:
                e.completed = results
                raise
        return results

    # -- leads -----------------------------------------------------------------------------

    def leads_create(self, leads: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """POST /api/v4/leads in chunks of 50; the created leads ({id, request_id, ...}) in order."""
        return self._batch("POST", "/api/v4/leads", leads, _embedded("leads"))

    def leads_update(self, leads: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """PATCH /api/v4/leads in chunks of 50; each item has an `id` and only the changed fields."""
        return self._batch("PATCH", "/api/v4/leads", leads, _embedded("leads"))

    def leads_create_complex(self, leads: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """POST /api/v4/leads/complex (a lead with its one contact) in chunks of 50."""
        return self._batch("POST", "/api/v4/leads/complex", leads, lambda body: list(body or []))

    def lead_get(self, lead_id: int, *, with_contacts: bool = True) -> dict[str, Any] | None:
        """One lead (with its contacts' ids), or None when amoCRM answers 204 (the lead was deleted)."""
        params = {"with": "contacts"} if with_contacts else None
        return self.request("GET", f"/api/v4/leads/{int(lead_id)}", params=params)

    def leads_list_by_ids(
        self, lead_ids: Sequence[int], *, with_contacts: bool = False
    ) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for chunk in chunks([int(i) for i in lead_ids]):
            params: dict[str, Any] = {"filter[id][]": chunk, "limit": 250}
            if with_contacts:
                params["with"] = "contacts"
            found.extend(_embedded("leads")(self.request("GET", "/api/v4/leads", params=params)))
        return found

    def changed_since(self, entity: str, *, since: int, page: int, limit: int = 250) -> list[dict[str, Any]]:
        """One page of leads or contacts changed at or after `since` (a Unix time), oldest change
        first: `GET /api/v4/<entity>?filter[updated_at][from]=…&order[updated_at]=asc` (204: none)."""
        params: dict[str, Any] = {"filter[updated_at][from]": int(since), "order[updated_at]": "asc"}
        # A lead's main contact with it: a manager may have relinked or merged it.
        params |= {"limit": limit, "page": page, **({"with": "contacts"} if entity == "leads" else {})}
        return _embedded(entity)(self.request("GET", f"/api/v4/{entity}", params=params))

    def lead_events_since(self, types: str, *, since: int, page: int) -> list[dict[str, Any]]:
        """A page of lead events of `types` (comma-separated) created at or after `since` (204: none)."""
        params = {"filter[entity]": "lead", "filter[type]": types, "filter[created_at][from]": int(since)}
        params |= {"limit": 250, "page": page}
        return _embedded("events")(self.request("GET", "/api/v4/events", params=params))

    def leads_search(self, query: str, *, with_contacts: bool = True) -> list[dict[str, Any]]:
        """GET /api/v4/leads?query=…: a full-text search over the leads' fields (empty on a 204)."""
        params: dict[str, Any] = {"query": query, "limit": 50}
        if with_contacts:
            params["with"] = "contacts"
        return _embedded("leads")(self.request("GET", "/api/v4/leads", params=params))

    # -- notes (the lead's history) --------------------------------------------------------

    def notes_create(self, notes: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """POST /api/v4/leads/notes in chunks of 50: `{entity_id, note_type, params, request_id}`."""
        return self._batch("POST", "/api/v4/leads/notes", notes, _embedded("notes"))

    def lead_notes_since(self, lead_id: int, *, since: int) -> list[dict[str, Any]]:
        """The lead's plain notes changed at or after `since` (a Unix time); empty on a 204."""
        params = {"filter[updated_at][from]": int(since), "filter[note_type]": "common", "limit": 250}
        return _embedded("notes")(self.request("GET", f"/api/v4/leads/{int(lead_id)}/notes", params=params))

    # -- tasks (a manager's to-do on a lead) ------------------------------------------------

    def tasks_create(self, tasks: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """POST /api/v4/tasks in chunks of 50: `{text, complete_till, entity_id, entity_type,
        responsible_user_id, task_type_id, request_id}`; the answers `{id, request_id}` in order."""
        return self._batch("POST", "/api/v4/tasks", tasks, _embedded("tasks"))

    def lead_tasks(self, lead_id: int) -> list[dict[str, Any]]:
        """The lead's tasks (empty on a 204)."""
        params = {"filter[entity_type]": "leads", "filter[entity_id][]": [int(lead_id)], "limit": 250}
        return _embedded("tasks")(self.request("GET", "/api/v4/tasks", params=params))

    # -- contacts --------------------------------------------------------------------------

    def contacts_create(self, contacts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        return self._batch("POST", "/api/v4/contacts", contacts, _embedded("contacts"))

    def contacts_update(self, contacts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """PATCH /api/v4/contacts in chunks of 50; each item has an `id` and only what changes."""
        return self._batch("PATCH", "/api/v4/contacts", contacts, _embedded("contacts"))

    def contact_get(self, contact_id: int) -> dict[str, Any] | None:  # None: 204, deleted
        return self.request("GET", f"/api/v4/contacts/{int(contact_id)}")

    def contact_find_by_email(self, email_address: str) -> dict[str, Any] | None:
        """The first contact whose EMAIL field equals the address (case-insensitively), or None. `query`
        searches names, phones and emails: every hit is checked, page after page (`_links.next`)."""
        wanted = emails.normalize(email_address)
        for page in range(1, MAX_PAGES + 1):
            params = {"query": email_address.strip(), "limit": PAGE_SIZE, "page": page}
            body = self.request("GET", "/api/v4/contacts", params=params)  # 204: no (more) hits
            found = next((c for c in _embedded("contacts")(body) if wanted in _contact_emails(c)), None)
            if found is not None or not body or not (body.get("_links") or {}).get("next"):
                return found
        return None

    def contacts_by_email(self, *, max_pages: int, limit: int = 250) -> dict[str, int] | None:
        """Every contact of the account by its EMAIL addresses (accounts.emails.normalize; the first wins):
        one request per 250 contacts, to match many customers at once instead of one search each.
        None when the account has more than `max_pages` pages: searching one by one is cheaper."""
        found: dict[str, int] = {}
        for page in range(1, max_pages + 1):
            body = self.request("GET", "/api/v4/contacts", params={"limit": limit, "page": page})
            contacts = _embedded("contacts")(body)
            for contact in contacts:
                for address in _contact_emails(contact):
                    found.setdefault(address, int(contact["id"]))
            if len(contacts) < limit:
                return found
        return None

    # -- custom fields ---------------------------------------------------------------------

    def account_get(self) -> dict[str, Any]:
        """GET /api/v4/account with its date settings (the time zone is in _embedded.datetime_settings)."""
        return self.request("GET", "/api/v4/account", params={"with": "datetime_settings"}) or {}

    def custom_fields_list(self, entity: str = "leads") -> list[dict[str, Any]]:
        """Every custom field of an entity, following the pages until there is no `next`."""
        fields: list[dict[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            body = self.request(
                "GET", f"/api/v4/{entity}/custom_fields", params={"limit": PAGE_SIZE, "page": page}
            )
            fields.extend(_embedded("custom_fields")(body))
            if not body or not (body.get("_links") or {}).get("next"):
                return fields
        raise AmoCRMError("amoCRM kept paging custom fields", path=f"/api/v4/{entity}/custom_fields")

    def custom_fields_create(
        self, fields: Sequence[dict[str, Any]], entity: str = "leads"
    ) -> list[dict[str, Any]]:
        return self._batch("POST", f"/api/v4/{entity}/custom_fields", fields, _embedded("custom_fields"))

    def custom_field_get(self, field_id: int, entity: str = "leads") -> dict[str, Any]:
        body = self.request("GET", f"/api/v4/{entity}/custom_fields/{int(field_id)}")
        if not body:
            raise AmoCRMNotFound(
                "amoCRM has no such custom field", path=f"/api/v4/{entity}/custom_fields/{field_id}"
            )
        return body

    def custom_field_update(
        self, field_id: int, data: dict[str, Any], entity: str = "leads"
    ) -> dict[str, Any]:
        """PATCH one field. `enums` replaces the whole list: send existing enums with their ids."""
        return self.request("PATCH", f"/api/v4/{entity}/custom_fields/{int(field_id)}", json=data) or {}

    # -- pipelines -------------------------------------------------------------------------

    def pipelines_list(self) -> list[dict[str, Any]]:
        """GET /api/v4/leads/pipelines: every pipeline with its stages (`_embedded.statuses`, each with
        `type`: 1 is «Неразобранное», which takes no lead through the API)."""
        return _embedded("pipelines")(self.request("GET", "/api/v4/leads/pipelines"))

    # -- webhooks --------------------------------------------------------------------------

    def webhooks_list(self, destination: str | None = None) -> list[dict[str, Any]]:
        params = {"filter[destination]": destination} if destination else None
        return _embedded("webhooks")(self.request("GET", "/api/v4/webhooks", params=params))

    def webhook_subscribe(self, destination: str, events: Sequence[str], *, sort: int = 10) -> dict[str, Any]:
        """POST /api/v4/webhooks; posting the same destination again updates it, so it is safe to retry."""
        body = {"destination": destination, "settings": list(events), "sort": sort}
        return self.request("POST", "/api/v4/webhooks", json=body, idempotent=True) or {}

    def webhook_unsubscribe(self, destination: str) -> None:
        """DELETE /api/v4/webhooks with the destination (204)."""
        self.request("DELETE", "/api/v4/webhooks", json={"destination": destination})


def _embedded(key: str) -> Callable[[Any], list[dict[str, Any]]]:
    def unwrap(body: Any) -> list[dict[str, Any]]:
        if not isinstance(body, dict):
            return []
        return list((body.get("_embedded") or {}).get(key) or [])

    return unwrap
