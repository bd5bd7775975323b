"""In a real browser: skipping a delivery from the reminder email's link (logged out), and signing in
with a code from an email. Emails are read from the stack's file backend."""

import datetime
import email
import email.policy
import re

import pytest

from tools.harness.browser import PHONE, sign_up, submit, wait_for
from tools.harness.site import manage, signup_data, unique_email

pytestmark = pytest.mark.e2e


def mails_to(stack, address: str) -> list[email.message.EmailMessage]:
    found = []
    for path in sorted(stack.email_dir.glob("*.log")):  # Django's file backend: messages between dashes
        for chunk in path.read_text(errors="replace").split("-" * 79):
            message = email.message_from_string(chunk.strip(), policy=email.policy.default)
            if message["To"] == address:
                found.append(message)
    return found


def plain_body_matching(stack, address: str, subject_part: str, pattern: str) -> str | None:
    for message in mails_to(stack, address):
        if subject_part in str(message["Subject"]):
            match = re.search(pattern, message.get_body(("plain",)).get_content(), re.M)
            if match:
                return match.group(1)
    return None


def test_a_customer_skips_a_delivery_from_the_reminder_email_without_logging_in(stack, new_page):
    data = signup_data(unique_email("remind"))
    sign_up(new_page(), data)
    # Remind now about everything in the next ten days (the first delivery is ten days away).
    output = manage(
        {**stack.env, "DELIVERY_REMINDER_DAYS": "10", "DELIVERY_REMINDER_HOUR": "0"}, "deliveries_remind"
    )
    assert "Sent" in output
    link_re = re.escape(stack.site_url) + r"(/account/deliveries/skip/[^/\s]+/)"
    path = wait_for(
        lambda: plain_body_matching(stack, data["email"], "букет приедет", link_re),
        "a reminder with a skip link",
    )

    page = new_page(PHONE)  # a fresh browser: nobody is logged in
    page.goto(path)
    assert page.url.endswith("/account/deliveries/skip/")  # the token leaves the address at once
    assert page.locator("h1").inner_text() == "Пропустить эту доставку?"
    assert "Люкс" in page.locator("main").inner_text()
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/account/deliveries/skip/$"))

    assert page.locator("h1").inner_text() == "Доставка пропущена"
    page.goto("/login/")
    page.fill("[name=login]", data["email"])
    page.fill("[name=password]", data["password1"])
    submit(page)
    page.wait_for_url(re.compile(r"/account/$"))
    assert page.locator(".delivery--skipped").count() == 1


def test_a_customer_signs_in_with_a_code_from_an_email(stack, new_page):
    data = signup_data(unique_email("code"))
    sign_up(new_page(), data)

    page = new_page(PHONE)
    page.goto("/login/")
    page.get_by_role("link", name="Войти по коду из письма").click()
    page.wait_for_url(re.compile(r"/login/code/$"))
    page.fill("[name=email]", data["email"])
    submit(page)
    page.wait_for_url(re.compile(r"/login/code/confirm/$"))
    code = wait_for(
        lambda: plain_body_matching(stack, data["email"], "код для входа", r"^\s*([A-Z0-9-]{4,})\s*$"),
        "a sign-in code by email",
    )
    page.fill("[name=code]", code)
    submit(page)

    page.wait_for_url(re.compile(r"/account/$"))
    assert data["email"] in page.locator("main").inner_text()


def test_a_customer_moves_a_delivery_on_a_phone(stack, new_page, artifacts):
    data = signup_data(unique_email("move"))
    page = new_page(PHONE)
    sign_up(page, data)
    first = page.locator(".delivery").first
    day = datetime.date.fromisoformat(first.locator("time").get_attribute("datetime"))
    new_day = (day + datetime.timedelta(days=1)).isoformat()

    first.locator("summary").click()
    first.locator("input[name=delivery_on]").fill(new_day)
    first.get_by_role("button", name="Перенести доставку").click()
    page.wait_for_url(re.compile(r"/account/#delivery-\d+$"))

    # The confirmation is on the card the page returns to, where the customer is looking.
    card = page.url.rsplit("#", 1)[1]
    assert "перенесена на" in page.locator(f"#{card} .delivery__notes").inner_text()
    moved = page.locator(".delivery").first
    assert moved.locator("time").get_attribute("datetime") == new_day
    assert "перенесена с" in moved.inner_text()
    artifacts.mkdir(exist_ok=True)
    moved.locator("summary").click()
    page.screenshot(path=artifacts / "move-on-phone.png", full_page=False)
