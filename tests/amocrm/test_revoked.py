"""An uninstalled integration (issue 24 item 13): amoCRM revokes every token, and a refresh is
answered 401 "Token has been revoked" (docs/amocrm-api.md §3). The connection is then marked revoked:
nothing is sent until staff reconnect, queued changes wait (not failed), the control room says to
reconnect, and a reconnect sends what waited."""

import datetime
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.urls import reverse
from django.utils import timezone

from amocrm.exceptions import AmoCRMRevoked
from amocrm.models import LeadSync, OAuthToken
from amocrm.services import connection, lead_sync
from tests.amocrm.conftest import BASE, REFRESH, TOKEN_URL, token_answer

# What amoCRM answers a revoked refresh token (amocrm-api-php issues 123 and 315).
REVOKED_ANSWER = {
    "hint": "Token has been revoked",
    "title": "Некорректный запрос",
    "type": "https://developers.amocrm.ru/v3/errors/OAuthProblemJson",
    "status": 401,
    "detail": "В запросе отсутствует ряд параметров или параметры невалидны",
}


@pytest.fixture
def revoked_refresh():
    """amoCRM after an uninstall: the token endpoint refuses the refresh token."""
    responses.post(TOKEN_URL, status=401, json=REVOKED_ANSWER)


def waiting(profile_factory, count: int = 2) -> list[int]:
    """Customers whose changes wait to be sent."""
    ids = [profile_factory().pk for _ in range(count)]
    assert set(LeadSync.objects.filter(profile_id__in=ids).values_list("status", flat=True)) == {"pending"}
    return ids


@responses.activate
def test_a_refresh_answered_revoked_marks_the_connection_revoked(oauth_token, revoked_refresh):
    with pytest.raises(AmoCRMRevoked) as raised:
        connection.token_refresh(force=True)

    assert raised.value.transient
    token = OAuthToken.objects.get()
    assert token.is_revoked and token.refresh_token == REFRESH


@responses.activate
def test_a_revoked_connection_sends_nothing_not_even_a_refresh(oauth_token, revoked_refresh, crm):
    with pytest.raises(AmoCRMRevoked):
        connection.token_refresh(force=True)
    sent = len(responses.calls)

    with pytest.raises(AmoCRMRevoked):
        connection.token_refresh(force=True)
    with pytest.raises(AmoCRMRevoked):
        connection.client_get(max_retries=0).lead_get(7)

    assert len(responses.calls) == sent == 1


@responses.activate
def test_waiting_changes_wait_untouched_after_an_uninstall(
    expiring_token, revoked_refresh, crm, profile_factory
):
    ids = waiting(profile_factory)
    before = timezone.now()

    report = lead_sync.lead_sync_profiles(profile_ids=ids)
    again = lead_sync.lead_sync_profiles(profile_ids=ids)

    assert len(responses.calls) == 1  # the one refresh that found out; then nothing
    assert report.failed == [] and again.failed == []
    for row in LeadSync.objects.filter(profile_id__in=ids):
        assert (row.status, row.attempts) == (LeadSync.Status.PENDING, 0)
        assert row.next_attempt_at >= before + datetime.timedelta(minutes=59)
        assert "reconnect" in row.last_error


@responses.activate
def test_the_control_room_says_to_reconnect(superuser_client, oauth_token, revoked_refresh):
    with pytest.raises(AmoCRMRevoked):
        connection.token_refresh(force=True)

    page = superuser_client.get(reverse("admin:index")).content.decode()

    assert 'data-figure="revoked"' in page
    assert reverse("amocrm:oauth_start") in page


@responses.activate
def test_reconnecting_clears_the_revocation_and_sends_what_waited(
    superuser_client, expiring_token, revoked_refresh, crm, profile_factory, enqueued
):
    ids = waiting(profile_factory)
    lead_sync.lead_sync_profiles(profile_ids=ids)
    assert OAuthToken.objects.get().is_revoked
    start = superuser_client.get(reverse("amocrm:oauth_start"))
    state = parse_qs(urlsplit(start["Location"]).query)["state"][0]
    responses.replace(responses.POST, TOKEN_URL, json=token_answer())
    responses.get(f"{BASE}/api/v4/account", json={"id": 31000001, "subdomain": "flowers"})

    response = superuser_client.get(reverse("amocrm:oauth_callback"), {"code": "def502", "state": state})

    assert response.status_code == HTTPStatus.OK
    assert not OAuthToken.objects.get().is_revoked
    assert [(r.task.name, r.kwargs["profile_ids"]) for r in enqueued] == [("sync_profiles", sorted(ids))]
    assert all(row.next_attempt_at <= timezone.now() for row in LeadSync.objects.filter(profile_id__in=ids))
