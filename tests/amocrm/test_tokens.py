import json
import threading
from http import HTTPStatus
from io import StringIO

import pytest
import responses
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection, connections
from django.urls import reverse

from amocrm.apps import check_token_keys
from amocrm.client import AmoCRMClient, StaticTokenSource
from amocrm.crypto import TokenDecryptionError
from amocrm.exceptions import AmoCRMNotConfigured
from amocrm.models import OAuthToken
from amocrm.ratelimit import NoRateLimiter
from amocrm.services.connection import DatabaseTokenSource, client_get, is_enabled, token_refresh
from tests.amocrm.conftest import (
    ACCESS,
    BASE,
    NEW_ACCESS,
    NEW_REFRESH,
    REFRESH,
    TOKEN_URL,
    token_answer,
)


def raw_columns(pk: int) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT access_token_encrypted, refresh_token_encrypted FROM amocrm_oauthtoken WHERE id = %s",
            [pk],
        )
        return cursor.fetchone()


def test_tokens_are_encrypted_at_rest(oauth_token):
    access_raw, refresh_raw = raw_columns(oauth_token.pk)

    assert ACCESS not in access_raw and REFRESH not in refresh_raw
    assert "SECRET" not in access_raw + refresh_raw
    fresh = OAuthToken.objects.get()
    assert (fresh.access_token, fresh.refresh_token) == (ACCESS, REFRESH)


def test_rotated_keys_still_read_old_tokens_and_rotation_moves_them_to_the_new_key(oauth_token, settings):
    old_key = settings.AMOCRM_TOKEN_KEYS[0]
    new_key = Fernet.generate_key().decode()
    settings.AMOCRM_TOKEN_KEYS = [new_key, old_key]

    assert OAuthToken.objects.get().access_token == ACCESS
    call_command("amocrm_rotate_token_keys", stdout=StringIO())

    settings.AMOCRM_TOKEN_KEYS = [new_key]
    fresh = OAuthToken.objects.get()
    assert (fresh.access_token, fresh.refresh_token) == (ACCESS, REFRESH)
    access_raw, _ = raw_columns(oauth_token.pk)
    assert Fernet(new_key.encode()).decrypt(access_raw.encode()).decode() == ACCESS


def test_a_token_under_an_unknown_key_is_a_clear_error(oauth_token, settings):
    settings.AMOCRM_TOKEN_KEYS = [Fernet.generate_key().decode()]

    with pytest.raises(TokenDecryptionError, match="AMOCRM_TOKEN_KEYS"):
        OAuthToken.objects.get().access_token  # noqa: B018


def test_str_and_repr_never_show_token_values(oauth_token):
    shown = f"{oauth_token} {oauth_token!r}"

    assert BASE in shown
    assert ACCESS not in shown and REFRESH not in shown and "gAAAA" not in shown


def test_admin_pages_show_expiry_and_never_a_token(client, user_factory, oauth_token):
    staff = user_factory(is_staff=True, is_superuser=True)
    client.force_login(staff)

    listing = client.get(reverse("admin:amocrm_oauthtoken_changelist"))
    detail = client.get(reverse("admin:amocrm_oauthtoken_change", args=[oauth_token.pk]))

    assert listing.status_code == detail.status_code == HTTPStatus.OK
    for page in (listing, detail):
        html = page.content.decode()
        assert BASE in html
        assert ACCESS not in html and REFRESH not in html
        assert oauth_token.access_token_encrypted not in html


def test_admin_lists_custom_field_mapping(client, user_factory):
    staff = user_factory(is_staff=True, is_superuser=True)
    client.force_login(staff)

    assert client.get(reverse("admin:amocrm_customfield_changelist")).status_code == HTTPStatus.OK


# -- refresh ---------------------------------------------------------------------------------


@responses.activate
def test_refresh_for_a_token_someone_else_already_replaced_makes_no_call(oauth_token):
    token, refreshed = token_refresh(stale_access_token="an-older-access-token")

    assert refreshed is False and token.access_token == ACCESS
    assert len(responses.calls) == 0


@responses.activate
def test_refresh_of_the_failed_token_stores_the_new_pair(oauth_token):
    responses.post(TOKEN_URL, json=token_answer(expires_in=3600))

    token, refreshed = token_refresh(stale_access_token=ACCESS)

    assert refreshed is True
    fresh = OAuthToken.objects.get()
    assert (fresh.access_token, fresh.refresh_token) == (NEW_ACCESS, NEW_REFRESH)
    assert 3500 < (fresh.expires_at - fresh.last_refreshed_at).total_seconds() <= 3600


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_eight_threads_seeing_a_401_at_once_cause_exactly_one_refresh(oauth_token):
    threads_count = 8
    all_saw_401 = threading.Barrier(threads_count, timeout=10)
    refresh_calls = []
    lock = threading.Lock()

    def lead(request):
        if request.headers["Authorization"] == f"Bearer {ACCESS}":
            all_saw_401.wait()  # every thread holds the old token and is about to refresh
            return (401, {}, "")
        return (200, {}, '{"id": 1}')

    def refresh(request):
        with lock:
            refresh_calls.append(request.body)
        threading.Event().wait(0.2)  # a slow amoCRM: the others pile up on the row lock
        return (200, {}, json.dumps(token_answer()))

    results, errors = [], []

    def worker():
        try:
            amo = AmoCRMClient(
                base_url=BASE, tokens=DatabaseTokenSource(), limiter=NoRateLimiter(), sleep=lambda s: None
            )
            results.append(amo.lead_get(1))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            connections.close_all()

    with responses.RequestsMock() as mock:
        mock.add_callback(responses.GET, f"{BASE}/api/v4/leads/1", callback=lead)
        mock.add_callback(responses.POST, TOKEN_URL, callback=refresh)
        threads = [threading.Thread(target=worker) for _ in range(threads_count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

    assert errors == []
    assert results == [{"id": 1}] * threads_count
    assert len(refresh_calls) == 1
    assert OAuthToken.objects.get().access_token == NEW_ACCESS


# -- enabled or not ------------------------------------------------------------------------------


def test_integration_is_off_without_a_base_url_or_credentials(settings):
    assert is_enabled()
    settings.AMOCRM_BASE_URL = ""
    assert not is_enabled()
    settings.AMOCRM_BASE_URL = BASE
    settings.AMOCRM_CLIENT_SECRET = ""
    assert not is_enabled()
    settings.AMOCRM_LONG_LIVED_TOKEN = "long-lived"
    assert is_enabled()


@responses.activate
def test_a_disabled_integration_reaches_no_crm(settings):
    settings.AMOCRM_BASE_URL = ""

    with pytest.raises(AmoCRMNotConfigured):
        client_get()

    assert len(responses.calls) == 0


def test_a_long_lived_token_setting_wins_over_oauth(settings, db):
    settings.AMOCRM_LONG_LIVED_TOKEN = "long-SECRET"

    amo = client_get()

    assert isinstance(amo.tokens, StaticTokenSource)
    assert amo.tokens.access_token() == "long-SECRET"
    assert "long-SECRET" not in repr(amo) + repr(amo.tokens)


def test_oauth_credentials_without_token_keys_fail_the_system_check(settings):
    settings.AMOCRM_TOKEN_KEYS = []
    settings.DEBUG = False

    assert [e.id for e in check_token_keys()] == ["amocrm.E001"]

    settings.DEBUG = True  # a local run derives a key from SECRET_KEY
    assert check_token_keys() == []
