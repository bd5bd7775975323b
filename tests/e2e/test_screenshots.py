"""Screenshots of the main pages at phone and desktop width, and of the stand-in page.

Written to tests/e2e/artifacts/screenshots/ (git-ignored) on every run; `tools/screenshots.py`
runs this test with E2E_SCREENSHOTS_DIR=docs/screenshots to refresh the committed ones.
"""

import os
from pathlib import Path

import pytest

from tools.harness.browser import DESKTOP, PHONE, sign_up, wait_for_lead
from tools.harness.site import signup_data, unique_email

pytestmark = pytest.mark.e2e

SIZES = {"phone": PHONE, "desktop": DESKTOP}


def test_screenshots_of_the_main_pages(stack, new_page, artifacts):
    folder = Path(os.environ.get("E2E_SCREENSHOTS_DIR") or artifacts / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    for size, viewport in SIZES.items():
        page = new_page(viewport)
        for name, path in (("login", "/login/"), ("signup", "/signup/")):
            page.goto(path)
            page.screenshot(path=folder / f"{name}-{size}.png", full_page=True)
        data = signup_data(unique_email(f"shot-{size}"))
        sign_up(page, data)
        wait_for_lead(stack, data["email"])
        page.reload()
        page.screenshot(path=folder / f"account-{size}.png", full_page=True)
        page.goto("/account/preferences/")
        page.screenshot(path=folder / f"preferences-{size}.png", full_page=True)

    standin_page = new_page(DESKTOP)
    standin_page.goto(f"{stack.standin.base_url}/")
    standin_page.screenshot(path=folder / "demo-standin.png", full_page=True)
    assert sorted(p.name for p in folder.glob("*.png")) >= ["account-desktop.png"]
