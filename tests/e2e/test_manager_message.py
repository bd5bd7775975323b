"""Reaching the manager in a real browser: the account page's contact block and «Написать
менеджеру» form; the message reaches the amoCRM stand-in as a note and a task on the customer's
lead (through the worker), and shows in the customer's history. The pages touched (the account page
with its contact block, a delivery's courier details page, the preferences page) have no axe-core
violations."""

import re

import pytest

from tools.harness.browser import PHONE, axe_violations, sign_up, wait_for, wait_for_lead
from tools.harness.site import signup_data, unique_email

pytestmark = pytest.mark.e2e

MESSAGE = "Можно ли в четверг без лилий?"


def test_a_message_to_the_manager_reaches_the_lead_as_a_note_and_a_task(stack, new_page):
    page = new_page(PHONE)
    data = signup_data(unique_email("message"))
    sign_up(page, data)
    lead = wait_for_lead(stack, data["email"])

    page.get_by_text("Написать менеджеру").click()
    page.get_by_label("Ваше сообщение").fill(MESSAGE)
    page.locator("form.message-form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/account/#contact$"))

    def tasks() -> list[dict]:
        return stack.control("GET", f"/leads/{lead['id']}/tasks")["tasks"]

    def notes() -> list[str]:
        return [n["params"]["text"] for n in stack.control("GET", f"/leads/{lead['id']}/notes")["notes"]]

    [task] = wait_for(lambda: tasks(), "a task on the lead", stack=stack)
    assert MESSAGE in task["text"] and task["entity_type"] == "leads"
    assert task["responsible_user_id"] == lead["responsible_user_id"]
    assert task["complete_till"] > task["created_at"]
    wait_for(lambda: f"Клиент написал менеджеру с сайта: «{MESSAGE}»" in notes(), "the note", stack=stack)
    assert f"Вы написали менеджеру: «{MESSAGE}»" in page.locator("#history").inner_text()
    assert page.locator("#contact a[href^='tel:']").count() == 1


def test_the_account_and_preferences_pages_have_no_axe_violations(stack, new_page):
    page = new_page(PHONE)
    sign_up(page, signup_data(unique_email("axe")))
    page.locator("details.contact__write summary").click()

    account = axe_violations(page)
    page.locator("a.delivery__details").first.click()
    page.wait_for_url(re.compile(r"/details/$"))
    details = axe_violations(page)
    page.goto("/account/preferences/")
    preferences = axe_violations(page)

    assert (account, details, preferences) == ([], [], [])
