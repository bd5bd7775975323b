"""The admin index as the staff's control room: the amoCRM figures, each computed from a known state,
and the connect button (there and on the OAuth tokens page)."""

import datetime
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import formats, timezone

from amocrm.exceptions import AmoCRMForbidden
from amocrm.models import AmoCRMAccount, HealthCheck, LeadSync, ReconcileCursor, WebhookEvent
from amocrm.services.breaker import DatabaseBreaker
from tests.admin_pages import figures, links

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(db) -> AmoCRMAccount:
    return AmoCRMAccount.objects.create(
        account_id=29000001, subdomain="flowers", name="Цветочная подписка", checked_at=timezone.now()
    )


def _local(value: datetime.datetime) -> str:
    return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")  # "4 декабря 2026, 14:05"


def test_connected_account_shows_its_name_subdomain_token_expiry_and_reconnect(
    superuser_client, oauth_token, account
):
    shown = figures(superuser_client)

    assert shown["connection"] == "Цветочная подписка (flowers) Переподключить"
    assert shown["token"].startswith(f"действует до {_local(oauth_token.expires_at)}")
    assert links(superuser_client)["connection"] == [
        reverse("admin:amocrm_amocrmaccount_changelist"),
        reverse("amocrm:oauth_start"),
    ]


def test_an_expired_token_says_so(superuser_client, oauth_token, account):
    oauth_token.expires_at = timezone.now() - datetime.timedelta(hours=1)
    oauth_token.save()

    assert figures(superuser_client)["token"].startswith(f"истёк {_local(oauth_token.expires_at)}")


def test_connected_before_the_account_was_read_says_connected(superuser_client, oauth_token):
    assert figures(superuser_client)["connection"] == (
        "подключено (данные аккаунта появятся при следующем обновлении токена) Переподключить"
    )


def test_not_connected_shows_the_connect_button_that_starts_oauth(superuser_client):
    shown = figures(superuser_client)

    assert shown["connection"] == "не подключено Подключить amoCRM"
    start = links(superuser_client)["connection"]
    assert start == [reverse("amocrm:oauth_start")]
    response = superuser_client.get(start[0])
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith("https://www.amocrm.ru/oauth?")


def test_without_credentials_the_index_says_the_integration_is_off_and_offers_no_button(
    superuser_client, settings
):
    settings.AMOCRM_BASE_URL = settings.AMOCRM_CLIENT_ID = settings.AMOCRM_CLIENT_SECRET = ""

    shown = figures(superuser_client)

    assert shown["connection"].startswith("Интеграция выключена Чтобы включить её, задайте AMOCRM_BASE_URL")
    assert "token" not in shown and "breaker" not in shown  # nothing to say about a connection
    assert links(superuser_client)["connection"] == []
    assert shown["pending"] == "0"


def test_a_long_lived_token_needs_no_connect_button(superuser_client, settings, account):
    settings.AMOCRM_LONG_LIVED_TOKEN = "long-lived"

    shown = figures(superuser_client)

    assert shown["connection"] == "Цветочная подписка (flowers)"
    assert shown["token"] == "долгосрочный токен из настроек"


def test_a_blocked_account_shows_since_when_and_why(superuser_client, oauth_token, account):
    DatabaseBreaker().failed(AmoCRMForbidden("amoCRM blocked the account", status=403))
    since = _local(timezone.now())

    shown = figures(superuser_client)

    assert shown["breaker"].startswith(f"остановлены с {since}: amoCRM заблокировал")
    assert links(superuser_client)["breaker"] == [reverse("admin:amocrm_circuitbreaker_changelist")]


def test_calls_made_as_usual_while_the_breaker_is_closed(superuser_client, oauth_token):
    assert figures(superuser_client)["breaker"] == "идут как обычно"
    assert links(superuser_client)["breaker"] == []  # its list would be empty: nothing to open


def test_reconcile_shows_the_last_run_and_the_drifts_it_repaired(superuser_client, oauth_token):
    finished = timezone.now() - datetime.timedelta(minutes=3)
    ReconcileCursor.objects.create(entity="leads", last_finished_at=finished, last_drifts=2)
    ReconcileCursor.objects.create(
        entity="contacts", last_finished_at=finished - datetime.timedelta(minutes=5), last_drifts=1
    )

    assert figures(superuser_client)["reconcile"] == f"{_local(finished)}, исправлено 3 расхождения"


def test_reconcile_that_never_ran_says_so(superuser_client, oauth_token):
    assert figures(superuser_client)["reconcile"] == "ещё не запускалась"
    assert links(superuser_client)["reconcile"] == []  # its list would be empty: nothing to open


def _event(key: str, *, status: str, hours_ago: float) -> WebhookEvent:
    event = WebhookEvent.objects.create(dedupe_key=key, action="update", lead_id=1, status=status)
    received = timezone.now() - datetime.timedelta(hours=hours_ago)
    WebhookEvent.objects.filter(pk=event.pk).update(received_at=received)
    return event


def test_webhooks_show_the_last_received_and_the_failures_of_the_last_24_hours(superuser_client, oauth_token):
    _event("a", status=WebhookEvent.Status.FAILED, hours_ago=30)  # too old to count
    _event("b", status=WebhookEvent.Status.FAILED, hours_ago=2)
    _event("c", status=WebhookEvent.Status.FAILED, hours_ago=1)
    _event("d", status=WebhookEvent.Status.PROCESSED, hours_ago=0.5)
    last = WebhookEvent.objects.get(dedupe_key="d").received_at

    shown = figures(superuser_client)

    assert shown["last_webhook"] == _local(last)
    assert shown["webhooks_failed"] == "2"
    failed_list = links(superuser_client)["webhooks_failed"][0]
    page = superuser_client.get(failed_list).content.decode()
    assert page.count('class="action-select"') == 2  # the list the figure links to counts the same


def test_no_webhook_yet(superuser_client, oauth_token):
    assert figures(superuser_client)["last_webhook"] == "ещё не приходили"


def test_the_backlog_counts_pending_and_failed_changes_and_the_oldest_wait(
    superuser_client, oauth_token, profile_factory
):
    waiting, failed, synced = profile_factory(), profile_factory(), profile_factory()
    LeadSync.objects.filter(profile=waiting).update(
        status=LeadSync.Status.PENDING, pending_since=timezone.now() - datetime.timedelta(hours=2, minutes=5)
    )
    LeadSync.objects.filter(profile=failed).update(status=LeadSync.Status.FAILED, last_error="refused")
    LeadSync.objects.filter(profile=synced).update(status=LeadSync.Status.SYNCED, lead_id=7)

    shown = figures(superuser_client)

    assert shown["pending"] == "1 самое давнее ждёт 2 часа, 5 минут"
    assert shown["failed"] == "1"
    assert links(superuser_client)["failed"] == [
        reverse("admin:amocrm_leadsync_changelist") + "?status__exact=failed"
    ]


def test_the_oauth_tokens_page_has_the_connect_button(superuser_client):
    page = superuser_client.get(reverse("admin:amocrm_oauthtoken_changelist")).content.decode()

    assert f'href="{reverse("amocrm:oauth_start")}">Подключить amoCRM<' in page


def test_with_a_long_lived_token_neither_page_offers_to_connect(superuser_client, settings):
    settings.AMOCRM_LONG_LIVED_TOKEN = "long-lived-SECRET"

    tokens = superuser_client.get(reverse("admin:amocrm_oauthtoken_changelist")).content.decode()
    index = superuser_client.get(reverse("admin:index")).content.decode()

    assert reverse("amocrm:oauth_start") not in tokens and reverse("amocrm:oauth_start") not in index


def test_the_oauth_tokens_page_offers_reconnect_once_connected(superuser_client, oauth_token):
    page = superuser_client.get(reverse("admin:amocrm_oauthtoken_changelist")).content.decode()

    assert f'href="{reverse("amocrm:oauth_start")}">Переподключить<' in page


def test_the_index_renders_in_a_bounded_number_of_queries(
    superuser_client, oauth_token, account, profile_factory, django_assert_max_num_queries
):
    for _ in range(5):
        profile_factory(first_delivery_date=timezone.localdate())
    DatabaseBreaker().failed(AmoCRMForbidden("amoCRM blocked the account", status=403))
    ReconcileCursor.objects.create(entity="leads", last_finished_at=timezone.now(), last_drifts=2)
    _event("a", status=WebhookEvent.Status.FAILED, hours_ago=1)

    with django_assert_max_num_queries(13):  # 12, and the last amocrm_check
        response = superuser_client.get(reverse("admin:index"))

    assert response.status_code == HTTPStatus.OK


def _checked(**fields) -> HealthCheck:
    return HealthCheck.objects.create(name="amocrm", checked_at=timezone.now(), **fields)


def test_the_last_check_that_found_all_well_says_so(superuser_client, oauth_token):
    check = _checked(is_healthy=True, requests=4)

    assert figures(superuser_client)["check"] == f"{_local(check.checked_at)}: всё в порядке"


def test_the_last_check_lists_what_staff_must_fix_and_what_it_repaired(superuser_client, oauth_token):
    check = _checked(
        is_healthy=False,
        problems=["AMOCRM_STATUS_ID=60000001 is «Неразобранное», the unsorted stage"],
        repairs=["The webhook was switched off by amoCRM: subscribed it again."],
    )

    shown = figures(superuser_client)["check"]

    assert shown.startswith(
        f"{_local(check.checked_at)}: нужно исправить AMOCRM_STATUS_ID=60000001 is «Неразобранное»"
    )
    assert shown.endswith("Исправлено: The webhook was switched off by amoCRM: subscribed it again.")


def test_a_check_that_never_ran_says_so(superuser_client, oauth_token):
    assert figures(superuser_client)["check"].startswith("ещё не запускалась")
