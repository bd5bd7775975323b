"""amoCRM as a real account behaves, in a real browser: bare dates in hooks, a stage change sent only
as an update, a phone corrected on the contact card, a lead deleted and restored from the trash."""

import datetime
import re
import time
import zoneinfo

import pytest

from tools.harness.browser import field_id, sign_up, submit, wait_for, wait_for_lead
from tools.harness.crm import values_by_code
from tools.harness.site import save_preferences, signup, signup_data, unique_email

pytestmark = pytest.mark.e2e


def signed_up(stack, new_page, name: str):
    page = new_page()
    data = signup_data(unique_email(name))
    sign_up(page, data)
    return page, data, wait_for_lead(stack, data["email"])


def shows(page, selector: str) -> bool:
    page.reload()
    return page.locator(selector).count() > 0


def test_a_manager_moving_the_delivery_date_moves_it_on_the_account_page(stack, new_page):
    page, _, lead = signed_up(stack, new_page, "date")
    today = datetime.datetime.now(tz=zoneinfo.ZoneInfo("Europe/Moscow")).date()
    day = (today + datetime.timedelta(days=40)).isoformat()

    # The stand-in sends the date bare in its hook: leads[update][0][custom_fields][n][values][0]=<ts>.
    stack.control(
        "POST",
        f"/leads/{lead['id']}/manager",
        {"custom_fields": [{"field_id": field_id(stack, "FA_DELIVERY_DATE"), "value": day}]},
    )

    wait_for(
        lambda: shows(page, f"time[datetime='{day}']"), f"the delivery on {day} on /account/", stack=stack
    )


def test_a_stage_change_sent_only_as_an_update_closes_the_account(stack, new_page):
    stack.control.settings(status_hooks=False)  # amoCRM does not always send the status hook
    try:
        page, _, lead = signed_up(stack, new_page, "stage")

        stack.control("POST", f"/leads/{lead['id']}/manager", {"status_id": 143})

        wait_for(lambda: shows(page, ".badge--closed"), "the closed status on /account/", stack=stack)
    finally:
        stack.control.settings(status_hooks=True)


def test_a_phone_corrected_on_the_contact_card_reaches_the_preferences(stack, new_page):
    page, _, lead = signed_up(stack, new_page, "phone")
    contact_id = lead["_embedded"]["contacts"][0]["id"]

    stack.control("POST", f"/contacts/{contact_id}/manager", {"phone": "+7 913 555-01-02"})

    def preferences_show_the_phone() -> bool:
        page.goto("/account/preferences/")
        return page.input_value("[name=phone]") == "+7 913 555-01-02"

    wait_for(preferences_show_the_phone, "the manager's phone on /account/preferences/", stack=stack)


def test_a_lead_deleted_and_restored_is_updated_again_and_never_doubled(stack, new_page):
    page, data, lead = signed_up(stack, new_page, "restore")
    stack.control("POST", f"/leads/{lead['id']}/delete")
    stack.control("POST", f"/leads/{lead['id']}/restore")

    page.goto("/account/preferences/")
    page.fill("[name=wishes]", "Снова с вами: только пионы.")
    submit(page)
    page.wait_for_url(re.compile(r"/account/$"))

    wait_for_lead(
        stack,
        data["email"],
        lambda found: values_by_code(found).get("FA_WISHES") == [{"value": "Снова с вами: только пионы."}],
        "the new wishes on the restored lead",
    )
    ours = [found for found in stack.control.leads() if found["id"] == lead["id"]]
    doubles = [
        found
        for found in stack.control.leads()
        if values_by_code(found).get("FA_EMAIL") == [{"value": data["email"]}]
    ]
    assert len(ours) == 1 and [found["id"] for found in doubles] == [lead["id"]]

    # The hooks themselves worked: the relinked lead is sent every field once (had the delete and
    # restore hooks been lost, only the changed wishes would have been sent).
    def a_full_update_of_the_lead() -> bool:
        return any(
            item.get("id") == lead["id"] and len(item.get("custom_fields_values") or []) == 9
            for request in stack.control.requests()
            if request["method"] == "PATCH" and request["path"] == "/api/v4/leads"
            for item in request["body"] or []
        )

    wait_for(a_full_update_of_the_lead, "every field sent to the restored lead", stack=stack)


def test_a_403_storm_during_20_changes_costs_one_probe_per_cooldown_and_loses_nothing(stack):
    customers = []
    for _ in range(5):
        email = unique_email("storm")
        customers.append((email, signup(stack.site_url, email)[1]))
    leads = {email: wait_for_lead(stack, email)["id"] for email, _ in customers}
    cooldown = 2 * 5  # the stack's AMOCRM_BREAKER_COOLDOWN, doubled for a block

    stack.control.settings(blocked="403")
    started = time.monotonic()
    try:
        wanted = {}
        for round_number in range(4):  # 20 changes spread over the block
            for email, session in customers:
                wanted[email] = f"Во время блокировки, раунд {round_number}"
                save_preferences(stack.site_url, session, email, wishes=wanted[email])
            time.sleep(3)
        blocked_for = time.monotonic() - started
        refused = stack.control("GET", "state")["counts"]["blocked_calls"]
    finally:
        stack.control.settings(blocked=None)

    assert 1 <= refused <= blocked_for / cooldown + 2, (refused, blocked_for)

    def every_change_landed() -> bool:
        return all(
            values_by_code(stack.control("GET", f"leads/{leads[email]}")).get("FA_WISHES")
            == [{"value": wishes}]
            for email, wishes in wanted.items()
        )

    wait_for(every_change_landed, "every change in the stand-in after the block", stack=stack)
    emails = [values_by_code(lead).get("FA_EMAIL") for lead in stack.control.leads()]
    assert all(emails.count([{"value": email}]) == 1 for email in leads)


def test_a_managers_change_whose_webhook_was_lost_arrives_with_the_next_reconciliation(stack, new_page):
    page, _, lead = signed_up(stack, new_page, "lost")
    stack.control.settings(deliver_webhooks=False)  # every hook lost from here on
    try:
        stack.control(
            "POST",
            f"/leads/{lead['id']}/manager",
            {"custom_fields": [{"field_id": field_id(stack, "FA_ACCOUNT_SUM"), "value": "23456"}]},
        )
        page.reload()
        assert re.sub(r"\D", "", page.inner_text(".balance")) == "000"  # nothing came: unpaid invoice

        stack.manage("amocrm_reconcile")
    finally:
        stack.control.settings(deliver_webhooks=True)

    page.reload()
    assert re.sub(r"\D", "", page.inner_text(".balance")) == "2345600"
