"""Tokens and the client secret only ever go to amoCRM (issue 24 items 1, 2 and 14): hosts from
amoCRM's answers are parsed as host names, never pasted into URLs, and redirects are never followed."""

import json
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.contrib.auth.models import Permission
from django.urls import reverse

from amocrm.exceptions import AmoCRMAuthError, AmoCRMRedirected
from amocrm.hosts import amocrm_host
from amocrm.models import AmoCRMAccount, OAuthToken
from amocrm.services import connection
from amocrm.views import STATE_SESSION_KEY
from tests.amocrm.conftest import BASE, CLIENT_SECRET, REFRESH, TOKEN_URL, request_json, token_answer
from tests.amocrm.helpers import jwt

TRICKS = [
    "evil.example/.amocrm.ru",
    "evil.example?.amocrm.ru",
    "evil.example#.amocrm.ru",
    "evil.example@x.amocrm.ru",
    "evil.amocrm.ru.evil.example",
    "xamocrm.ru",
    "evil.example:443",
    "evil.example\\.amocrm.ru",
]
SUBDOMAIN_LOOKUP = "https://api-a.amocrm.ru/oauth2/account/current/subdomain"


def hosts_called() -> set[str]:
    return {urlsplit(call.request.url).hostname for call in responses.calls}


@pytest.fixture
def token_with_api_domain(oauth_token):
    def make(api_domain: str) -> OAuthToken:
        oauth_token.set_tokens(
            access_token=jwt({"api_domain": api_domain}), refresh_token=REFRESH, expires_in=60
        )
        oauth_token.save()
        return oauth_token

    return make


@pytest.mark.parametrize("value", TRICKS)
def test_a_host_that_only_ends_in_an_amocrm_domain_as_text_is_not_amocrm(value):
    assert amocrm_host(value) is None


@pytest.mark.parametrize(
    ("value", "host"),
    [
        ("flowers.amocrm.ru", "flowers.amocrm.ru"),
        (" Roses.AmoCRM.com ", "roses.amocrm.com"),
        ("shop.kommo.com", "shop.kommo.com"),
        ("цветы.amocrm.ru", "xn--b1ag3bn2a.amocrm.ru"),
    ],
)
def test_an_account_host_is_read_lower_case_and_in_punycode(value, host):
    assert amocrm_host(value) == host


@pytest.mark.parametrize("api_domain", TRICKS)
@responses.activate
def test_a_poisoned_api_domain_is_never_asked_or_sent_the_refresh_token(token_with_api_domain, api_domain):
    token_with_api_domain(api_domain)
    responses.post(TOKEN_URL, status=401, json={"title": "Unauthorized", "status": 401})

    with pytest.raises(AmoCRMAuthError):
        connection.token_refresh(force=True)

    assert hosts_called() == {"flowers.amocrm.ru"}
    assert OAuthToken.objects.get().base_url == BASE


@pytest.mark.parametrize("domain", TRICKS)
@responses.activate
def test_a_poisoned_subdomain_answer_changes_nothing_and_a_reconnect_stays_with_amocrm(
    token_with_api_domain, domain
):
    token_with_api_domain("api-a.amocrm.ru")
    refused = responses.post(TOKEN_URL, status=401, json={"title": "Unauthorized", "status": 401})
    responses.get(SUBDOMAIN_LOOKUP, json={"id": 31000001, "subdomain": "evil", "domain": domain})

    with pytest.raises(AmoCRMAuthError):
        connection.token_refresh(force=True)

    assert hosts_called() == {"flowers.amocrm.ru", "api-a.amocrm.ru"}
    assert OAuthToken.objects.get().base_url == BASE
    assert connection.api_base_url() == BASE

    refused.status, refused.body = 200, json.dumps(token_answer())
    responses.get(f"{BASE}/api/v4/account", json={"id": 31000001, "subdomain": "flowers"})
    connection.oauth_connect(code="def502")

    assert hosts_called() == {"flowers.amocrm.ru", "api-a.amocrm.ru"}
    assert OAuthToken.objects.get().base_url == BASE


@responses.activate
def test_a_foreign_host_stored_before_hosts_were_parsed_is_never_called(oauth_token):
    OAuthToken.objects.filter(pk=oauth_token.pk).update(base_url="https://evil.example/.amocrm.ru")
    responses.post(TOKEN_URL, json=token_answer())
    responses.get(f"{BASE}/api/v4/account", json={"id": 31000001, "subdomain": "flowers"})

    assert connection.api_base_url() == BASE
    connection.oauth_connect(code="def502")

    assert hosts_called() == {"flowers.amocrm.ru"}
    assert OAuthToken.objects.get().base_url == BASE


# -- the OAuth callback's referer --------------------------------------------------------------------


@pytest.fixture
def connector_client(client, user_factory):
    user = user_factory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="connect_amocrm"))
    client.force_login(user)
    return client


def start(client) -> str:
    response = client.get(reverse("amocrm:oauth_start"))
    assert response.status_code == HTTPStatus.FOUND
    return parse_qs(urlsplit(response["Location"]).query)["state"][0]


@pytest.mark.parametrize("referer", TRICKS)
@responses.activate
def test_a_callback_naming_a_foreign_host_sends_the_code_nowhere(connector_client, referer):
    state = start(connector_client)

    response = connector_client.get(
        reverse("amocrm:oauth_callback"), {"code": "def502", "state": state, "referer": referer}
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert len(responses.calls) == 0
    assert not OAuthToken.objects.exists()


@responses.activate
def test_after_a_subdomain_rename_staff_reconnect_at_the_accounts_current_host(connector_client, oauth_token):
    OAuthToken.objects.filter(pk=oauth_token.pk).update(base_url="https://roses.amocrm.ru")
    exchange = responses.post("https://roses.amocrm.ru/oauth2/access_token", json=token_answer())
    responses.get("https://roses.amocrm.ru/api/v4/account", json={"id": 31000001, "subdomain": "roses"})
    state = start(connector_client)

    response = connector_client.get(
        reverse("amocrm:oauth_callback"), {"code": "def502", "state": state, "referer": "roses.amocrm.ru"}
    )

    assert response.status_code == HTTPStatus.OK
    assert request_json(exchange.calls[0])["client_secret"] == CLIENT_SECRET
    assert OAuthToken.objects.get().base_url == "https://roses.amocrm.ru"
    assert STATE_SESSION_KEY not in connector_client.session


@responses.activate
def test_a_renamed_account_read_from_amocrm_is_accepted_even_without_a_token(connector_client):
    AmoCRMAccount.objects.create(account_id=31000001, subdomain="roses", checked_at="2026-12-01T00:00:00Z")
    exchange = responses.post("https://roses.amocrm.ru/oauth2/access_token", json=token_answer())
    responses.get("https://roses.amocrm.ru/api/v4/account", json={"id": 31000001, "subdomain": "roses"})
    state = start(connector_client)

    response = connector_client.get(
        reverse("amocrm:oauth_callback"), {"code": "def502", "state": state, "referer": "roses.amocrm.ru"}
    )

    assert response.status_code == HTTPStatus.OK
    assert len(exchange.calls) == 1
    assert OAuthToken.objects.get().base_url == "https://roses.amocrm.ru"


# -- redirects are never followed --------------------------------------------------------------------

EVIL_TOKEN_URL = "https://evil.example/oauth2/access_token"


@responses.activate
def test_a_redirected_refresh_sends_nothing_to_the_other_host_and_stores_nothing(oauth_token):
    responses.post(TOKEN_URL, status=307, headers={"Location": EVIL_TOKEN_URL})
    evil = responses.post(EVIL_TOKEN_URL, json=token_answer())

    with pytest.raises(AmoCRMRedirected) as raised:
        connection.token_refresh(force=True)

    assert not raised.value.transient and raised.value.status == 307
    assert len(evil.calls) == 0
    assert hosts_called() == {"flowers.amocrm.ru"}
    assert OAuthToken.objects.get().refresh_token == REFRESH


@responses.activate
def test_a_redirected_code_exchange_stores_no_token(db):
    responses.post(TOKEN_URL, status=307, headers={"Location": EVIL_TOKEN_URL})
    evil = responses.post(EVIL_TOKEN_URL, json=token_answer())

    with pytest.raises(AmoCRMRedirected):
        connection.oauth_connect(code="def502")

    assert len(evil.calls) == 0
    assert not OAuthToken.objects.exists()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@responses.activate
def test_a_redirected_api_call_is_a_permanent_error_and_never_followed(amo, oauth_token, status):
    responses.get(f"{BASE}/api/v4/leads/7", status=status, headers={"Location": "https://evil.example/x"})
    evil = responses.get("https://evil.example/x", json={"id": 7})

    with pytest.raises(AmoCRMRedirected):
        amo.lead_get(7)

    assert len(evil.calls) == 0
    assert len(responses.calls) == 1  # not retried either
