"""One conversation between the site and amoCRM: a change is told once by the service that makes it,
and a manager's change loses only to a later site change of the same field (its clock)."""

import datetime
from http import HTTPStatus

import pytest
import responses
from django.urls import reverse
from django.utils import formats, timezone

from accounts import delivery_actions, services
from amocrm import mapping, webhooks
from amocrm.models import CustomField, LeadSync, WebhookEvent
from amocrm.services import crm_changes, lead_sync
from tests.amocrm.conftest import CONTACT, LEAD, LEADS_URL
from tests.amocrm.helpers import (
    as_amocrm_holds,
    bodies,
    body,
    cf,
    deliver,
    full_lead,
    later,
    lead,
    patch_answer,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("webhook_settings")]

Key = CustomField.Key
ADDRESS = "Москва, ул. Арбат, 1"


def signed_up_an_hour_ago(profile) -> None:
    """The customer last changed anything an hour ago (the site's clock of every field)."""
    hour_ago = (timezone.now() - datetime.timedelta(hours=1)).isoformat()
    LeadSync.objects.filter(profile=profile).update(
        site_changed_at=dict.fromkeys([*mapping.PREFERENCE_KEYS, mapping.PHONE], hour_ago)
    )


def later_delivery(profile):
    """A delivery past the skip cut-off."""
    return profile.deliveries.order_by("delivery_on")[1]


def test_a_skip_enqueues_exactly_one_sync(linked, settings, enqueued, django_capture_on_commit_callbacks):
    settings.AMOCRM_LEAD_NOTES = True  # the history note rides on the same sync

    with django_capture_on_commit_callbacks(execute=True):
        delivery_actions.delivery_skip(profile=linked, delivery_id=later_delivery(linked).pk)

    assert [(r.task.name, r.kwargs) for r in enqueued] == [("sync_profile", {"profile_id": linked.pk})]


def test_a_preferences_save_enqueues_exactly_one_sync(
    linked, settings, enqueued, django_capture_on_commit_callbacks
):
    settings.AMOCRM_LEAD_NOTES = True

    with django_capture_on_commit_callbacks(execute=True):
        services.profile_update_preferences(
            profile=linked, data={"wishes": "Пионы", "delivery_address": ADDRESS}
        )

    assert [r.kwargs for r in enqueued] == [{"profile_id": linked.pk}]


def test_a_managers_address_change_arriving_after_a_customers_skip_survives(client, linked, field_map):
    signed_up_an_hour_ago(linked)
    managers_edit = timezone.now() - datetime.timedelta(seconds=5)
    # Seconds later, before amoCRM's hook arrives, the customer skips a delivery.
    delivery_actions.delivery_skip(profile=linked, delivery_id=later_delivery(linked).pk)

    deliver(
        client,
        body(update=[full_lead(linked, field_map, cf(Key.DELIVERY_ADDRESS, ADDRESS), at=managers_edit)]),
    )

    linked.refresh_from_db()
    assert linked.delivery_address == ADDRESS
    event = WebhookEvent.objects.get()
    assert (event.status, event.changes, event.dropped) == ("processed", ["delivery_address"], [])


def test_a_managers_change_loses_to_a_later_site_change_of_the_same_field_and_is_recorded(client, linked):
    signed_up_an_hour_ago(linked)
    managers_edit = timezone.now() - datetime.timedelta(seconds=5)
    services.profile_update_preferences(profile=linked, data={"wishes": "Только ирисы"})
    site_at = LeadSync.objects.get(profile=linked).site_changed(Key.WISHES)

    deliver(
        client,
        body(
            update=[lead(cf(Key.WISHES, "От менеджера"), cf(Key.DELIVERY_ADDRESS, ADDRESS), at=managers_edit)]
        ),
    )

    linked.refresh_from_db()
    assert (linked.wishes, linked.delivery_address) == ("Только ирисы", ADDRESS)
    event = WebhookEvent.objects.get()
    assert event.dropped == [
        {
            "field": Key.WISHES,
            "crm_changed_at": managers_edit.replace(microsecond=0).isoformat(),
            "site_changed_at": site_at.isoformat(),
        }
    ]


def test_a_change_from_amocrm_moves_no_site_clock_and_queues_nothing(
    client, linked, field_map, enqueued, django_capture_on_commit_callbacks
):
    clock = LeadSync.objects.get(profile=linked).site_changed_at

    with django_capture_on_commit_callbacks(execute=True):
        deliver(
            client,
            body(
                update=[
                    full_lead(linked, field_map, cf(Key.WISHES, "Пионы"), cf(Key.DELIVERY_ADDRESS, ADDRESS))
                ]
            ),
        )

    sync = LeadSync.objects.get(profile=linked)
    assert (sync.status, sync.site_changed_at) == (LeadSync.Status.SYNCED, clock)
    assert [r.task.name for r in enqueued] == ["webhook_apply"]  # the hook's own, no sync back


@responses.activate
def test_a_new_sum_from_amocrm_sends_back_only_the_derived_budget(client, linked, field_map):
    # The sum field changed, the lead's budget did not: the budget is the site's to derive.
    deliver(client, body(update=[full_lead(linked, field_map, cf(Key.ACCOUNT_SUM, "7500"))]))
    assert LeadSync.objects.get(profile=linked).status == LeadSync.Status.PENDING
    responses.patch(LEADS_URL, json=patch_answer(linked.lead_sync.lead_id))

    lead_sync.lead_sync_profiles(profile_ids=[linked.pk])

    [[patch]] = bodies("PATCH", LEADS_URL)
    assert set(patch) == {"id", "price"}
    assert patch["price"] == 7500


@responses.activate
def test_a_stale_echo_in_the_same_second_cannot_undo_a_managers_new_sum(client, linked, field_map):
    # The e2e race, replayed: the lead is made and a manager sets a higher sum within one second;
    # the add_lead echo of the creation (the old sum) arrives 50 ms after the manager's update.
    second = later()
    deliver(client, body(update=[lead(cf(Key.ACCOUNT_SUM, "9000"), price=9000, at=second)]))
    linked.refresh_from_db()
    now_held = as_amocrm_holds(linked, field_map, updated_at=int(second.timestamp()))
    read_back = responses.get(f"{LEADS_URL}/{LEAD}", json=now_held)

    deliver(client, body(add=[lead(cf(Key.ACCOUNT_SUM, "5000"), price=5000, at=second)]))

    linked.refresh_from_db()
    assert str(linked.account_sum) == "9000.00"
    assert read_back.call_count == 1  # the same second: amoCRM was asked what it holds now
    assert list(WebhookEvent.objects.order_by("pk").values_list("status", flat=True)) == [
        "processed",
        "processed",
    ]


def test_an_event_of_a_later_second_is_applied_without_reading_the_lead_back(client, linked):
    second = later()
    deliver(client, body(update=[lead(cf(Key.ACCOUNT_SUM, "9000"), price=9000, at=second)]))

    with responses.RequestsMock():  # any request would fail the event
        deliver(client, body(update=[lead(cf(Key.ACCOUNT_SUM, "9100"), price=9100, at=later(61))]))

    linked.refresh_from_db()
    assert str(linked.account_sum) == "9100.00"


def test_a_contact_email_spelled_otherwise_is_the_customers_own_mailbox(linked):
    # Fullwidth letters and capitals: the same mailbox by accounts.emails, so nothing for staff.
    spelled = "".join(chr(ord(c) + 0xFEE0) if c.isalpha() else c for c in linked.user.email.upper())
    change = webhooks.ContactChange(
        contact_id=CONTACT, modified_at=later(), phone=None, email=spelled, lead_ids=(LEAD,)
    )

    crm_changes.contact_change_apply(change=change)

    assert LeadSync.objects.get(profile=linked).contact_email == ""


def test_staff_see_a_dropped_change_on_the_webhook_event(client, linked, superuser_client):
    signed_up_an_hour_ago(linked)
    managers_edit = timezone.now() - datetime.timedelta(seconds=5)
    services.profile_update_preferences(profile=linked, data={"wishes": "Только ирисы"})
    deliver(client, body(update=[lead(cf(Key.WISHES, "От менеджера"), at=managers_edit)]))
    event = WebhookEvent.objects.get()

    response = superuser_client.get(reverse("admin:amocrm_webhookevent_change", args=[event.pk]))

    assert response.status_code == HTTPStatus.OK
    # The field by its name, the time local and to the minute, as staff read every other time.
    when = formats.date_format(timezone.localtime(managers_edit), "DATETIME_FORMAT")
    assert f"пожелания к букетам: изменено в amoCRM {when}" in response.content.decode()


def customer_saves_wishes_in_the_second(profile, wishes: str, second: datetime.datetime) -> datetime.datetime:
    """The customer saves `wishes` 400 ms into `second` (the site's clock has a fraction, amoCRM's not)."""
    services.profile_update_preferences(profile=profile, data={"wishes": wishes})
    site_at = second + datetime.timedelta(milliseconds=400)
    sync = LeadSync.objects.get(profile=profile)
    sync.site_changed_at = {**sync.site_changed_at, Key.WISHES: site_at.isoformat()}
    sync.save(update_fields=["site_changed_at"])
    return site_at


def amocrm_holds_wishes(profile, field_map, wishes: str, second: datetime.datetime):
    """The read-back of a same-second hook: the lead holds `wishes`, last changed in `second`."""
    held = {"field_id": field_map.field_id(Key.WISHES), "values": [{"value": wishes}]}
    now_held = as_amocrm_holds(profile, field_map, updated_at=int(second.timestamp()), wishes=held)
    return responses.get(f"{LEADS_URL}/{LEAD}", json=now_held)


@responses.activate
def test_a_creation_echo_in_the_same_second_cannot_undo_a_customers_newer_change(client, linked, field_map):
    # The uninstall benchmark's race, replayed: the lead's creation is not yet recorded as synced for
    # the wishes, the customer changes them at S.4, then the add_lead echo stamped S arrives with the
    # creation-time wishes. Before: within the same second amoCRM won and the old wishes came back.
    creation_wishes = linked.wishes
    sync = LeadSync.objects.get(profile=linked)
    sync.synced_values = {key: value for key, value in sync.synced_values.items() if key != Key.WISHES}
    sync.save(update_fields=["synced_values"])
    second = later().replace(microsecond=0)
    site_at = customer_saves_wishes_in_the_second(linked, "Только ирисы", second)

    # The same second as the customer's change: read back, amoCRM still holds the creation wishes.
    read_back = amocrm_holds_wishes(linked, field_map, creation_wishes, second)

    deliver(client, body(add=[lead(cf(Key.WISHES, creation_wishes), at=second)]))

    linked.refresh_from_db()
    assert linked.wishes == "Только ирисы"
    assert read_back.call_count == 1
    assert LeadSync.objects.get(profile=linked).status == LeadSync.Status.PENDING  # still to be sent
    assert WebhookEvent.objects.get().dropped == [
        {
            "field": Key.WISHES,
            "crm_changed_at": second.isoformat(),
            "site_changed_at": site_at.isoformat(),
            "reason": "same second, no synced value to tell an echo from an edit",
        }
    ]


@responses.activate
def test_a_managers_different_value_in_the_same_second_wins_and_the_site_change_is_recorded(
    client, linked, field_map
):
    second = later().replace(microsecond=0)
    site_at = customer_saves_wishes_in_the_second(linked, "Только ирисы", second)
    read_back = amocrm_holds_wishes(linked, field_map, "От менеджера", second)  # the manager's edit

    deliver(client, body(update=[lead(cf(Key.WISHES, "От менеджера"), at=second)]))

    linked.refresh_from_db()
    assert linked.wishes == "От менеджера"
    assert read_back.call_count == 1
    assert WebhookEvent.objects.get().dropped == [
        {
            "field": Key.WISHES,
            "crm_changed_at": second.isoformat(),
            "site_changed_at": site_at.isoformat(),
            "reason": "same second, a manager's edit won over the site's change",
        }
    ]


@responses.activate
def test_an_older_echo_in_the_same_second_as_a_sent_site_change_reads_back_the_customers_value(
    client, linked, field_map
):
    # The site's PATCH has landed (synced_values holds the customer's new wishes), then an echo
    # stamped in the same second S as the customer's change arrives with the creation-time wishes.
    # It differs from the synced value, so alone it looks like a manager's edit; the order is
    # unknown, so the lead is read back and amoCRM, after our PATCH, holds the customer's wishes.
    creation_wishes = linked.wishes
    second = later().replace(microsecond=0)
    customer_saves_wishes_in_the_second(linked, "Только ирисы", second)
    responses.patch(LEADS_URL, json=patch_answer(linked.lead_sync.lead_id))
    lead_sync.lead_sync_profiles(profile_ids=[linked.pk])
    linked.refresh_from_db()
    assert LeadSync.objects.get(profile=linked).status == LeadSync.Status.SYNCED
    now_held = as_amocrm_holds(linked, field_map, updated_at=int(second.timestamp()))
    read_back = responses.get(f"{LEADS_URL}/{LEAD}", json=now_held)

    deliver(client, body(update=[full_lead(linked, field_map, cf(Key.WISHES, creation_wishes), at=second)]))

    linked.refresh_from_db()
    assert linked.wishes == "Только ирисы"
    assert read_back.call_count == 1  # the same second as the site's change: amoCRM was asked
    assert WebhookEvent.objects.get().status == "processed"
