import datetime
import threading
from http import HTTPStatus

import pytest
from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache
from django.db import OperationalError, connections
from django.utils import timezone

from amocrm.models import LeadSync
from flower_account.health import check_cache

pytestmark = pytest.mark.django_db


MONITOR_TOKEN = "monitoring-token-for-tests"


@pytest.fixture
def monitor(client, settings):
    """The monitoring system: it presents READYZ_TOKEN and reads every check's details."""
    settings.READYZ_TOKEN = MONITOR_TOKEN
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {MONITOR_TOKEN}"
    return client


@pytest.fixture
def crm_enabled(settings):
    settings.AMOCRM_BASE_URL = "https://flowers.amocrm.test"
    settings.AMOCRM_LONG_LIVED_TOKEN = "long-lived-token-for-tests"


def test_readyz_is_ready_when_database_and_cache_answer_and_crm_is_off(monitor):
    response = monitor.get("/readyz")

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "cache": "ok", "amocrm_sync": "disabled"},
    }


def test_readyz_is_not_ready_when_the_database_fails(monitor, monkeypatch):
    def broken_cursor(self, *args, **kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(type(connections["default"]), "cursor", broken_cursor)

    response = monitor.get("/readyz")

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json()["checks"]["database"] == "unavailable"


def test_readyz_is_not_ready_when_the_cache_fails(monitor, monkeypatch):

    def broken_set(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(cache, "set", broken_set)

    response = monitor.get("/readyz")

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json()["checks"]["cache"] == "unavailable"


def test_readyz_accepts_a_recent_pending_sync(monitor, crm_enabled, customer):
    response = monitor.get("/readyz")

    assert LeadSync.objects.get(profile=customer).status == LeadSync.Status.PENDING
    assert response.status_code == HTTPStatus.OK


def test_readyz_is_not_ready_when_a_sync_waits_longer_than_the_limit(
    monitor, crm_enabled, customer, settings
):
    settings.READYZ_SYNC_MAX_AGE = 600
    LeadSync.objects.filter(profile=customer).update(
        pending_since=timezone.now() - datetime.timedelta(minutes=11)
    )

    response = monitor.get("/readyz")

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json()["checks"]["amocrm_sync"].startswith("oldest pending 66")


def test_readyz_ignores_synced_and_failed_rows(monitor, crm_enabled, customer):
    long_ago = timezone.now() - datetime.timedelta(days=2)
    LeadSync.objects.filter(profile=customer).update(status=LeadSync.Status.FAILED, pending_since=long_ago)

    response = monitor.get("/readyz")

    assert response.status_code == HTTPStatus.OK
    assert response.json()["checks"]["amocrm_sync"] == "ok"


def test_readyz_is_not_ready_when_the_database_refuses_writes(monitor, monkeypatch):
    # A full disk: reads still answer, every write (a signup) fails.
    real_execute = type(connections["default"].cursor()).execute

    def full_disk(self, sql, params=None):
        if sql.lstrip().upper().startswith(("INSERT", "UPDATE")):
            raise OperationalError("database or disk is full")
        return real_execute(self, sql, params)

    monkeypatch.setattr(type(connections["default"].cursor()), "execute", full_disk)

    response = monitor.get("/readyz")

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json()["checks"]["database"] == "not writable"


def test_overlapping_cache_probes_do_not_read_each_others_value(monkeypatch):
    probes = 10
    all_written = threading.Barrier(probes, timeout=5)
    real_get = LocMemCache.get

    def get_after_every_probe_wrote(self, *args, **kwargs):
        all_written.wait()  # every probe has set its value before any reads one back
        return real_get(self, *args, **kwargs)

    # On the class: each thread has its own cache object (django.core.cache.caches is per thread).
    monkeypatch.setattr(LocMemCache, "get", get_after_every_probe_wrote)
    results: list[tuple[bool, str]] = []

    threads = [threading.Thread(target=lambda: results.append(check_cache())) for _ in range(probes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert results == [(True, "ok")] * probes


def test_a_stranger_gets_only_the_status_and_the_failing_check_names(client, monkeypatch):
    monkeypatch.setattr(cache, "set", lambda *args, **kwargs: (_ for _ in ()).throw(ConnectionError("down")))

    response = client.get("/readyz")

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json() == {"status": "error", "failing": ["cache"]}


def test_a_stranger_does_not_see_warnings_about_the_amocrm_account(client, settings):
    from amocrm.exceptions import AmoCRMPaymentRequired
    from amocrm.services.breaker import DatabaseBreaker

    settings.AMOCRM_LONG_LIVED_TOKEN = "x"
    DatabaseBreaker().failed(AmoCRMPaymentRequired("the paid plan has lapsed", status=402))

    response = client.get("/readyz")

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"status": "ok"}


def test_staff_see_every_check_and_the_warnings(admin_client, settings):
    from amocrm.exceptions import AmoCRMPaymentRequired
    from amocrm.services.breaker import DatabaseBreaker

    settings.AMOCRM_LONG_LIVED_TOKEN = "x"
    DatabaseBreaker().failed(AmoCRMPaymentRequired("the paid plan has lapsed", status=402))

    body = admin_client.get("/readyz").json()

    assert body["checks"]["database"] == "ok"
    assert "payment" in body["warnings"]["amocrm_breaker"]


def test_a_customer_is_a_stranger_to_readyz(customer_client):
    assert customer_client.get("/readyz").json() == {"status": "ok"}


def test_a_wrong_token_gets_no_details(client, settings):
    settings.READYZ_TOKEN = MONITOR_TOKEN

    response = client.get("/readyz", HTTP_AUTHORIZATION="Bearer not-the-token")

    assert response.json() == {"status": "ok"}


def test_no_token_configured_means_no_bearer_gets_details(client, settings):
    settings.READYZ_TOKEN = ""

    assert client.get("/readyz", HTTP_AUTHORIZATION="Bearer ").json() == {"status": "ok"}
