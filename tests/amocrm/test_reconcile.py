"""Reconciliation: what changed in amoCRM is read back and applied by the webhooks' rules, so the
two sides converge when hooks are lost; cheap when nothing changed; resumable; never an echo."""

import datetime
from decimal import Decimal
from http import HTTPStatus
from io import StringIO

import pytest
import responses
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from accounts.models import Profile
from amocrm.models import CustomField, LeadSync, ReconcileCursor, WebhookEvent
from amocrm.services import lead_sync, reconcile, webhook_events
from tests.amocrm.conftest import CONTACT, CONTACTS_URL, EVENTS_URL, LEAD, LEADS_URL
from tests.amocrm.helpers import as_amocrm_holds, page, stamp

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_lead_events")]

Key = CustomField.Key


@pytest.fixture
def linked(linked) -> Profile:
    """The shared linked profile, its lead in the stage `as_amocrm_holds` reports."""
    LeadSync.objects.filter(profile=linked).update(crm_status_id=60000003)
    return linked


def sum_field(field_map, amount: str) -> dict:
    return {"field_id": field_map.field_id(Key.ACCOUNT_SUM), "values": [{"value": amount}]}


@responses.activate
def test_a_managers_change_with_no_webhook_at_all_reaches_the_account_page_after_one_run(
    client, linked, field_map
):
    lead = as_amocrm_holds(
        linked, field_map, updated_at=stamp(), account_sum=sum_field(field_map, "12345.67")
    )
    responses.get(LEADS_URL, json=page("leads", [lead]))
    responses.get(CONTACTS_URL, status=204)

    report = reconcile.reconcile_run()

    assert report.drifts == {"leads": 1, "contacts": 0}
    client.force_login(linked.user)
    page_text = client.get(reverse("accounts:dashboard")).content.decode()
    assert "12\xa0345,67" in page_text or "12 345,67" in page_text


@responses.activate
def test_a_run_with_nothing_changed_makes_one_request_per_kind_answered_204(linked):
    responses.get(LEADS_URL, status=204)
    responses.get(CONTACTS_URL, status=204)

    report = reconcile.reconcile_run()

    assert [call.request.url.split("?")[0] for call in responses.calls] == [
        LEADS_URL,
        CONTACTS_URL,
        EVENTS_URL,
    ]
    assert report.read == {"leads": 0, "contacts": 0} and report.requests == 3  # and the deletes


@responses.activate
def test_it_asks_for_changes_since_the_watermark_with_an_overlap_oldest_first(linked):
    ReconcileCursor.objects.create(entity="leads", watermark=1_800_000_000)
    ReconcileCursor.objects.create(entity="contacts", watermark=1_800_000_000)
    responses.get(LEADS_URL, status=204)
    responses.get(CONTACTS_URL, status=204)

    reconcile.reconcile_run()

    assert responses.calls[0].request.params == {
        "filter[updated_at][from]": str(1_800_000_000 - reconcile.OVERLAP),
        "order[updated_at]": "asc",
        "limit": "250",
        "page": "1",
        "with": "contacts",  # the lead's main contact: a manager may have relinked it
    }


@responses.activate
def test_a_change_applied_by_webhook_and_read_again_changes_nothing_and_writes_nothing(
    client, linked, field_map, settings
):
    settings.AMOCRM_WEBHOOK_SECRET = "hook-SECRET-r"
    settings.AMOCRM_ACCOUNT_SUBDOMAIN = "flowers"
    when = stamp()
    body = (
        f"account%5Bsubdomain%5D=flowers&account%5Bid%5D=31000001&leads%5Bupdate%5D%5B0%5D%5Bid%5D={LEAD}"
        f"&leads%5Bupdate%5D%5B0%5D%5Blast_modified%5D={when}"
        f"&leads%5Bupdate%5D%5B0%5D%5Bcustom_fields%5D%5B0%5D%5Bid%5D={field_map.field_id(Key.ACCOUNT_SUM)}"
        "&leads%5Bupdate%5D%5B0%5D%5Bcustom_fields%5D%5B0%5D%5Bvalues%5D%5B0%5D%5Bvalue%5D=7777"
    )
    url = reverse("amocrm:webhook", kwargs={"secret": "hook-SECRET-r"})
    assert client.post(url, data=body, content_type="application/x-www-form-urlencoded").status_code == 200
    received = WebhookEvent.objects.filter(status=WebhookEvent.Status.RECEIVED).values_list("pk", flat=True)
    webhook_events.webhook_events_apply(event_ids=list(received))
    linked.refresh_from_db()
    assert linked.account_sum == Decimal("7777.00")
    lead = as_amocrm_holds(linked, field_map, updated_at=when)
    responses.get(LEADS_URL, json=page("leads", [lead]))
    responses.get(CONTACTS_URL, status=204)

    report = reconcile.reconcile_run()
    lead_sync.lead_sync_profiles(profile_ids=[linked.pk])  # the sync the saves queued

    assert report.drifts["leads"] == 0
    assert [call.request.method for call in responses.calls] == ["GET", "GET", "GET"]  # nothing written


@responses.activate
def test_leads_of_other_sources_are_ignored(linked, field_map):
    other = {"id": 99999, "name": "Чужая сделка", "price": 1, "status_id": 142, "updated_at": stamp()}
    responses.get(LEADS_URL, json=page("leads", [other]))
    responses.get(CONTACTS_URL, status=204)

    report = reconcile.reconcile_run()

    assert report.read["leads"] == 1 and report.drifts["leads"] == 0
    assert LeadSync.objects.count() == 1


@responses.activate
def test_a_stage_changed_since_it_was_last_seen_maps_to_the_status(linked, field_map, settings):
    settings.AMOCRM_STATUS_MAP = {143: "closed"}
    lead = as_amocrm_holds(linked, field_map, updated_at=stamp(), status_id=143)
    responses.get(LEADS_URL, json=page("leads", [lead]))
    responses.get(CONTACTS_URL, status=204)

    reconcile.reconcile_run()

    linked.refresh_from_db()
    assert linked.account_status == "closed"
    assert LeadSync.objects.get(profile=linked).crm_status_id == 143


@responses.activate
def test_a_contacts_phone_changed_with_no_webhook_reaches_the_profile(linked):
    contact = {
        "id": CONTACT,
        "updated_at": stamp(),
        "custom_fields_values": [{"field_code": "PHONE", "values": [{"value": "+79135550102"}]}],
    }
    responses.get(LEADS_URL, status=204)
    responses.get(CONTACTS_URL, json=page("contacts", [contact]))

    report = reconcile.reconcile_run()

    linked.refresh_from_db()
    assert linked.phone == "+79135550102" and report.drifts["contacts"] == 1


@responses.activate
def test_a_run_that_dies_mid_way_resumes_at_its_page_without_skipping(linked, field_map, monkeypatch):
    monkeypatch.setattr(reconcile, "PAGE_SIZE", 2)
    base = stamp()
    other = [{"id": 90000 + n, "price": 1, "status_id": 142, "updated_at": base + n} for n in range(2)]
    ours = as_amocrm_holds(linked, field_map, updated_at=base + 5, account_sum=sum_field(field_map, "4321"))
    responses.get(LEADS_URL, json=page("leads", other))
    responses.get(LEADS_URL, status=400, json={"title": "Bad Request", "status": 400})  # the run dies here

    with pytest.raises(CommandError):
        call_command("amocrm_reconcile", stdout=StringIO())

    cursor = ReconcileCursor.objects.get(entity="leads")
    assert (cursor.page_from, cursor.page, cursor.running_until) == (base + 1, 1, None)
    responses.reset()
    responses.get(LEADS_URL, json=page("leads", [ours]))
    responses.get(CONTACTS_URL, status=204)
    responses.get(EVENTS_URL, status=204)

    call_command("amocrm_reconcile", stdout=StringIO())

    assert responses.calls[0].request.params["filter[updated_at][from]"] == str(base + 1)
    linked.refresh_from_db()
    assert linked.account_sum == Decimal("4321.00")
    cursor.refresh_from_db()
    assert (cursor.watermark, cursor.page_from, cursor.last_read) == (base + 5, None, 1)


def test_a_second_run_while_one_holds_the_lease_reads_nothing(linked):
    assert reconcile._lease_take()

    report = reconcile.reconcile_run()

    assert report.busy and report.requests == 0


@responses.activate
def test_a_dry_run_counts_drifts_and_changes_nothing(linked, field_map):
    lead = as_amocrm_holds(linked, field_map, updated_at=stamp(), account_sum=sum_field(field_map, "999"))
    responses.get(LEADS_URL, json=page("leads", [lead]))
    responses.get(CONTACTS_URL, status=204)

    out = StringIO()
    call_command("amocrm_reconcile", "--dry-run", stdout=out)

    assert "would repair 1 drift" in out.getvalue()
    linked.refresh_from_db()
    assert linked.account_sum != Decimal("999.00")
    assert ReconcileCursor.objects.get(entity="leads").last_finished_at is None


def test_readyz_warns_when_reconciliation_has_not_run_for_three_intervals(admin_client, linked, settings):
    settings.AMOCRM_LONG_LIVED_TOKEN = "x"
    ReconcileCursor.objects.create(
        entity="leads", last_finished_at=timezone.now() - datetime.timedelta(seconds=3 * 300 + 60)
    )

    response = admin_client.get("/readyz")

    assert response.status_code == HTTPStatus.OK
    assert "amocrm_reconcile last finished" in response.json()["warnings"]["amocrm_reconcile"]


# -- leads deleted or restored with their hook lost: amoCRM's events list them ----------------------


def lead_event(kind: str, at: int, lead_id: int = LEAD) -> dict:
    """One item of GET /api/v4/events (Kommo "Events list")."""
    return {
        "id": f"01{kind}{at}",
        "type": kind,
        "entity_id": lead_id,
        "entity_type": "lead",
        "created_by": 7000001,
        "created_at": at,
        "value_after": [],
        "value_before": [],
        "account_id": 31000001,
    }


@responses.activate
def test_a_lead_deleted_with_its_hook_lost_is_unlinked_by_the_events_list(linked):
    responses.replace(
        responses.GET, EVENTS_URL, json={"_embedded": {"events": [lead_event("lead_deleted", stamp())]}}
    )
    responses.get(LEADS_URL, status=204)
    responses.get(CONTACTS_URL, status=204)

    report = reconcile.reconcile_run()

    sync = LeadSync.objects.get(profile=linked)
    assert (sync.lead_id, sync.deleted_lead_id, report.relinks) == (None, LEAD, 1)
    params = responses.calls[-1].request.params
    assert (params["filter[type]"], params["filter[entity]"]) == ("lead_deleted,lead_restored", "lead")


@responses.activate
def test_a_lead_deleted_then_restored_with_both_hooks_lost_stays_linked(linked):
    events = [lead_event("lead_restored", stamp(20)), lead_event("lead_deleted", stamp(10))]  # any order
    responses.replace(responses.GET, EVENTS_URL, json={"_embedded": {"events": events}})
    responses.get(LEADS_URL, status=204)
    responses.get(CONTACTS_URL, status=204)

    reconcile.reconcile_run()
    reconcile.reconcile_run()  # read again: nothing changes

    sync = LeadSync.objects.get(profile=linked)
    assert sync.lead_id == LEAD and sync.deleted_lead_id is None
