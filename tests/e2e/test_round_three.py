"""amoCRM round three in a real browser (issue 24): a lead deleted while its hook was lost, a field
a manager clears, and a phone reaching the contact."""

import re

import pytest

from tools.harness.browser import field_id, sign_up, submit, wait_for, wait_for_lead
from tools.harness.crm import values_by_code
from tools.harness.site import signup_data, unique_email

pytestmark = pytest.mark.e2e


def save_preferences(page, **fields: str) -> None:
    page.goto("/account/preferences/")
    for name, value in fields.items():
        page.fill(f"[name={name}]", value)
    submit(page)
    page.wait_for_url(re.compile(r"/account/$"))


def test_a_customer_change_after_a_quiet_delete_reaches_a_new_lead(stack, new_page):
    page = new_page()
    data = signup_data(unique_email("quiet-delete"))
    sign_up(page, data)
    gone = wait_for_lead(stack, data["email"])
    stack.control("POST", f"/leads/{gone['id']}/delete", {"quiet": True})  # the delete hook is lost

    save_preferences(page, wishes="Только тюльпаны.")

    lead = wait_for_lead(
        stack,
        data["email"],
        lambda lead: values_by_code(lead).get("FA_WISHES") == [{"value": "Только тюльпаны."}],
        "a new lead with the customer's change",
    )
    assert lead["id"] != gone["id"]
    assert values_by_code(lead)["FA_DELIVERY_ADDRESS"] == [{"value": data["delivery_address"]}]


def test_wishes_a_manager_clears_are_gone_from_the_account(stack, new_page):
    page = new_page()
    data = signup_data(unique_email("cleared"))
    sign_up(page, data)
    lead = wait_for_lead(stack, data["email"])

    stack.control(
        "POST",
        f"/leads/{lead['id']}/manager",
        {"custom_fields": [{"field_id": field_id(stack, "FA_WISHES"), "value": ""}]},
    )

    def wishes_are_empty() -> bool:
        page.goto("/account/preferences/")
        return page.input_value("[name=wishes]") == ""

    wait_for(wishes_are_empty, "no wishes on /account/preferences/", stack=stack)
    page.goto("/account/")
    assert data["wishes"] not in page.inner_text("main")


def test_a_customers_new_phone_reaches_the_contact(stack, new_page):
    page = new_page()
    data = signup_data(unique_email("phone-contact"))
    sign_up(page, data)
    lead = wait_for_lead(stack, data["email"])
    [contact_id] = [c["id"] for c in lead["_embedded"]["contacts"]]

    save_preferences(page, phone="+7 913 555-01-02")

    def contact_phones() -> list[str]:
        contact = next(c for c in stack.control("GET", "/contacts")["contacts"] if c["id"] == contact_id)
        return [
            value["value"]
            for item in contact.get("custom_fields_values") or []
            if item["field_code"] == "PHONE"
            for value in item["values"]
        ]

    assert wait_for(lambda: contact_phones() == ["+79135550102"], "the phone on the contact", stack=stack)
