"""A deleted account in amoCRM: the contact's name, phone and email and the lead's address and
wishes cleared through the lead sync's outbox (durable, retried), and a note without personal data."""

import json
from http import HTTPStatus

import pytest
import responses
from django.test import Client
from django.urls import reverse

from amocrm.models import LeadNote, LeadSync
from amocrm.services import erasure, lead_sync
from tests.amocrm.conftest import BASE, CONTACT, CONTACTS_URL, LEAD, LEADS_URL
from tests.amocrm.helpers import bodies, by_field, patch_answer

pytestmark = pytest.mark.django_db

NOTES_URL = f"{BASE}/api/v4/leads/notes"
ADDRESS = "Москва, ул. Ленина, 25, кв. 10"


@pytest.fixture(autouse=True)
def notes_on(settings):
    settings.AMOCRM_LEAD_NOTES = True


@pytest.fixture
def deleted(linked, password, _tasks_dummy):
    """The linked customer deletes the account from the site (nothing runs: the dummy queue)."""
    LeadNote.objects.filter(profile=linked).update(note_id=1)  # the signup's note went long ago
    LeadSync.objects.filter(profile=linked).update(contact_phone="+79001234567", contact_email="a@b.ru")
    browser = Client()
    browser.force_login(linked.user)
    response = browser.post(reverse("accounts:my_data"), {"password": password})
    assert response.status_code == HTTPStatus.FOUND
    return linked


def contacts_ok(request):
    ids = [item["id"] for item in json.loads(request.body)]
    return (200, {}, json.dumps({"_embedded": {"contacts": [{"id": i} for i in ids]}}))


def notes_ok(request):
    items = json.loads(request.body)
    notes = [{"id": 71000000 + i, "request_id": item["request_id"]} for i, item in enumerate(items)]
    return (200, {}, json.dumps({"_embedded": {"notes": notes}}))


def test_the_erasure_is_recorded_in_the_transaction_that_erases_the_account(deleted):
    sync = LeadSync.objects.get(profile=deleted)
    assert sync.status == LeadSync.Status.PENDING
    assert sync.contact_erase_requested_at is not None
    assert (sync.contact_phone, sync.contact_email, sync.synced_values) == ("", "", {})
    note = LeadNote.objects.filter(profile=deleted, action=erasure.ACTION).get()
    assert note.note_id is None and "удалил аккаунт" in note.text
    assert deleted.user.email not in note.text and ADDRESS not in note.text


def test_local_copies_of_old_notes_lose_their_text(linked, password, _tasks_dummy):
    LeadNote.objects.create(profile=linked, action="preferences_changed", text=f"адрес: {ADDRESS}", note_id=5)
    LeadNote.objects.create(profile=linked, action="preferences_changed", text=f"адрес: {ADDRESS}")
    browser = Client()
    browser.force_login(linked.user)

    browser.post(reverse("accounts:my_data"), {"password": password})

    assert not LeadNote.objects.filter(text__contains="Ленина").exists()


@responses.activate
def test_the_sync_clears_the_contact_and_the_lead_and_posts_the_note(deleted, amo, field_map):
    responses.patch(LEADS_URL, json=patch_answer(LEAD))
    responses.add_callback(responses.PATCH, CONTACTS_URL, callback=contacts_ok)
    responses.add_callback(responses.POST, NOTES_URL, callback=notes_ok)

    lead_sync.lead_sync_profiles(profile_ids=[deleted.pk], client=amo)

    [[contact]] = bodies("PATCH", CONTACTS_URL)
    assert contact == {
        "id": CONTACT,
        "name": erasure.CONTACT_NAME,
        "first_name": "",
        "last_name": "",
        "custom_fields_values": [
            {"field_code": "PHONE", "values": None},
            {"field_code": "EMAIL", "values": None},
        ],
    }
    [[lead]] = bodies("PATCH", LEADS_URL)
    values = by_field(lead["custom_fields_values"])
    assert values[field_map.field_id("delivery_address")] is None
    assert values[field_map.field_id("wishes")] is None
    assert "deleted-" in lead["name"]
    [[note]] = bodies("POST", NOTES_URL)
    assert note["entity_id"] == LEAD and note["params"]["text"] == erasure.NOTE_TEXT
    sync = LeadSync.objects.get(profile=deleted)
    assert sync.status == LeadSync.Status.SYNCED and sync.contact_erase_requested_at is None


@responses.activate
def test_a_failed_contact_patch_is_retried_until_it_goes_through(deleted, amo, field_map):
    responses.patch(LEADS_URL, json=patch_answer(LEAD))
    responses.add_callback(responses.POST, NOTES_URL, callback=notes_ok)
    responses.patch(CONTACTS_URL, status=503)

    lead_sync.lead_sync_profiles(profile_ids=[deleted.pk], client=amo)

    sync = LeadSync.objects.get(profile=deleted)
    assert sync.status == LeadSync.Status.PENDING and sync.attempts == 1
    assert sync.contact_erase_requested_at is not None

    responses.replace(responses.PATCH, CONTACTS_URL, json={"_embedded": {"contacts": [{"id": CONTACT}]}})
    LeadSync.objects.filter(pk=sync.pk).update(next_attempt_at=None)
    lead_sync.lead_sync_profiles(profile_ids=[deleted.pk], client=amo)

    sync.refresh_from_db()
    assert sync.status == LeadSync.Status.SYNCED and sync.contact_erase_requested_at is None
    assert len(bodies("PATCH", CONTACTS_URL)) >= 2


@responses.activate
def test_a_contact_linked_but_unknown_here_is_read_from_the_lead(deleted, amo, field_map):
    LeadSync.objects.filter(profile=deleted).update(contact_id=None)
    responses.patch(LEADS_URL, json=patch_answer(LEAD))
    responses.add_callback(responses.POST, NOTES_URL, callback=notes_ok)
    responses.get(
        f"{LEADS_URL}/{LEAD}",
        json={"id": LEAD, "_embedded": {"contacts": [{"id": 40000077, "is_main": True}]}},
    )
    responses.add_callback(responses.PATCH, CONTACTS_URL, callback=contacts_ok)

    lead_sync.lead_sync_profiles(profile_ids=[deleted.pk], client=amo)

    assert [items[0]["id"] for items in bodies("PATCH", CONTACTS_URL)] == [40000077]
