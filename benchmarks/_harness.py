"""What the amoCRM benchmarks share: the amoCRM stand-in, its control API, a background manage.py.

The database, the production-like environment, manage.py, gunicorn, the signup helpers and the
figures come from site_latency.py (imported, not copied; re-exported here). Scripts run as
`python benchmarks/<name>.py`, so this directory is on sys.path; the project root is added for
`tools.amocrm_standin`.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from site_latency import (  # noqa: F401 - re-exported for the amoCRM benchmarks
    BASE_DIR,
    PYTHON,
    REQUEST_TIMEOUT,
    create_customer,
    csrf_token,
    database_kind,
    django_setup,
    free_port,
    load_average,
    log_in,
    manage,
    ms,
    percentile,
    prepare,
    serving,
    signup,
    signup_email,
    site_env,
    stop,
    throwaway_database,
    time_limit,
)

if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

from tools.amocrm_standin import StandIn  # noqa: E402


@contextmanager
def standin(*, rate_limit: int = 7) -> Iterator[StandIn]:
    server = StandIn(port=0, rate_limit=rate_limit).start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def crm_run(timeout: int, database_url: str | None) -> Iterator[tuple[str, Path, StandIn, Control]]:
    """What every amoCRM benchmark runs inside: the time limit, the throwaway database, a temporary
    directory and the stand-in at amoCRM's 7 requests/second (with its control API)."""
    with (
        time_limit(timeout),
        throwaway_database(database_url) as url,
        tempfile.TemporaryDirectory() as tmp,
        standin(rate_limit=7) as server,
    ):
        yield url, Path(tmp), server, Control(server)


class Control:
    """The stand-in's control API (/_standin/)."""

    def __init__(self, server: StandIn) -> None:
        self.base = f"{server.base_url}/_standin"

    def __call__(self, method: str, path: str, body: dict | None = None) -> Any:
        response = requests.request(method, f"{self.base}/{path}", json=body or {}, timeout=10)
        if response.status_code != 200:
            raise SystemExit(
                f"stand-in control {method} {path} answered {response.status_code}: {response.text}"
            )
        return response.json()

    def token(self) -> str:
        return self("POST", "tokens/long-lived")["access_token"]

    def requests(self) -> list[dict[str, Any]]:
        return self("GET", "requests")["requests"]

    def leads(self) -> list[dict[str, Any]]:
        return self("GET", "leads")["leads"]

    def settings(self, **values: Any) -> dict[str, Any]:
        return self("POST", "settings", values)


def crm_env(env: dict[str, str], server: StandIn, token: str, *, rate_limit: float = 7) -> dict[str, str]:
    """The site's environment with the stand-in as its amoCRM (long-lived token, our rate limit)."""
    return {
        **env,
        "AMOCRM_BASE_URL": server.base_url,
        "AMOCRM_LONG_LIVED_TOKEN": token,
        "AMOCRM_CLIENT_ID": "",
        "AMOCRM_CLIENT_SECRET": "",
        "AMOCRM_RATE_LIMIT": str(rate_limit),
    }


def no_crm_env(env: dict[str, str]) -> dict[str, str]:
    """The site's environment with the integration off, whatever the caller's environment says."""
    return {
        **env,
        "AMOCRM_BASE_URL": "",
        "AMOCRM_LONG_LIVED_TOKEN": "",
        "AMOCRM_CLIENT_ID": "",
        "AMOCRM_CLIENT_SECRET": "",
    }


@contextmanager
def background(env: dict[str, str], log_path: Path, *args: str) -> Iterator[subprocess.Popen]:
    """`manage.py <args>` running beside the benchmark (the worker); always stopped."""
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [PYTHON, "manage.py", *args], cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            yield process
        finally:
            stop(process)


def wait_until(what: str, check: Callable[[], Any], timeout: float, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def field_value(lead: dict[str, Any], code: str) -> str | None:
    """A lead custom field's first value, by the field code our setup gave it (e.g. FA_WISHES)."""
    for item in lead.get("custom_fields_values") or []:
        if item.get("field_code") == code:
            return str(item["values"][0]["value"])
    return None
