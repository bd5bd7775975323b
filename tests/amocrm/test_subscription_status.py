"""One status: the account page's badge, its progress line and the lead's «Статус аккаунта» agree on
every path a subscription takes (Profile.subscription_status owns it; docs/subscription-status.md)."""

import re

import pytest
from django.urls import reverse

from accounts import delivery_actions, payments
from accounts.models import Profile
from amocrm import mapping
from amocrm.models import CustomField
from tests.amocrm.conftest import link
from tests.amocrm.helpers import body, cf, deliver, lead

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("webhook_settings", "oauth_token")]
Key = CustomField.Key
BADGE = re.compile(r'<span class="badge badge--(\w+)">([^<]+)</span>')
# The progress line's last step → the status it tells (otherwise: "new" while payment awaits, else "active").
LAST_STEP = {"подписка закрыта": "closed", "на паузе": "paused"}


def three_statuses(client, profile: Profile, field_map) -> tuple[str, str, str]:
    """(badge, progress line, lead field) as each reads to a customer and to a manager."""
    client.force_login(profile.user)
    response = client.get(reverse("accounts:dashboard"))
    balance_card = response.text.split('id="balance-title"')[1].split("</section>")[0]
    badge = BADGE.search(balance_card).group(1)
    steps = response.context["progress"]
    progress = LAST_STEP.get(str(steps[2].label))
    if progress is None:
        progress = "new" if steps[1].state == "current" else "active"
    item = mapping.lead_state(Profile.objects.get(pk=profile.pk), field_map)[Key.ACCOUNT_STATUS]
    lead_field = field_map.value_for_enum(Key.ACCOUNT_STATUS, item["values"][0]["enum_id"])
    return badge, progress, lead_field


def fresh(profile: Profile) -> Profile:
    return Profile.objects.get(pk=profile.pk)


@pytest.fixture
def unpaid(profile_factory, field_map) -> Profile:
    return link(profile_factory(paid=False), field_map, crm_status_id=60000003)


def test_a_signup_reads_new_everywhere(client, signup_data, field_map):
    client.post(reverse("account_signup"), signup_data())
    profile = Profile.objects.get(user__email="anna@example.ru")

    assert three_statuses(client, profile, field_map) == ("new", "new", "new")


def test_a_payment_by_staff_reads_active_everywhere(client, unpaid, field_map):
    payments.invoice_pay(invoice=unpaid.invoices.get(), source="staff", confirmed_by="admin@example.ru")

    assert three_statuses(client, unpaid, field_map) == ("active", "active", "active")


def test_a_payment_by_stage_reads_active_everywhere(client, unpaid, field_map):
    deliver(client, body(status=[lead(status_id=142, old_status_id=60000003)]))

    assert three_statuses(client, unpaid, field_map) == ("active", "active", "active")


def test_a_payment_by_sum_reads_active_everywhere(client, unpaid, field_map):
    deliver(client, body(update=[lead(cf(Key.ACCOUNT_SUM, "4000"))]))  # paid 4 000

    assert fresh(unpaid).is_paid
    assert three_statuses(client, unpaid, field_map) == ("active", "active", "active")


def test_an_unpaid_pause_reads_paused_everywhere(client, unpaid, field_map):
    delivery_actions.profile_pause(profile=unpaid)

    assert three_statuses(client, unpaid, field_map) == ("paused", "paused", "paused")


def test_an_unpaid_subscription_paused_and_resumed_reads_new_everywhere(client, unpaid, field_map):
    delivery_actions.profile_pause(profile=unpaid)
    delivery_actions.profile_resume(profile=fresh(unpaid))

    assert three_statuses(client, unpaid, field_map) == ("new", "new", "new")


def test_a_paid_subscription_paused_and_resumed_reads_active_everywhere(client, customer, field_map):
    delivery_actions.profile_pause(profile=customer)
    delivery_actions.profile_resume(profile=fresh(customer))

    assert three_statuses(client, customer, field_map) == ("active", "active", "active")


def test_a_closed_subscription_reads_closed_everywhere(client, customer, unpaid, field_map):
    delivery_actions.profile_close(profile=customer)
    delivery_actions.profile_close(profile=unpaid)

    assert three_statuses(client, customer, field_map) == ("closed", "closed", "closed")
    assert three_statuses(client, unpaid, field_map) == ("closed", "closed", "closed")


def test_a_subscription_started_again_reads_as_its_payment_says_everywhere(
    client, customer, unpaid, field_map
):
    for profile in (customer, unpaid):
        delivery_actions.profile_close(profile=profile)
        delivery_actions.profile_reopen(profile=fresh(profile))

    assert three_statuses(client, customer, field_map) == ("active", "active", "active")
    assert three_statuses(client, unpaid, field_map) == ("new", "new", "new")


def test_a_payment_tells_the_lead_its_new_status():
    assert Key.ACCOUNT_STATUS in mapping.keys_changed_by(["account_sum", "invoices"])


def test_closing_moves_the_lead_to_the_stage_mapped_to_closed(customer, field_map):
    linked = link(customer, field_map)
    baseline = mapping.lead_state(linked, field_map)

    delivery_actions.profile_close(profile=linked)
    state = mapping.lead_state(fresh(linked), field_map)
    keys = mapping.lead_state_changes(state, baseline)

    payload = mapping.lead_update_payload(30000001, state, keys)
    assert payload["status_id"] == 143  # webhook_settings: 143 means closed
    assert Key.ACCOUNT_STATUS in keys


def test_starting_again_leaves_the_stage_to_the_managers(customer, field_map):
    delivery_actions.profile_close(profile=customer)
    closed = mapping.lead_state(fresh(customer), field_map)

    delivery_actions.profile_reopen(profile=fresh(customer))
    state = mapping.lead_state(fresh(customer), field_map)

    assert "status_id" not in mapping.lead_update_payload(
        30000001, state, mapping.lead_state_changes(state, closed)
    )


def test_a_lead_the_manager_closed_is_not_moved_again(client, customer, field_map):
    link(customer, field_map, crm_status_id=60000003)

    deliver(client, body(status=[lead(status_id=143, old_status_id=60000003)]))

    profile = fresh(customer)
    assert profile.subscription_status == Profile.AccountStatus.CLOSED
    sync = profile.lead_sync
    assert "status_id" not in mapping.lead_state_changes(
        mapping.lead_state(profile, field_map), sync.synced_values
    )
