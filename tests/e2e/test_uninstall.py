"""amoCRM's admin switches the integration off, then staff reconnect, in a real browser: the customer's
change waits, the control room says to reconnect, and the change lands once staff have reconnected."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from tools.harness.browser import sign_in_staff, sign_up, submit, wait_for, wait_for_lead
from tools.harness.crm import values_by_code
from tools.harness.site import signup_data, unique_email

pytestmark = pytest.mark.e2e


def staff_page(stack, new_page):
    page = new_page()
    sign_in_staff(stack, page, "connector")
    return page


def says_revoked(page) -> bool:
    page.goto("/admin/")
    return page.locator("[data-figure=revoked]").count() == 1


def test_an_uninstall_then_a_reconnect_sends_the_change_that_waited(stack, new_page):
    customer = new_page()
    data = signup_data(unique_email("uninstall"))
    sign_up(customer, data)
    wait_for_lead(stack, data["email"])
    staff = staff_page(stack, new_page)

    stack.control("POST", "integration/uninstall")
    customer.goto("/account/preferences/")
    customer.fill("[name=wishes]", "Тюльпаны, пока amoCRM отключена.")
    submit(customer)
    customer.wait_for_url(re.compile(r"/account/$"))

    wait_for(lambda: says_revoked(staff), "the control room saying amoCRM revoked access", stack=stack)
    lead = stack.control.lead_of(data["email"])
    assert values_by_code(lead)["FA_WISHES"] == [{"value": data["wishes"]}]  # nothing went out

    # amoCRM's consent page is not on loopback: follow the button in the staff's session up to
    # amoCRM's address, then come back as amoCRM would, with a code for that state.
    start = staff.locator("a.control-room-connect").get_attribute("href")
    answer = staff.request.get(start, max_redirects=0)
    assert answer.status == 302
    state = parse_qs(urlsplit(answer.headers["location"]).query)["state"][0]
    redirect = stack.control("POST", "codes")["redirect"]
    staff.goto(f"{redirect}&state={state}")

    assert staff.locator("[role=status]").count() == 1  # "amoCRM is connected"
    wait_for_lead(
        stack,
        data["email"],
        lambda lead: values_by_code(lead).get("FA_WISHES") == [{"value": "Тюльпаны, пока amoCRM отключена."}],
        "the change that waited, in amoCRM after the reconnect",
    )
    assert not says_revoked(staff)
