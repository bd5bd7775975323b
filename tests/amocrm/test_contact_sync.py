"""The customer's phone and email reach the lead's main contact; the contact id follows the lead's
main contact; the contact search reads every page (issue 24, item 12)."""

import json

import pytest
import responses

from accounts import services
from amocrm import mapping
from amocrm.models import LeadSync
from amocrm.services import crm_changes, lead_sync
from tests.amocrm.conftest import COMPLEX_URL, CONTACT, CONTACTS_URL, LEAD, LEADS_URL
from tests.amocrm.helpers import complex_answer, patch_answer

pytestmark = pytest.mark.django_db

CONTACT_URL = f"{CONTACTS_URL}/{CONTACT}"


def held_contact(*, phones=(), addresses=("anna@example.ru",), contact_id=CONTACT) -> dict:
    """A contact as GET /api/v4/contacts/{id} answers: only the fields it holds."""
    values = []
    if phones:
        values.append(
            {
                "field_code": "PHONE",
                "values": [{"value": p, "enum_id": 1001, "enum_code": "WORK"} for p in phones],
            }
        )
    if addresses:
        values.append(
            {"field_code": "EMAIL", "values": [{"value": a, "enum_code": "WORK"} for a in addresses]}
        )
    return {"id": contact_id, "name": "Анна", "custom_fields_values": values}


def contact_patches() -> list:
    return [
        json.loads(c.request.body)
        for c in responses.calls
        if c.request.method == "PATCH" and c.request.url.split("?")[0] == CONTACTS_URL
    ]


@responses.activate
def test_a_customers_new_phone_reaches_the_contact_and_keeps_the_managers_other_number(linked, amo):
    LeadSync.objects.filter(profile=linked).update(contact_phone="+79001112233")
    linked.phone = "+79001112233"
    linked.save(update_fields=["phone"])
    services.profile_update_preferences(profile=linked, data={"phone": "+79005556677"})
    responses.get(CONTACT_URL, json=held_contact(phones=("+79001112233", "+74951234567")))
    responses.patch(CONTACTS_URL, json={"_embedded": {"contacts": [{"id": CONTACT}]}})

    lead_sync.lead_sync_profiles(profile_ids=[linked.pk], client=amo)

    [[patch]] = contact_patches()
    assert patch == {
        "id": CONTACT,
        "custom_fields_values": [
            {
                "field_code": "PHONE",
                "values": [
                    {"value": "+79005556677", "enum_code": "MOB"},
                    {"value": "+74951234567", "enum_id": 1001},
                ],
            }
        ],
    }
    sync = LeadSync.objects.get(profile=linked)
    assert (sync.status, sync.contact_phone) == (LeadSync.Status.SYNCED, "+79005556677")


@responses.activate
def test_a_phone_the_contact_already_holds_sends_nothing(linked, amo):
    LeadSync.objects.filter(profile=linked).update(contact_phone="+79005556677")
    services.profile_update_preferences(profile=linked, data={"phone": "+79005556677"})

    lead_sync.lead_sync_profiles(profile_ids=[linked.pk], client=amo)

    assert contact_patches() == []
    assert len(responses.calls) == 0


@responses.activate
def test_a_contact_found_by_email_at_signup_gets_the_customers_phone(customer, crm, amo):
    customer.phone = "+79005556677"
    customer.save(update_fields=["phone"])
    found = held_contact(addresses=(customer.user.email,))
    responses.get(CONTACTS_URL, json={"_embedded": {"contacts": [found]}})
    responses.post(COMPLEX_URL, json=complex_answer(contact_id=CONTACT))
    responses.get(CONTACT_URL, json=found)
    responses.patch(CONTACTS_URL, json={"_embedded": {"contacts": [{"id": CONTACT}]}})

    lead_sync.lead_sync_profiles(profile_ids=[customer.pk], client=amo)

    [[patch]] = contact_patches()
    assert patch["custom_fields_values"] == [
        {"field_code": "PHONE", "values": [{"value": "+79005556677", "enum_code": "MOB"}]}
    ]
    assert LeadSync.objects.get(profile=customer).contact_phone == "+79005556677"


@responses.activate
def test_a_contact_made_with_the_lead_is_not_patched_again(customer, crm, amo):
    customer.phone = "+79005556677"
    customer.save(update_fields=["phone"])
    responses.get(CONTACTS_URL, status=204)
    responses.post(COMPLEX_URL, json=complex_answer(contact_id=CONTACT))

    lead_sync.lead_sync_profiles(profile_ids=[customer.pk], client=amo)

    assert contact_patches() == []


@responses.activate
def test_a_customers_new_email_replaces_the_old_one_on_the_contact(linked, amo, field_map):
    old = linked.user.email
    linked.user.email = "anna.new@example.ru"
    linked.user.save(update_fields=["email"])
    LeadSync.objects.filter(profile=linked).update(status=LeadSync.Status.PENDING)
    responses.patch(LEADS_URL, json=patch_answer(LEAD))
    responses.get(CONTACT_URL, json=held_contact(addresses=(old.upper(), "office@example.ru")))
    responses.patch(CONTACTS_URL, json={"_embedded": {"contacts": [{"id": CONTACT}]}})

    lead_sync.lead_sync_profiles(profile_ids=[linked.pk], client=amo)

    [[patch]] = contact_patches()
    assert patch["custom_fields_values"] == [
        {
            "field_code": "EMAIL",
            "values": [{"value": "anna.new@example.ru", "enum_code": "WORK"}, {"value": "office@example.ru"}],
        }
    ]


@responses.activate
def test_a_refused_contact_patch_fails_the_row_for_staff(linked, amo):
    services.profile_update_preferences(profile=linked, data={"phone": "+79005556677"})
    responses.get(CONTACT_URL, json=held_contact())
    responses.patch(
        CONTACTS_URL,
        status=400,
        json={
            "title": "Bad Request",
            "status": 400,
            "detail": "Request validation failed",
            "validation-errors": [
                {
                    "request_id": "0",
                    "errors": [{"code": "InvalidPhone", "path": "custom_fields_values.0", "detail": "x"}],
                }
            ],
        },
    )

    lead_sync.lead_sync_profiles(profile_ids=[linked.pk], client=amo)

    sync = LeadSync.objects.get(profile=linked)
    assert sync.status == LeadSync.Status.FAILED and "InvalidPhone" in sync.last_error
    assert sync.contact_phone == ""  # not recorded as held: a resync sends it again


def test_a_lead_read_with_another_main_contact_relinks_the_contact(linked, field_map):
    # A manager merged the customer's contact into another one: its hooks apply from now on.
    read = {
        "id": LEAD,
        "status_id": 60000003,
        "updated_at": 1_900_000_000,
        "custom_fields_values": [mapping.lead_state(linked, field_map)[mapping.Key.WISHES]],
        "_embedded": {"contacts": [{"id": 40000777, "is_main": False}, {"id": 40000888, "is_main": True}]},
    }
    change = mapping.lead_change_from_api(read, last_status_id=60000003)

    crm_changes.lead_change_apply(change=change, fields=field_map)

    sync = LeadSync.objects.get(profile=linked)
    assert (sync.contact_id, sync.contact_phone) == (40000888, None)


@responses.activate
def test_the_contact_search_reads_the_next_page_of_matches(amo, oauth_token):
    others = [held_contact(addresses=(f"anna{i}@example.ru",), contact_id=41000000 + i) for i in range(50)]
    wanted = held_contact(addresses=("anna@example.ru",), contact_id=42000001)
    responses.get(
        CONTACTS_URL,
        json={
            "_page": 1,
            "_links": {"next": {"href": f"{CONTACTS_URL}?page=2"}},
            "_embedded": {"contacts": others},
        },
        match=[
            responses.matchers.query_param_matcher({"query": "anna@example.ru", "limit": "50", "page": "1"})
        ],
    )
    responses.get(
        CONTACTS_URL,
        json={"_page": 2, "_embedded": {"contacts": [wanted]}},
        match=[
            responses.matchers.query_param_matcher({"query": "anna@example.ru", "limit": "50", "page": "2"})
        ],
    )

    assert amo.contact_find_by_email("anna@example.ru")["id"] == 42000001
    assert len(responses.calls) == 2
