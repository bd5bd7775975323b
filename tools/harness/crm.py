"""The amoCRM stand-in for a run: started in this process, its control API (/_standin/), and the
site's environment pointing at it."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from tools.amocrm_standin import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SUBDOMAIN, StandIn
from tools.harness.database import throwaway_database
from tools.harness.processes import HarnessError, time_limit

WEBHOOK_SECRET = "demo-webhook-secret"  # noqa: S105 - a local value for runs on loopback
AMOCRM_RATE = 7  # requests per second: amoCRM's limit, and the stand-in's by default


class Control:
    """The stand-in's control API; paths as "leads" or "/leads"."""

    def __init__(self, standin: StandIn) -> None:
        self.standin = standin  # its port is known once it has started

    def __call__(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        url = f"{self.standin.base_url}/_standin/{path.lstrip('/')}"
        response = requests.request(method, url, json=body, timeout=10)
        if response.status_code != 200:
            raise HarnessError(
                f"stand-in control {method} {path} answered {response.status_code}: {response.text}"
            )
        return response.json()

    def token(self) -> str:
        """A long-lived token, as an account's owner makes one for a private integration."""
        return self("POST", "tokens/long-lived")["access_token"]

    def requests(self) -> list[dict[str, Any]]:
        return self("GET", "requests")["requests"]

    def leads(self) -> list[dict[str, Any]]:
        return self("GET", "leads")["leads"]

    def lead_of(self, email: str) -> dict[str, Any] | None:
        """The lead whose FA_EMAIL field holds `email`, or None."""
        return next((lead for lead in self.leads() if field_value(lead, "FA_EMAIL") == email), None)

    def settings(self, **values: Any) -> dict[str, Any]:
        return self("POST", "settings", values)


def values_by_code(lead: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """A lead's custom fields by the codes our setup gave them (e.g. FA_WISHES)."""
    return {item["field_code"]: item["values"] for item in lead.get("custom_fields_values") or []}


def field_value(lead: dict[str, Any], code: str) -> str | None:
    values = values_by_code(lead).get(code)
    return str(values[0]["value"]) if values else None


@contextmanager
def standin(*, rate_limit: int = AMOCRM_RATE) -> Iterator[StandIn]:
    server = StandIn(port=0, rate_limit=rate_limit).start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def crm_run(timeout: int, database_url: str | None) -> Iterator[tuple[str, Path, StandIn, Control]]:
    """What an amoCRM benchmark runs inside: the time limit, a throwaway database, a temporary
    directory and the stand-in at amoCRM's 7 requests/second, with its control API."""
    with (
        time_limit(timeout),
        throwaway_database(database_url) as url,
        tempfile.TemporaryDirectory() as tmp,
        standin() as server,
    ):
        yield url, Path(tmp), server, Control(server)


def oauth_env(site_url: str, standin_url: str) -> dict[str, str]:
    """The stand-in as the site's amoCRM, to be connected with a code as staff do; every AMOCRM_*
    value is explicit, so nothing leaks in from .env."""
    return {
        "AMOCRM_BASE_URL": standin_url,
        "AMOCRM_CLIENT_ID": DEFAULT_CLIENT_ID,
        "AMOCRM_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
        "AMOCRM_REDIRECT_URI": f"{site_url}/amocrm/oauth/callback/",
        "AMOCRM_LONG_LIVED_TOKEN": "",
        "AMOCRM_WEBHOOK_SECRET": WEBHOOK_SECRET,
        # The stand-in's base URL (127.0.0.1) has no subdomain; its webhooks name the account so
        # until the site has read the account (and knows its id).
        "AMOCRM_ACCOUNT_SUBDOMAIN": SUBDOMAIN,
        # "Успешно реализовано" → active, "Закрыто и не реализовано" → closed, as docs/settings.md suggests.
        "AMOCRM_STATUS_MAP": "142:active,143:closed",
        # A short breaker cooldown: a blocked or failing stand-in is probed again within seconds.
        "AMOCRM_BREAKER_COOLDOWN": "5",
    }


def crm_env(
    env: dict[str, str], server: StandIn, token: str, *, rate_limit: float = AMOCRM_RATE
) -> dict[str, str]:
    """`env` with the stand-in as the site's amoCRM through a long-lived token, at our rate limit."""
    return {
        **env,
        "AMOCRM_BASE_URL": server.base_url,
        "AMOCRM_LONG_LIVED_TOKEN": token,
        "AMOCRM_CLIENT_ID": "",
        "AMOCRM_CLIENT_SECRET": "",
        "AMOCRM_RATE_LIMIT": str(rate_limit),
    }


def no_crm_env(env: dict[str, str]) -> dict[str, str]:
    """`env` with the integration off, whatever the caller's environment says."""
    return {
        **env,
        "AMOCRM_BASE_URL": "",
        "AMOCRM_LONG_LIVED_TOKEN": "",
        "AMOCRM_CLIENT_ID": "",
        "AMOCRM_CLIENT_SECRET": "",
    }
