"""The lead's history in a real browser: what a customer does on the site shows in the lead's card
as a short Russian note, so managers see why a delivery date moved."""

import re

import pytest

from tools.harness.browser import sign_up, wait_for, wait_for_lead
from tools.harness.site import signup_data, unique_email

pytestmark = pytest.mark.e2e


def test_a_skipped_delivery_and_a_pause_show_as_notes_on_the_lead(stack, new_page):
    page = new_page()
    data = signup_data(unique_email("history"))
    sign_up(page, data)
    lead = wait_for_lead(stack, data["email"])

    page.locator("form.inline-form button[type=submit]").last.click()  # skip the last upcoming delivery
    page.wait_for_url(re.compile(r"/account/#delivery-\d+$"))
    page.locator("form.pause-form button[type=submit]").click()  # paused until resumed
    page.wait_for_url(re.compile(r"/account/$"))

    def notes() -> list[str]:
        return [
            note["params"]["text"] for note in stack.control("GET", f"/leads/{lead['id']}/notes")["notes"]
        ]

    texts = wait_for(lambda: len(notes()) >= 3 and notes(), "three notes on the lead", stack=stack)
    assert texts[0].startswith("Клиент зарегистрировался на сайте: ")
    assert texts[1].startswith("Клиент пропустил доставку ")
    assert texts[2].startswith("Клиент приостановил подписку")
