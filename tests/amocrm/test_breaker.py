"""The circuit breaker: a blocked account (403), a lapsed plan (402) or a run of 5xx stops every call;
queued changes wait untouched; one probe per cooldown decides when calls start again."""

import datetime
from http import HTTPStatus

import pytest
import responses
from django.urls import reverse
from django.utils import timezone

from amocrm.client import AmoCRMClient
from amocrm.exceptions import AmoCRMCircuitOpen, AmoCRMForbidden, AmoCRMPaymentRequired, AmoCRMUnavailable
from amocrm.models import CircuitBreaker, LeadSync
from amocrm.ratelimit import NoRateLimiter
from amocrm.services import lead_sync
from amocrm.services.breaker import DatabaseBreaker, breaker_state
from amocrm.services.connection import DatabaseTokenSource
from tests.amocrm.conftest import BASE

pytestmark = pytest.mark.django_db

LEAD_URL = f"{BASE}/api/v4/leads/1"
NGINX_403 = (
    "<html><head><title>403 Forbidden</title></head>"
    "<body><center><h1>403 Forbidden</h1></center></body></html>"
)


@pytest.fixture(autouse=True)
def breaker_settings(settings):
    settings.AMOCRM_BREAKER_COOLDOWN = 300
    settings.AMOCRM_BREAKER_FAILURES = 3


def guarded_client(**kwargs) -> AmoCRMClient:
    return AmoCRMClient(
        base_url=BASE,
        tokens=DatabaseTokenSource(),
        limiter=NoRateLimiter(),
        breaker=DatabaseBreaker(),
        sleep=lambda s: None,
        **kwargs,
    )


def probe_due() -> None:
    """The cooldown has passed."""
    CircuitBreaker.objects.update(retry_at=timezone.now() - datetime.timedelta(seconds=1))


@responses.activate
def test_a_403_opens_the_breaker_and_nothing_is_called_while_it_is_open(oauth_token):
    responses.get(LEAD_URL, status=403, body=NGINX_403, content_type="text/html")

    with pytest.raises(AmoCRMForbidden):
        guarded_client().lead_get(1)
    with pytest.raises(AmoCRMCircuitOpen) as opened:
        guarded_client().lead_get(1)

    assert len(responses.calls) == 1
    state = breaker_state()
    assert state.is_open and state.reason == CircuitBreaker.Reason.BLOCKED
    # A block is probed less often: twice the cooldown.
    assert opened.value.retry_at - timezone.now() > datetime.timedelta(seconds=590)


@responses.activate
def test_a_402_opens_it_as_a_lapsed_plan(oauth_token):
    responses.get(LEAD_URL, status=402, json={"title": "Payment Required", "status": 402})

    with pytest.raises(AmoCRMPaymentRequired):
        guarded_client().lead_get(1)

    assert breaker_state().reason == CircuitBreaker.Reason.PAYMENT


@responses.activate
def test_failures_in_a_row_open_it_and_cut_the_clients_own_retries_short(oauth_token):
    responses.get(LEAD_URL, status=503)

    with pytest.raises(AmoCRMCircuitOpen):
        guarded_client(max_retries=10).lead_get(1)

    assert len(responses.calls) == 3  # AMOCRM_BREAKER_FAILURES, not 11
    assert breaker_state().reason == CircuitBreaker.Reason.UNAVAILABLE


@responses.activate
def test_an_answer_between_failures_starts_the_count_again(oauth_token):
    responses.get(LEAD_URL, status=503)
    responses.get(f"{BASE}/api/v4/leads/2", json={"id": 2})

    for _ in range(2):
        with pytest.raises(AmoCRMUnavailable):
            guarded_client(max_retries=0).lead_get(1)
        guarded_client().lead_get(2)

    assert not breaker_state().is_open


@responses.activate
def test_after_the_cooldown_exactly_one_probe_decides(oauth_token):
    responses.get(LEAD_URL, status=403, body=NGINX_403, content_type="text/html")
    with pytest.raises(AmoCRMForbidden):
        guarded_client().lead_get(1)
    probe_due()
    prober, other = DatabaseBreaker(), DatabaseBreaker()

    prober.allow()  # takes the probe
    with pytest.raises(AmoCRMCircuitOpen):
        other.allow()  # the probe is in flight: everyone else still waits
    prober.succeeded()

    other.allow()  # closed: calls go through again
    assert not breaker_state().is_open


@responses.activate
def test_a_failed_probe_opens_it_for_another_cooldown(oauth_token):
    responses.get(LEAD_URL, status=403, body=NGINX_403, content_type="text/html")
    with pytest.raises(AmoCRMForbidden):
        guarded_client().lead_get(1)
    probe_due()

    with pytest.raises(AmoCRMForbidden):
        guarded_client().lead_get(1)  # the probe, refused again

    state = breaker_state()
    assert state.is_open and state.retry_at > timezone.now() + datetime.timedelta(seconds=590)
    assert len(responses.calls) == 2


@responses.activate
def test_queued_changes_wait_untouched_while_it_is_open(oauth_token, profile_factory, field_map):
    profile = profile_factory()
    LeadSync.objects.filter(profile=profile).update(status=LeadSync.Status.PENDING, attempts=0)
    responses.patch(f"{BASE}/api/v4/leads", status=403, body=NGINX_403, content_type="text/html")
    responses.get(f"{BASE}/api/v4/contacts", status=403, body=NGINX_403, content_type="text/html")

    first = lead_sync.lead_sync_profiles(profile_ids=[profile.pk], client=guarded_client())
    calls_after_block = len(responses.calls)
    report = lead_sync.lead_sync_profiles(profile_ids=[profile.pk], client=guarded_client())

    assert calls_after_block == 1 and len(responses.calls) == 1  # the second run called nothing
    assert first.failed == report.failed == [] and list(report.retry) == [profile.pk]
    sync = LeadSync.objects.get(profile=profile)
    # Neither the refused call nor the waiting counts as an attempt; it goes when the probe says so.
    assert (sync.status, sync.attempts, sync.claimed_until) == (LeadSync.Status.PENDING, 0, None)
    assert sync.next_attempt_at == breaker_state().retry_at


def test_readyz_warns_of_an_open_breaker_without_failing(admin_client, settings, oauth_token):
    settings.AMOCRM_LONG_LIVED_TOKEN = "x"
    DatabaseBreaker().failed(AmoCRMForbidden("amoCRM blocked the account", status=403))

    response = admin_client.get(reverse("readyz"))

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert body["status"] == "ok"
    assert "blocked" in body["warnings"]["amocrm_breaker"]


def test_the_admin_index_shows_since_when_and_why(admin_client):
    DatabaseBreaker().failed(AmoCRMForbidden("amoCRM blocked the account", status=403))

    page = admin_client.get(reverse("admin:index")).content.decode()

    banner = page[page.index("amocrm-breaker") :]
    assert "(403)" in banner[: banner.index("</ul>")]


def seconds_until_probe() -> float:
    return (breaker_state().retry_at - timezone.now()).total_seconds()


@responses.activate
def test_an_outage_waits_a_short_first_cooldown_that_doubles_on_each_failed_probe(oauth_token, settings):
    settings.AMOCRM_BREAKER_FIRST_COOLDOWN = 10
    settings.AMOCRM_BREAKER_COOLDOWN = 60
    responses.get(LEAD_URL, status=503)
    with pytest.raises(AmoCRMCircuitOpen):
        guarded_client(max_retries=10).lead_get(1)  # three 503s open it
    waits = [seconds_until_probe()]

    for _ in range(4):
        probe_due()
        with pytest.raises(AmoCRMUnavailable):
            guarded_client(max_retries=0).lead_get(1)  # the probe, refused again
        waits.append(seconds_until_probe())

    assert [round(wait) for wait in waits] == [10, 20, 40, 60, 60]


@responses.activate
def test_an_outage_after_recovery_starts_again_from_the_first_cooldown(oauth_token, settings):
    settings.AMOCRM_BREAKER_FIRST_COOLDOWN = 10
    responses.get(LEAD_URL, status=503)
    responses.get(f"{BASE}/api/v4/leads/2", json={"id": 2})
    with pytest.raises(AmoCRMCircuitOpen):
        guarded_client(max_retries=10).lead_get(1)
    probe_due()
    with pytest.raises(AmoCRMUnavailable):
        guarded_client(max_retries=0).lead_get(1)  # a failed probe: 20 s next
    probe_due()
    guarded_client().lead_get(2)  # amoCRM is back: the probe closes it

    with pytest.raises(AmoCRMCircuitOpen):
        guarded_client(max_retries=10).lead_get(1)  # a new outage

    assert round(seconds_until_probe()) == 10
