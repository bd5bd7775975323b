"""The browser tests' harness: the real site, worker and amoCRM stand-in, and Debian's Chromium.

Package-scoped (started once for tests/e2e, stopped before the rest of the suite goes on):
- a throwaway database: a temporary SQLite file, or, when DATABASE_URL is PostgreSQL (CI), a new
  database on that server that is dropped afterwards. The tests never use pytest-django's `db`:
  they see the site only through the browser, the stand-in and `manage.py` in a subprocess;
- `tools.demo.Stack`: gunicorn with DEBUG off, `manage.py db_worker`, the stand-in in this
  process, emails written to files, the site connected as `make demo` connects it;
- Playwright driving /usr/bin/chromium headless (no browser downloads); skipped without it.
"""

from __future__ import annotations

import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import environ
import pytest

from tools.demo import Stack

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
WAIT = 15.0  # seconds: the longest any step may take to show up (a sync takes well under one)
ARTIFACTS = Path(__file__).parent / "artifacts"
SQLITE_OPTIONS = "?transaction_mode=IMMEDIATE&timeout=20"
POSTGRES_SCHEMES = {"postgres", "postgresql", "pgsql", "psql"}


@pytest.fixture(scope="package", autouse=True)
def _needs_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")


@pytest.fixture(scope="package")
def database_url() -> Iterator[str]:
    """A new empty database for the site under test, removed afterwards."""
    url = environ.Env().str("DATABASE_URL", default="")
    if urlsplit(url).scheme not in POSTGRES_SCHEMES:
        with tempfile.TemporaryDirectory(prefix="flower-e2e-db-") as tmp:
            # IMMEDIATE: the site's threads, the worker and the webhooks all write; a deferred
            # transaction that upgrades to a write fails at once with "database is locked".
            yield f"sqlite:///{Path(tmp) / 'e2e.sqlite3'}{SQLITE_OPTIONS}"
        return
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/') or 'flower'}_e2e_{secrets.token_hex(4)}"
    admin_url = urlunsplit(("postgresql", parts.netloc, "/postgres", parts.query, ""))
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="package")
def stack(database_url: str) -> Iterator[Stack]:
    workdir = Path(tempfile.mkdtemp(prefix="flower-e2e-"))
    stack = Stack(database_url=database_url, workdir=workdir)
    try:
        stack.start()
        yield stack
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)
        for log in workdir.glob("*.log"):
            shutil.copy(log, ARTIFACTS / log.name)
        raise
    finally:
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def new_page(browser: Any, stack: Stack) -> Iterator[Callable[..., Any]]:
    """Pages in fresh browser contexts (no shared cookies), phone or desktop sized; all closed after."""
    contexts = []

    def make(viewport: dict[str, int] = DESKTOP) -> Any:
        context = browser.new_context(viewport=viewport, base_url=stack.site_url, locale="ru-RU")
        context.set_default_timeout(WAIT * 1000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


# HELPERS
# ------------------------------------------------------------------------------
def unique_email(label: str) -> str:
    return f"{label}-{secrets.token_hex(4)}@example.com"


def wait_for(check: Callable[[], Any], what: str, timeout: float = WAIT, stack: Stack | None = None) -> Any:
    """`check()`'s first truthy result, polled; a clear failure after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            logs = f"\n{stack.logs()}" if stack is not None else ""
            pytest.fail(f"{what}: not within {timeout:.0f} s{logs}")
        time.sleep(0.1)


def values_by_code(lead: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {item["field_code"]: item["values"] for item in lead.get("custom_fields_values") or []}


def lead_of(stack: Stack, email: str) -> dict[str, Any] | None:
    """The stand-in's lead whose FA_EMAIL field holds `email`, or None."""
    for lead in stack.control("GET", "/leads")["leads"]:
        if values_by_code(lead).get("FA_EMAIL") == [{"value": email}]:
            return lead
    return None


def wait_for_lead(stack: Stack, email: str, check: Callable[[dict], bool] = bool, what: str = "") -> dict:
    return wait_for(
        lambda: (lead := lead_of(stack, email)) is not None and check(lead) and lead,
        what or f"a lead for {email} in the stand-in",
        stack=stack,
    )


def enum_text(stack: Stack, code: str, enum_id: int) -> str:
    for field in stack.control("GET", "/fields")["leads"]:
        if field["code"] == code:
            return next(e["value"] for e in field["enums"] if e["id"] == enum_id)
    raise AssertionError(f"no lead field {code} in the stand-in")


def field_id(stack: Stack, code: str) -> int:
    return next(f["id"] for f in stack.control("GET", "/fields")["leads"] if f["code"] == code)


def submit(page: Any) -> None:
    """Click the page's main form button (not the header's log-out button)."""
    page.locator("main form button[type=submit]").click()


def fill_signup(page: Any, data: dict[str, str]) -> None:
    for name in ("email", "password1", "password2", "delivery_address", "first_delivery_date", "wishes"):
        page.fill(f"[name={name}]", data[name])
    page.fill("[name=account_sum]", data["account_sum"])
    page.check(f"input[name=bouquet_category][value={data['bouquet_category']}]")
    page.check(f"input[name=delivery_interval][value={data['delivery_interval']}]")


def signup_data(email: str, **changes: str) -> dict[str, str]:
    import datetime

    return {
        "email": email,
        "password1": "Peony-garden-2031",
        "password2": "Peony-garden-2031",
        "bouquet_category": "luxe",
        "delivery_address": "Москва, Тверская ул., д. 7, кв. 12",
        "first_delivery_date": (datetime.date.today() + datetime.timedelta(days=10)).isoformat(),  # noqa: DTZ011
        "delivery_interval": "weekly",
        "wishes": "Пионы и эвкалипт, без лилий.",
        "account_sum": "5000",
        **changes,
    }


def sign_up(page: Any, data: dict[str, str]) -> None:
    """Fill the signup form and click "Sign up"; the customer lands on /account/."""
    page.goto("/signup/")
    fill_signup(page, data)
    submit(page)
    page.wait_for_url(re.compile(r"/account/$"))
