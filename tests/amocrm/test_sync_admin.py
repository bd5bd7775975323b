"""The lead sync in the admin: its own list, the Profile column and card section, the resync actions."""

from http import HTTPStatus

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from amocrm.models import LeadNote, LeadSync, WebhookEvent
from tests.amocrm.conftest import BASE

pytestmark = pytest.mark.django_db

ADMIN = "/admin"


@pytest.fixture
def failed(customer) -> LeadSync:
    sync = LeadSync.objects.get(profile=customer)
    sync.lead_id = 30000001
    sync.mark_failed(error="amoCRM rejected the request: Request validation failed")
    sync.save()
    return sync


def test_lead_sync_list_shows_status_lead_link_and_error(superuser_client, failed):
    response = superuser_client.get(f"{ADMIN}/amocrm/leadsync/?status=failed")

    assert response.status_code == HTTPStatus.OK
    page = response.content.decode()
    assert failed.profile.user.email in page
    assert f'href="{BASE}/leads/detail/30000001"' in page
    assert "Request validation failed" in page


def test_lead_sync_search_by_email_and_lead_id(superuser_client, failed, profile_factory):
    other = profile_factory()
    for query in [failed.profile.user.email, "30000001"]:
        response = superuser_client.get(f"{ADMIN}/amocrm/leadsync/", {"q": query})
        page = response.content.decode()
        assert failed.profile.user.email in page and other.user.email not in page


def test_resync_selected_queues_one_full_bulk_task(superuser_client, failed, enqueued):
    response = superuser_client.post(
        f"{ADMIN}/amocrm/leadsync/",
        {"action": "resync_selected", "_selected_action": [failed.pk]},
        follow=True,
    )

    assert response.status_code == HTTPStatus.OK
    assert [(r.task.name, r.kwargs) for r in enqueued] == [
        ("sync_profiles", {"profile_ids": [failed.profile_id], "full": True})
    ]
    assert LeadSync.objects.get(pk=failed.pk).status == LeadSync.Status.PENDING


def test_resync_with_the_crm_off_queues_nothing_and_says_so(superuser_client, failed, enqueued, settings):
    settings.AMOCRM_BASE_URL = ""

    response = superuser_client.post(
        f"{ADMIN}/accounts/profile/",
        {"action": "resync_to_amocrm", "_selected_action": [failed.profile_id]},
        follow=True,
    )

    assert enqueued == []
    assert "ничего не поставлено в очередь" in response.content.decode()


def test_profile_admin_shows_the_sync_state_beside_each_profile(superuser_client, failed):
    listing = superuser_client.get(f"{ADMIN}/accounts/profile/", {"lead_sync__status": "failed"})
    change = superuser_client.get(f"{ADMIN}/accounts/profile/{failed.profile_id}/change/")

    assert failed.profile.user.email in listing.content.decode()
    with translation.override("ru"):
        assert str(LeadSync.Status.FAILED.label) in listing.content.decode()
    page = change.content.decode()
    assert f'href="{BASE}/leads/detail/30000001"' in page
    assert "Request validation failed" in page


def test_sync_rows_cannot_be_added_or_edited_by_hand(superuser_client, failed):
    assert superuser_client.get(f"{ADMIN}/amocrm/leadsync/add/").status_code == HTTPStatus.FORBIDDEN
    response = superuser_client.post(
        f"{ADMIN}/amocrm/leadsync/{failed.pk}/change/", {"status": "synced", "attempts": 0}
    )
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert LeadSync.objects.get(pk=failed.pk).status == LeadSync.Status.FAILED


def test_the_customer_card_shows_the_sync_in_one_section_linking_to_its_record(superuser_client, failed):
    page = superuser_client.get(f"{ADMIN}/accounts/profile/{failed.profile_id}/change/").content.decode()

    section = page[
        page.index(">Синхронизация с amoCRM</h2>") : page.index('<form method="post" id="profile_form"')
    ]
    assert f'href="{ADMIN}/amocrm/leadsync/{failed.pk}/change/"' in section
    assert f'href="{BASE}/leads/detail/30000001"' in section
    assert "Request validation failed" in section


def _rows_with_leads(profiles: list, first_lead: int) -> None:
    for n, profile in enumerate(profiles):
        lead_id = first_lead + n
        LeadSync.objects.filter(profile=profile).update(lead_id=lead_id)
        LeadNote.objects.create(profile=profile, action="skip", text="Пропуск", lead_id=lead_id)
        WebhookEvent.objects.create(lead_id=lead_id, dedupe_key=f"key-{lead_id}", action="update")


@pytest.mark.parametrize("listing", ["leadsync", "leadnote", "webhookevent"])
def test_lead_links_cost_the_same_queries_for_3_rows_as_for_30(
    superuser_client, oauth_token, profile_factory, listing
):
    oauth_token.base_url = "https://renamed.amocrm.ru"  # where the tokens now answer: the links follow
    oauth_token.save()
    url = f"{ADMIN}/amocrm/{listing}/"
    _rows_with_leads([profile_factory() for _ in range(3)], 30000001)
    with CaptureQueriesContext(connection) as few:
        superuser_client.get(url)
    _rows_with_leads([profile_factory() for _ in range(27)], 30000101)

    with CaptureQueriesContext(connection) as many:
        page = superuser_client.get(url).content.decode()

    assert page.count('href="https://renamed.amocrm.ru/leads/detail/') == 30
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]
