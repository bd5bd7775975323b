"""A first sync of many customers (an import, connecting amoCRM to a site with customers): one
listing of the account's contacts instead of a search per email, batches of 50, no duplicates."""

import json
from io import StringIO

import pytest
import responses
from django.core.management import call_command

from amocrm.models import LeadSync
from amocrm.services import lead_sync
from tests.amocrm.conftest import COMPLEX_URL, CONTACTS_URL

pytestmark = pytest.mark.django_db


def contact(contact_id: int, email: str) -> dict:
    return {
        "id": contact_id,
        "custom_fields_values": [{"field_code": "EMAIL", "values": [{"value": email, "enum_code": "WORK"}]}],
    }


def created(request):
    """leads/complex as amoCRM answers it: each item's request_id echoed, lead ids counted up."""
    created.count = getattr(created, "count", 0)
    answers = []
    for item in json.loads(request.body):
        created.count += 1
        answers.append(
            {"id": 36000000 + created.count, "contact_id": None, "request_id": [item["request_id"]]}
        )
    return (200, {}, json.dumps(answers))


@responses.activate
def test_many_new_leads_list_the_accounts_contacts_once_and_link_the_known_ones(
    profile_factory, field_map, amo, oauth_token
):
    profiles = [profile_factory() for _ in range(60)]
    known = profiles[7]
    listing = responses.get(
        CONTACTS_URL,
        json={
            "_embedded": {"contacts": [contact(555, known.user.email.upper()), contact(556, "x@example.net")]}
        },
    )
    responses.add_callback(responses.POST, COMPLEX_URL, callback=created)

    report = lead_sync.lead_sync_profiles(profile_ids=[p.pk for p in profiles], client=amo)

    assert len(report.synced) == 60, LeadSync.objects.values_list("last_error", flat=True).first()
    assert len(listing.calls) == 1 and listing.calls[0].request.params == {"limit": "250", "page": "1"}
    batches = [json.loads(c.request.body) for c in responses.calls if c.request.url == COMPLEX_URL]
    assert [len(batch) for batch in batches] == [50, 10]
    items = {item["request_id"]: item for batch in batches for item in batch}
    assert items[str(known.pk)]["_embedded"]["contacts"] == [{"id": 555}]  # linked, not a duplicate
    assert "custom_fields_values" in items[str(profiles[0].pk)]["_embedded"]["contacts"][0]  # a new one


@responses.activate
def test_a_few_new_leads_search_their_contacts_one_by_one(profile_factory, field_map, amo, oauth_token):
    profiles = [profile_factory() for _ in range(3)]
    search = responses.get(CONTACTS_URL, status=204)
    responses.add_callback(responses.POST, COMPLEX_URL, callback=created)

    lead_sync.lead_sync_profiles(profile_ids=[p.pk for p in profiles], client=amo)

    assert [call.request.params["query"] for call in search.calls] == [p.user.email for p in profiles]


@responses.activate
def test_resync_now_shows_progress_and_a_second_run_sends_nothing(profile_factory, field_map, oauth_token):
    for _ in range(40):
        profile_factory()
    responses.get(CONTACTS_URL, status=204)
    responses.add_callback(responses.POST, COMPLEX_URL, callback=created)

    first = StringIO()
    call_command("amocrm_resync", "--now", stdout=first)
    calls = len(responses.calls)
    second = StringIO()
    call_command("amocrm_resync", "--now", stdout=second)

    assert calls == 2  # one contact listing, one leads/complex call for 40
    assert "40/40 profiles" in first.getvalue()
    assert LeadSync.objects.filter(status=LeadSync.Status.SYNCED).count() == 40
    assert len(responses.calls) == calls and "Nothing to resync" in second.getvalue()
