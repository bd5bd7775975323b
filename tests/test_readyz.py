import datetime
from http import HTTPStatus

import pytest
from django.db import OperationalError, connections
from django.utils import timezone

from amocrm.models import LeadSync

pytestmark = pytest.mark.django_db


@pytest.fixture
def crm_enabled(settings):
    settings.AMOCRM_BASE_URL = "https://flowers.amocrm.test"
    settings.AMOCRM_LONG_LIVED_TOKEN = "long-lived-token-for-tests"


def test_readyz_is_ready_when_database_and_cache_answer_and_crm_is_off(client):
    response = client.get("/readyz")

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "cache": "ok", "amocrm_sync": "disabled"},
    }


def test_readyz_is_not_ready_when_the_database_fails(client, monkeypatch):
    def broken_cursor(self, *args, **kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(type(connections["default"]), "cursor", broken_cursor)

    response = client.get("/readyz")

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json()["checks"]["database"] == "unavailable"


def test_readyz_is_not_ready_when_the_cache_fails(client, monkeypatch):
    from django.core.cache import cache

    def broken_set(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(cache, "set", broken_set)

    response = client.get("/readyz")

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json()["checks"]["cache"] == "unavailable"


def test_readyz_accepts_a_recent_pending_sync(client, crm_enabled, customer):
    response = client.get("/readyz")

    assert LeadSync.objects.get(profile=customer).status == LeadSync.Status.PENDING
    assert response.status_code == HTTPStatus.OK


def test_readyz_is_not_ready_when_a_sync_waits_longer_than_the_limit(client, crm_enabled, customer, settings):
    settings.READYZ_SYNC_MAX_AGE = 600
    LeadSync.objects.filter(profile=customer).update(
        pending_since=timezone.now() - datetime.timedelta(minutes=11)
    )

    response = client.get("/readyz")

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json()["checks"]["amocrm_sync"].startswith("oldest pending 66")


def test_readyz_ignores_synced_and_failed_rows(client, crm_enabled, customer):
    long_ago = timezone.now() - datetime.timedelta(days=2)
    LeadSync.objects.filter(profile=customer).update(status=LeadSync.Status.FAILED, pending_since=long_ago)

    response = client.get("/readyz")

    assert response.status_code == HTTPStatus.OK
    assert response.json()["checks"]["amocrm_sync"] == "ok"
