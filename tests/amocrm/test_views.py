from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.contrib.auth.models import Permission
from django.urls import reverse

from amocrm.models import OAuthToken
from amocrm.views import STATE_SESSION_KEY
from tests.amocrm.conftest import NEW_ACCESS, NEW_REFRESH, TOKEN_URL, request_json, token_answer


@pytest.fixture
def staff_client(client, user_factory):
    """Staff who may connect amoCRM (the dedicated permission; superusers have it too)."""
    user = user_factory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="connect_amocrm"))
    client.force_login(user)
    return client


def start(staff_client) -> str:
    response = staff_client.get(reverse("amocrm:oauth_start"))
    assert response.status_code == HTTPStatus.FOUND
    return parse_qs(urlsplit(response["Location"]).query)["state"][0]


def test_start_sends_staff_to_amocrm_with_a_state_bound_to_the_session(staff_client):
    response = staff_client.get(reverse("amocrm:oauth_start"))

    location = urlsplit(response["Location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == "https://www.amocrm.ru/oauth"
    assert query["client_id"] == ["client-id-42"]
    assert query["mode"] == ["post_message"]
    assert len(query["state"][0]) >= 32
    assert staff_client.session[STATE_SESSION_KEY] == query["state"][0]


@pytest.mark.parametrize("url_name", ["amocrm:oauth_start", "amocrm:oauth_callback"])
def test_oauth_pages_are_for_staff_only(customer_client, url_name):
    response = customer_client.get(reverse(url_name), {"state": "x", "code": "y"})

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(reverse("admin:login"))
    assert STATE_SESSION_KEY not in customer_client.session


@pytest.mark.parametrize("url_name", ["amocrm:oauth_start", "amocrm:oauth_callback"])
def test_staff_without_the_connect_permission_may_not_connect(client, user_factory, url_name):
    client.force_login(user_factory(is_staff=True))

    response = client.get(reverse(url_name), {"state": "x", "code": "y"})

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert not OAuthToken.objects.exists()


def test_a_superuser_may_connect(client, user_factory):
    client.force_login(user_factory(is_staff=True, is_superuser=True))

    response = client.get(reverse("amocrm:oauth_start"))

    assert response.status_code == HTTPStatus.FOUND
    assert STATE_SESSION_KEY in client.session


@responses.activate
def test_callback_with_the_right_state_stores_tokens_and_shows_success(staff_client):
    state = start(staff_client)
    responses.post(TOKEN_URL, json=token_answer())

    response = staff_client.get(
        reverse("amocrm:oauth_callback"),
        {"code": "def502", "state": state, "referer": "flowers.amocrm.ru", "client_id": "client-id-42"},
    )

    assert response.status_code == HTTPStatus.OK
    assert "amocrm/oauth_result.html" in [t.name for t in response.templates]
    assert response.context["ok"] is True
    assert request_json(responses.calls[0])["code"] == "def502"
    token = OAuthToken.objects.get()
    assert token.access_token == NEW_ACCESS
    html = response.content.decode()
    assert "https://flowers.amocrm.ru" in html
    assert NEW_ACCESS not in html and NEW_REFRESH not in html
    assert STATE_SESSION_KEY not in staff_client.session  # single use


@responses.activate
def test_callback_with_a_wrong_state_shows_an_error_and_stores_nothing(staff_client):
    start(staff_client)

    response = staff_client.get(reverse("amocrm:oauth_callback"), {"code": "def502", "state": "forged"})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.context["ok"] is False
    assert len(responses.calls) == 0
    assert not OAuthToken.objects.exists()


@responses.activate
def test_callback_without_a_started_connection_is_refused(staff_client):
    response = staff_client.get(reverse("amocrm:oauth_callback"), {"code": "def502", "state": "anything"})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert len(responses.calls) == 0


@responses.activate
def test_callback_for_another_amocrm_account_is_refused(staff_client):
    state = start(staff_client)

    response = staff_client.get(
        reverse("amocrm:oauth_callback"), {"code": "def502", "state": state, "referer": "other.amocrm.ru"}
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "other.amocrm.ru" in response.content.decode()
    assert len(responses.calls) == 0


@responses.activate
def test_callback_shows_amocrm_refusing_the_code(staff_client):
    state = start(staff_client)
    responses.post(
        TOKEN_URL, status=400, json={"title": "Bad Request", "hint": "Authorization code has expired"}
    )

    response = staff_client.get(reverse("amocrm:oauth_callback"), {"code": "old", "state": state})

    assert response.status_code == HTTPStatus.BAD_GATEWAY
    assert "Authorization code has expired" in response.content.decode()
    assert not OAuthToken.objects.exists()


def test_start_without_oauth_settings_explains_what_is_missing(staff_client, settings):
    settings.AMOCRM_CLIENT_ID = ""

    response = staff_client.get(reverse("amocrm:oauth_start"))

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert "AMOCRM_CLIENT_ID" in response.content.decode()
