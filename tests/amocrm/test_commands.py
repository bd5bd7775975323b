import datetime
from io import StringIO

import pytest
import responses
from django.core.management import CommandError, call_command
from django.utils import timezone

from amocrm.models import OAuthToken
from tests.amocrm.conftest import (
    ACCESS,
    BASE,
    NEW_ACCESS,
    NEW_REFRESH,
    REFRESH,
    TOKEN_URL,
    request_json,
    token_answer,
)


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@responses.activate
def test_connect_exchanges_the_code_and_stores_the_tokens(db):
    responses.post(TOKEN_URL, json=token_answer())

    output = run("amocrm_connect", "--code", "def50200abc")

    assert request_json(responses.calls[0]) == {
        "client_id": "client-id-42",
        "client_secret": "client-SECRET-0000",
        "redirect_uri": "https://flowers.example.ru/amocrm/oauth/callback/",
        "grant_type": "authorization_code",
        "code": "def50200abc",
    }
    token = OAuthToken.objects.get()
    assert (token.access_token, token.refresh_token) == (NEW_ACCESS, NEW_REFRESH)
    assert "Connected https://flowers.amocrm.ru" in output
    assert NEW_ACCESS not in output


@responses.activate
def test_connect_again_replaces_the_pair_of_the_same_account(oauth_token):
    responses.post(TOKEN_URL, json=token_answer())

    run("amocrm_connect", "--code", "again")

    assert OAuthToken.objects.get().access_token == NEW_ACCESS


@responses.activate
def test_connect_with_a_used_code_fails_with_a_clear_message(db):
    responses.post(
        TOKEN_URL, status=400, json={"title": "Bad Request", "hint": "Authorization code has been revoked"}
    )

    with pytest.raises(CommandError, match="Authorization code has been revoked"):
        run("amocrm_connect", "--code", "used")

    assert not OAuthToken.objects.exists()


def test_connect_without_oauth_settings_fails(db, settings):
    settings.AMOCRM_CLIENT_SECRET = ""

    with pytest.raises(CommandError, match="AMOCRM_CLIENT_SECRET"):
        run("amocrm_connect", "--code", "x")


@responses.activate
def test_refresh_leaves_a_token_that_is_valid_beyond_the_margin(oauth_token):
    output = run("amocrm_refresh_token", "--margin", "3600")

    assert "Still valid until" in output
    assert [c for c in responses.calls if c.request.url == TOKEN_URL] == []


@responses.activate
def test_refresh_refreshes_a_token_expiring_within_the_margin(oauth_token):
    oauth_token.expires_at = timezone.now() + datetime.timedelta(minutes=30)
    oauth_token.save()
    responses.post(TOKEN_URL, json=token_answer())

    output = run("amocrm_refresh_token")

    assert request_json(responses.calls[0])["refresh_token"] == REFRESH
    assert "Refreshed; the access token now expires at" in output
    assert OAuthToken.objects.get().access_token == NEW_ACCESS


@responses.activate
def test_refresh_force_refreshes_a_valid_token(oauth_token):
    responses.post(TOKEN_URL, json=token_answer())

    run("amocrm_refresh_token", "--force")

    assert len([c for c in responses.calls if c.request.url == TOKEN_URL]) == 1


@responses.activate
def test_refresh_exits_non_zero_when_amocrm_refuses(oauth_token):
    responses.post(TOKEN_URL, status=400, json={"title": "Bad Request", "hint": "Token has been revoked"})

    with pytest.raises(CommandError, match="Token has been revoked.*Reconnect") as excinfo:
        run("amocrm_refresh_token", "--force")

    assert excinfo.value.returncode != 0
    assert REFRESH not in str(excinfo.value) and ACCESS not in str(excinfo.value)
    assert OAuthToken.objects.get().refresh_token == REFRESH


@responses.activate
def test_refresh_exits_non_zero_when_amocrm_is_down(oauth_token):
    responses.post(TOKEN_URL, status=502)

    with pytest.raises(CommandError, match="Could not refresh"):
        run("amocrm_refresh_token", "--force")


def test_refresh_without_a_connection_says_how_to_connect(db):
    with pytest.raises(CommandError, match="amocrm_connect"):
        run("amocrm_refresh_token")


@responses.activate
def test_refresh_with_a_long_lived_token_has_nothing_to_do(db, settings):
    settings.AMOCRM_LONG_LIVED_TOKEN = "long-lived"
    # The hourly run still reads the account's settings once a day.
    responses.get(f"{BASE}/api/v4/account", json={"id": 31000001, "subdomain": "flowers"})

    assert "nothing to refresh" in run("amocrm_refresh_token")
    assert [c.request.path_url for c in responses.calls] == ["/api/v4/account?with=datetime_settings"]
