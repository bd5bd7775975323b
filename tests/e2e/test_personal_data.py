"""152-FZ in a real browser: consent at signup, the data file, deleting the account (and amoCRM's
copy), signing up again with the same address; axe-core finds nothing on the new pages."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import struct
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.harness.browser import (
    PHONE,
    axe_violations,
    fill_signup,
    new_context,
    sign_up,
    submit,
    wait_for,
    wait_for_lead,
)
from tools.harness.database import throwaway_database
from tools.harness.site import PASSWORD, manage, signup_data, unique_email
from tools.harness.stack import Stack

pytestmark = pytest.mark.e2e

GTM_ID = "GTM-E2ETEST"


def test_sign_up_download_the_file_delete_the_account_and_sign_up_again(stack, new_page):
    page = new_page()
    data = signup_data(unique_email("pd"))

    page.goto("/signup/")
    fill_signup(page, {**data, "consent": ""})  # the box left unticked
    submit(page)
    assert "Без вашего согласия на обработку персональных данных" in page.inner_text("main")
    assert page.input_value("[name=delivery_address]") == data["delivery_address"]
    fill_signup(page, data)
    submit(page)
    page.wait_for_url(re.compile(r"/account/$"))
    lead = wait_for_lead(stack, data["email"])
    contact_id = lead["_embedded"]["contacts"][0]["id"]

    page.goto("/account/my-data/")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Скачать мои данные (JSON)").click()
    exported = json.loads(Path(download_info.value.path()).read_text(encoding="utf-8"))
    assert exported["account"]["email"] == data["email"]
    assert exported["subscription"]["delivery_address"] == data["delivery_address"]
    assert [c["action"] for c in exported["consents"]] == ["given"]

    page.fill("[name=password]", PASSWORD)
    page.get_by_role("button", name="Удалить аккаунт").click()
    page.wait_for_url(re.compile(r"/$"))
    assert "Аккаунт удалён" in page.inner_text("main")

    def cleared() -> dict | None:
        contact = stack.control("GET", f"contacts/{contact_id}")
        return None if contact.get("custom_fields_values") else contact

    contact = wait_for(cleared, "the contact cleared in the stand-in", stack=stack)
    assert data["email"] not in json.dumps(contact, ensure_ascii=False)
    notes = wait_for(
        lambda: [
            n
            for n in stack.control("GET", f"leads/{lead['id']}/notes")["notes"]
            if "удалил аккаунт" in str(n)
        ],
        "the note about the deleted account",
        stack=stack,
    )
    assert data["email"] not in json.dumps(notes, ensure_ascii=False)
    lead_now = stack.control("GET", f"leads/{lead['id']}")
    assert data["delivery_address"] not in json.dumps(lead_now, ensure_ascii=False)

    sign_up(new_page(), data)  # the same address, free again


@pytest.fixture(scope="module")
def gtm_stack() -> Iterator[Stack]:
    """A second site as production runs it: staff two-factor sign-in on, and a GTM container set,
    for the cookie notice (nothing loads before "Принять")."""
    workdir = Path(tempfile.mkdtemp(prefix="flower-e2e-gtm-"))
    with throwaway_database(None, many_writers=True) as url:
        stack = Stack(url, workdir=workdir, admin_2fa=True, env={"GTM_CONTAINER_ID": GTM_ID})
        try:
            stack.start()
            yield stack
        finally:
            stack.stop()
            shutil.rmtree(workdir, ignore_errors=True)


def test_the_signup_and_legal_pages_have_no_accessibility_violations(new_page):
    page = new_page(PHONE)
    for path in ("/signup/", "/personal-data/consent/", "/personal-data/policy/"):
        page.goto(path)
        assert axe_violations(page) == [], path
    page.goto("/signup/")
    submit(page)  # the errors shown, the consent box's among them
    assert axe_violations(page) == []


def test_the_cookie_notice_has_no_accessibility_violations_and_remembers_no(browser, gtm_stack):
    context = new_context(browser, gtm_stack.site_url, PHONE)
    try:
        page = context.new_page()
        page.goto("/login/")
        notice = page.locator(".cookie-notice")
        assert notice.is_visible()
        assert "googletagmanager" not in page.content()
        assert axe_violations(page) == []
        notice.get_by_role("button", name="Отклонить").click()
        page.wait_for_load_state()
        assert page.locator(".cookie-notice").count() == 0
        assert "googletagmanager" not in page.content()
    finally:
        context.close()


def test_screenshots_of_the_personal_data_pages(stack, new_page, browser, gtm_stack, artifacts):
    """Phone-width screenshots: the signup's consent box, the cookie notice, the "My data" page.
    `E2E_SCREENSHOTS_DIR=docs/screenshots` refreshes the committed ones."""
    folder = Path(os.environ.get("E2E_SCREENSHOTS_DIR") or artifacts / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    page = new_page(PHONE)
    page.goto("/signup/")
    page.screenshot(path=folder / "consent-signup-phone.png", full_page=True)
    sign_up(page, signup_data(unique_email("shot-pd")))
    page.goto("/account/my-data/")
    page.screenshot(path=folder / "consent-my-data-phone.png", full_page=True)

    context = new_context(browser, gtm_stack.site_url, PHONE)
    try:
        notice_page = context.new_page()
        notice_page.goto("/login/")
        # The viewport, as a phone shows it: the notice stays at the bottom of the screen.
        notice_page.screenshot(path=folder / "consent-cookie-notice-phone.png")
    finally:
        context.close()
    assert (folder / "consent-cookie-notice-phone.png").exists()


def totp_now(secret: str) -> str:
    """The authenticator app's current 6-digit code (RFC 6238, 30 s, SHA-1)."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def test_staff_set_up_an_authenticator_before_the_admin_and_give_a_code_at_each_sign_in(
    browser, gtm_stack, artifacts
):
    email = unique_email("staff-2fa")
    manage(
        {**gtm_stack.env, "DJANGO_SUPERUSER_PASSWORD": PASSWORD},
        "createsuperuser",
        "--noinput",
        "--email",
        email,
    )
    context = new_context(browser, gtm_stack.site_url, PHONE)
    try:
        page = context.new_page()
        page.goto("/admin/")
        page.fill("[name=login]", email)
        page.fill("[name=password]", PASSWORD)
        submit(page)
        page.wait_for_url(re.compile(r"/account/reauthenticate/"))  # allauth: the password once more
        page.fill("[name=password]", PASSWORD)
        submit(page)
        page.wait_for_url(re.compile(r"/account/2fa/totp/activate/"))
        folder = Path(os.environ.get("E2E_SCREENSHOTS_DIR") or artifacts / "screenshots")
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=folder / "staff-2fa-setup-phone.png", full_page=True)
        secret = page.input_value("#authenticator_secret")
        page.fill("[name=code]", totp_now(secret))
        submit(page)
        page.wait_for_url(re.compile(r"/account/2fa/recovery-codes/"))
        page.goto("/admin/")
        page.wait_for_url(re.compile(r"/admin/$"))

        page.locator("#logout-form button, form[action$='/logout/'] button").first.click()
        page.goto("/admin/")
        page.fill("[name=login]", email)
        page.fill("[name=password]", PASSWORD)
        submit(page)
        page.wait_for_url(re.compile(r"/account/2fa/authenticate/"))
        assert "/admin/" not in page.url
        page.fill("[name=code]", totp_now(secret))
        page.get_by_role("button", name="Войти").click()
        page.wait_for_url(re.compile(r"/admin/$"))
    finally:
        context.close()
