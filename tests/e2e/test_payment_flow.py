"""An honest balance in a real browser: signup invoices the sum; the manager's stage move pays it."""

import re

import pytest

from tools.harness.browser import PHONE, sign_up, wait_for, wait_for_lead
from tools.harness.site import signup_data, unique_email

pytestmark = pytest.mark.e2e

ACTIVE_STAGE = 142  # the stack's AMOCRM_STATUS_MAP: "142:active,143:closed"


def test_signup_invoices_the_sum_and_the_managers_active_stage_pays_it(stack, new_page):
    page = new_page(PHONE)
    data = signup_data(unique_email("invoice"))
    sign_up(page, data)
    lead = wait_for_lead(stack, data["email"])

    assert re.sub(r"\D", "", page.inner_text(".balance")) == "000"
    assert "Счёт на 5 000,00 ₽ ожидает оплаты" in page.inner_text(".invoice").replace("\xa0", " ")
    assert page.inner_text(".progress__step--current") == "Ожидает оплаты"
    assert lead["price"] == 5000  # the lead shows the invoiced sum

    stack.control("POST", f"/leads/{lead['id']}/manager", {"status_id": ACTIVE_STAGE})

    def balance_paid() -> bool:
        page.reload()
        return re.sub(r"\D", "", page.inner_text(".balance")) == "500000"

    wait_for(balance_paid, "the invoice paid by the manager's stage move (5 000,00 ₽)", stack=stack)
    assert page.locator(".invoice").count() == 0
    assert page.inner_text(".progress__step--current") == "Доставки идут"
    assert "Оплата получена" in page.inner_text("#history")
