"""Customer and staff actions on deliveries reach the amoCRM lead through the normal sync."""

import datetime
from decimal import Decimal

import pytest
import responses
from django.urls import reverse
from django.utils import timezone

from accounts import delivery_actions
from amocrm import mapping, tasks
from amocrm.models import CustomField
from tests.accounts.helpers import due_today, on_its_day
from tests.amocrm.conftest import FIELD_IDS, LEADS_URL
from tests.amocrm.helpers import bodies, body, by_field, cf, deliver, later, lead, patch_answer, synced

pytestmark = pytest.mark.django_db
Key = CustomField.Key


def sync_tasks(enqueued, profile) -> list:
    return [r for r in enqueued if r.task.name == "sync_profile" and r.kwargs == {"profile_id": profile.pk}]


def first_delivery(profile):
    return profile.deliveries.filter(status="scheduled").order_by("delivery_on")[1]  # past the skip cut-off


@pytest.mark.parametrize("action", ["skip", "pause", "pause_until", "resume", "preferences"])
def test_each_customer_action_enqueues_a_lead_update(
    client, customer, crm, enqueued, django_capture_on_commit_callbacks, action
):
    client.force_login(customer.user)
    delivery = first_delivery(customer)
    if action == "resume":
        delivery_actions.profile_pause(profile=customer)
    enqueued.clear()
    requests = {
        "skip": (reverse("accounts:delivery_skip", args=[delivery.pk]), {}),
        "pause": (reverse("accounts:pause"), {"resume_on": ""}),
        "pause_until": (reverse("accounts:pause"), {"resume_on": delivery.delivery_on.isoformat()}),
        "resume": (reverse("accounts:resume"), {}),
        "preferences": (
            reverse("accounts:preferences"),
            {
                "bouquet_category": "romantic",
                "delivery_address": customer.delivery_address,
                "next_delivery_date": customer.schedule_next_on().isoformat(),
                "delivery_interval": "biweekly",
                "wishes": customer.wishes,
                "phone": "",
            },
        ),
    }
    url, data = requests[action]

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, data)

    assert response.status_code == 302
    assert response.url.partition("#")[0] == reverse("accounts:dashboard")  # a skip returns to its card
    assert len(sync_tasks(enqueued, customer)) >= 1


def test_staff_marking_delivered_enqueues_a_lead_update(
    superuser_client, customer, crm, enqueued, django_capture_on_commit_callbacks
):
    delivery = due_today(first_delivery(customer))
    enqueued.clear()

    with django_capture_on_commit_callbacks(execute=True):
        superuser_client.post(
            "/admin/accounts/delivery/", {"action": "mark_delivered", "_selected_action": [str(delivery.pk)]}
        )

    assert len(sync_tasks(enqueued, customer)) == 1


@responses.activate
def test_a_skip_sends_the_next_scheduled_delivery_as_the_delivery_date(customer, crm):
    synced(customer)
    first, second = customer.deliveries.filter(status="scheduled").order_by("delivery_on")[:2]
    responses.patch(LEADS_URL, json=patch_answer(30000001))

    delivery_actions.delivery_skip(profile=customer, delivery_id=first.pk)
    tasks.sync_profile.call(profile_id=customer.pk)

    [[patch]] = bodies("PATCH", LEADS_URL)
    assert by_field(patch["custom_fields_values"]) == {
        FIELD_IDS[Key.DELIVERY_DATE]: [{"value": mapping.date_to_timestamp(second.delivery_on)}]
    }


@responses.activate
def test_a_pause_sends_the_paused_status_and_clears_the_delivery_date(customer, crm, field_map):
    synced(customer)
    responses.patch(LEADS_URL, json=patch_answer(30000001))

    delivery_actions.profile_pause(profile=customer)
    tasks.sync_profile.call(profile_id=customer.pk)

    [[patch]] = bodies("PATCH", LEADS_URL)
    assert by_field(patch["custom_fields_values"]) == {
        FIELD_IDS[Key.DELIVERY_DATE]: None,
        FIELD_IDS[Key.ACCOUNT_STATUS]: [{"enum_id": field_map.enum_id(Key.ACCOUNT_STATUS, "paused")}],
    }


@responses.activate
def test_a_completed_delivery_sends_the_new_sum_and_the_next_date(customer, crm):
    synced(customer)
    first, second = customer.deliveries.filter(status="scheduled").order_by("delivery_on")[:2]
    responses.patch(LEADS_URL, json=patch_answer(30000001))

    delivery_actions.delivery_complete(delivery_id=first.pk, now=on_its_day(first))
    tasks.sync_profile.call(profile_id=customer.pk)

    [[patch]] = bodies("PATCH", LEADS_URL)
    remaining = Decimal("5000.00") - first.price
    assert patch["price"] == int(remaining)
    assert by_field(patch["custom_fields_values"]) == {
        FIELD_IDS[Key.ACCOUNT_SUM]: [{"value": f"{remaining:.2f}"}],
        FIELD_IDS[Key.DELIVERY_DATE]: [{"value": mapping.date_to_timestamp(second.delivery_on)}],
    }


def test_a_manager_sum_change_by_webhook_is_a_manager_ledger_entry(
    client, webhook_settings, linked, field_map
):
    deliver(client, body(update=[lead(cf(Key.ACCOUNT_SUM, "6100.40"), at=later(60))]))

    linked.refresh_from_db()
    assert linked.account_sum == Decimal("6100.40")
    entry = linked.ledger_entries.first()
    assert (entry.amount, entry.reason) == (Decimal("1100.40"), "manager")
    assert sum(e.amount for e in linked.ledger_entries.all()) == linked.account_sum


def test_a_delivery_date_from_the_crm_re_anchors_the_scheduled_deliveries(
    client, webhook_settings, linked, field_map
):
    day = timezone.localdate() + datetime.timedelta(days=10)

    deliver(
        client, body(update=[lead(cf(Key.DELIVERY_DATE, str(mapping.date_to_timestamp(day))), at=later(60))])
    )

    linked.refresh_from_db()
    assert linked.next_delivery_on() == day
    dates = list(linked.deliveries.filter(status="scheduled").values_list("delivery_on", flat=True))
    assert dates[:2] == [day, day + datetime.timedelta(weeks=1)]
