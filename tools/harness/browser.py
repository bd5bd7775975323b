"""Debian's Chromium through Playwright, and what the browser tests and the browser benchmark do
with it: sign up through the form, then wait for the lead in the stand-in.

Playwright is passed in (`launch(playwright)`), never imported here, so the rest of the harness
works without it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tools.harness.processes import wait_until
from tools.harness.site import PASSWORD, manage, unique_email
from tools.harness.stack import Stack

CHROMIUM = Path("/usr/bin/chromium")  # Debian's: no browser downloads
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


def launch(playwright: Any) -> Any:
    """Headless Chromium from `sync_playwright()`."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)


def new_context(browser: Any, base_url: str, viewport: dict[str, int] = DESKTOP) -> Any:
    """A fresh context (no cookies shared with any other) in Russian, steps bounded by WAIT."""
    context = browser.new_context(viewport=viewport, base_url=base_url, locale="ru-RU")
    context.set_default_timeout(WAIT * 1000)
    return context


# PAGES
# ------------------------------------------------------------------------------
def in_view(page: Any, selector: str) -> bool:
    """Whether the element `selector` names is wholly inside the window as the page is scrolled now."""
    return page.evaluate(
        "s => { const r = document.querySelector(s).getBoundingClientRect();"
        " return r.top >= 0 && r.bottom <= window.innerHeight; }",
        selector,
    )


def axe_violations(page: Any) -> list[str]:
    """axe-core's violations on the page as it stands, as "rule: element, …" (readable in a failure).

    axe-playwright-python injects the engine through Playwright, so the site's strict CSP stays on.
    """
    from axe_playwright_python.sync_playwright import Axe  # a dev requirement, like Playwright

    return [
        f"{v['id']}: {', '.join(str(node['target']) for node in v['nodes'])}"
        for v in Axe().run(page).response["violations"]
    ]


def submit(page: Any) -> None:
    """Click the page's main form button (not the header's log-out button)."""
    page.locator("main form button[type=submit]").click()


def fill_signup(page: Any, data: dict[str, str]) -> None:
    names = (
        "first_name",
        "phone",
        "email",
        "password1",
        "password2",
        "delivery_address",
        "first_delivery_date",
    )
    for name in (*names, "wishes"):
        page.fill(f"[name={name}]", data[name])
    page.fill("[name=account_sum]", data["account_sum"])
    page.check(f"input[name=bouquet_category][value={data['bouquet_category']}]")
    page.check(f"input[name=delivery_interval][value={data['delivery_interval']}]")
    if data.get("consent"):
        page.check("input[name=consent]")


def sign_up(page: Any, data: dict[str, str]) -> None:
    """Fill the signup form (data from site.signup_data) and click "Sign up"; lands on /account/."""
    page.goto("/signup/")
    fill_signup(page, data)
    submit(page)
    page.wait_for_url(re.compile(r"/account/$"))


def sign_in_staff(stack: Stack, page: Any, label: str = "staff") -> str:
    """A new superuser (`createsuperuser`, a fresh address, site.PASSWORD) signs in on `page` through
    the site's login, which /admin/ sends staff to; the page is left on the admin index. Its email."""
    email = unique_email(label)
    env = {**stack.env, "DJANGO_SUPERUSER_PASSWORD": PASSWORD}
    manage(env, "createsuperuser", "--noinput", "--email", email)
    page.goto("/admin/")
    page.fill("[name=login]", email)
    page.fill("[name=password]", PASSWORD)
    submit(page)
    page.wait_for_url(re.compile(r"/admin/$"))
    return email


# THE STAND-IN, AS A TEST READS IT
# ------------------------------------------------------------------------------
def wait_for(check: Callable[[], Any], what: str, timeout: float = WAIT, stack: Stack | None = None) -> Any:
    """`check()`'s first truthy result, polled; a failure with the stack's logs after `timeout` s."""
    return wait_until(what, check, timeout, details=stack.logs if stack is not None else None)


def lead_of(stack: Stack, email: str) -> dict[str, Any] | None:
    return stack.control.lead_of(email)


def wait_for_lead(stack: Stack, email: str, check: Callable[[dict], bool] = bool, what: str = "") -> dict:
    return wait_for(
        lambda: (lead := lead_of(stack, email)) is not None and check(lead) and lead,
        what or f"a lead for {email} in the stand-in",
        stack=stack,
    )


def enum_text(stack: Stack, code: str, enum_id: int) -> str:
    for field in stack.control("GET", "fields")["leads"]:
        if field["code"] == code:
            return next(e["value"] for e in field["enums"] if e["id"] == enum_id)
    raise AssertionError(f"no lead field {code} in the stand-in")


def field_id(stack: Stack, code: str) -> int:
    return next(f["id"] for f in stack.control("GET", "fields")["leads"] if f["code"] == code)
