"""In a real browser: a manager moves the next delivery in amoCRM (the stand-in); the account page's
history says so and the customer gets an email (through the outbox and the worker)."""

import datetime
import email
import email.policy
import zoneinfo

import pytest

from tools.harness.browser import PHONE, field_id, sign_up, wait_for, wait_for_lead
from tools.harness.site import signup_data, unique_email

pytestmark = pytest.mark.e2e


def subjects_to(stack, address: str) -> list[str]:
    found = []
    for path in sorted(stack.email_dir.glob("*.log")):  # Django's file backend: messages between dashes
        for chunk in path.read_text(errors="replace").split("-" * 79):
            message = email.message_from_string(chunk.strip(), policy=email.policy.default)
            if message["To"] == address:
                found.append(str(message["Subject"]))
    return found


def test_a_managers_move_of_the_next_delivery_is_in_the_history_and_an_email(stack, new_page):
    page = new_page(PHONE)
    data = signup_data(unique_email("moved"))
    sign_up(page, data)
    lead = wait_for_lead(stack, data["email"])
    today = datetime.datetime.now(tz=zoneinfo.ZoneInfo("Europe/Moscow")).date()
    day = today + datetime.timedelta(days=40)

    stack.control(
        "POST",
        f"/leads/{lead['id']}/manager",
        {"custom_fields": [{"field_id": field_id(stack, "FA_DELIVERY_DATE"), "value": day.isoformat()}]},
    )

    def history() -> str:
        page.reload()
        return page.locator("#history").inner_text()

    wait_for(
        lambda: "Менеджер перенёс ближайшую доставку" in history(), "the move in the history", stack=stack
    )
    wait_for(
        lambda: any("ближайшая доставка перенесена" in s for s in subjects_to(stack, data["email"])),
        "the email about the move",
        stack=stack,
    )
    subjects = subjects_to(stack, data["email"])
    assert any("добро пожаловать" in s for s in subjects)  # and the welcome, after signup
