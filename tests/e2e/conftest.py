"""The browser tests' fixtures: the real site, worker and amoCRM stand-in, and Debian's Chromium.

Package-scoped (started once for tests/e2e, stopped before the rest of the suite goes on):
- a throwaway database: a temporary SQLite file, or, when DATABASE_URL is PostgreSQL (CI), a new
  database on that server that is dropped afterwards. The tests never use pytest-django's `db`:
  they see the site only through the browser, the stand-in and `manage.py` in a subprocess;
- tools.harness.stack.Stack: gunicorn with DEBUG off, `manage.py db_worker`, the stand-in in this
  process, emails written to files, the site connected as `make demo` connects it;
- Playwright driving /usr/bin/chromium headless (no browser downloads); skipped without it.

The helpers the tests call live in tools/harness (browser.py, site.py, crm.py), shared with the
benchmarks.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import environ
import pytest

from tools.harness.browser import CHROMIUM, DESKTOP, launch, new_context
from tools.harness.database import is_postgres, throwaway_database, unique_name
from tools.harness.stack import Stack

ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture(scope="package", autouse=True)
def _needs_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")


@pytest.fixture(scope="package")
def database_url() -> Iterator[str]:
    """A new empty database for the site under test, removed afterwards."""
    url = environ.Env().str("DATABASE_URL", default="")
    with throwaway_database(unique_name(url, "e2e") if is_postgres(url) else None, many_writers=True) as new:
        yield new


@pytest.fixture(scope="package")
def artifacts() -> Path:
    """tests/e2e/artifacts/ (git-ignored): the logs of a failed start, screenshots."""
    return ARTIFACTS


@pytest.fixture(scope="package")
def stack(database_url: str) -> Iterator[Stack]:
    workdir = Path(tempfile.mkdtemp(prefix="flower-e2e-"))
    # Staff log in with a password alone here; the two-factor rule has its own tests
    # (tests/accounts/test_admin_2fa.py).
    stack = Stack(database_url, workdir=workdir, admin_2fa=False)
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
        browser = launch(playwright)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def new_page(browser: Any, stack: Stack) -> Iterator[Callable[..., Any]]:
    """Pages in fresh browser contexts (no shared cookies), phone or desktop sized; all closed after."""
    contexts = []

    def make(viewport: dict[str, int] = DESKTOP) -> Any:
        contexts.append(new_context(browser, stack.site_url, viewport))
        return contexts[-1].new_page()

    yield make
    for context in contexts:
        context.close()
