"""The balance and the end of a subscription in a real browser: the banner when the balance does not
cover the next delivery (gone once a manager records the payment), and closing the subscription
through its confirmation page (the lead moves to the closed stage), then starting it again.
axe-core finds no violations on the pages these flows show."""

import re

import pytest

from tools.amocrm_standin.constants import LOST
from tools.harness.browser import PHONE, axe_violations, field_id, sign_up, wait_for, wait_for_lead
from tools.harness.crm import field_value
from tools.harness.site import signup_data, unique_email

pytestmark = pytest.mark.e2e


def test_a_banner_says_the_next_delivery_is_not_covered_until_the_payment(stack, new_page):
    page = new_page(PHONE)
    data = signup_data(unique_email("banner"))
    sign_up(page, data)
    lead = wait_for_lead(stack, data["email"])

    banner = page.locator("#shortfall")
    assert banner.is_visible()
    assert "Баланса не хватает на следующую доставку" in banner.inner_text()
    assert axe_violations(page) == []

    stack.control(
        "POST",
        f"/leads/{lead['id']}/manager",
        {"custom_fields": [{"field_id": field_id(stack, "FA_ACCOUNT_SUM"), "value": "12500"}]},
    )

    def covered() -> bool:
        page.reload()
        return page.locator("#shortfall").count() == 0 and "Баланса хватит на" in page.inner_text(".coverage")

    wait_for(covered, "the banner gone and the coverage shown after the payment", stack=stack)
    assert re.search(r"Одна доставка: [\d\s]+,00\s₽", page.inner_text(".coverage"))
    assert axe_violations(page) == []

    page.goto("/account/preferences/")  # each category says what the balance would cover with it
    assert page.get_by_text(re.compile(r"за букет: баланса хватит на \d+ доставк")).count() >= 1
    assert axe_violations(page) == []


def test_closing_the_subscription_asks_first_moves_the_lead_and_can_be_undone(stack, new_page):
    page = new_page(PHONE)
    data = signup_data(unique_email("close"))
    sign_up(page, data)
    wait_for_lead(stack, data["email"])

    page.get_by_role("link", name="Закрыть подписку").click()
    page.wait_for_url(re.compile(r"/account/close/$"))
    assert page.get_by_role("heading", name="Закрыть подписку?").is_visible()
    assert axe_violations(page) == []
    page.get_by_role("button", name="Закрыть подписку").click()

    page.wait_for_url(re.compile(r"/account/$"))
    assert page.locator(".badge--closed").first.inner_text() == "закрыт"
    assert axe_violations(page) == []
    closed = wait_for_lead(
        stack,
        data["email"],
        lambda lead: lead["status_id"] == LOST,
        what="the lead in the stage AMOCRM_STATUS_MAP maps to closed",
    )
    closed_label = field_value(closed, "FA_ACCOUNT_STATUS")

    page.get_by_role("button", name="Возобновить подписку").click()
    page.wait_for_url(re.compile(r"/account/$"))
    assert page.locator(".badge--closed").count() == 0
    assert page.get_by_role("link", name="Закрыть подписку").is_visible()
    lead = wait_for_lead(
        stack,
        data["email"],
        lambda lead: field_value(lead, "FA_ACCOUNT_STATUS") != closed_label,
        what="the lead's status field no longer closed",
    )
    assert lead["status_id"] == LOST  # the stage is the managers' to choose again
