from http import HTTPStatus

import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse, reverse_lazy
from django.views.decorators.cache import cache_control

from flower_account.middleware import PrivatePagesMiddleware


def test_pages_send_a_strict_content_security_policy(client, db):
    response = client.get(reverse("account_login"))
    assert response.status_code == HTTPStatus.OK
    csp = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";") if part.strip())
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in csp


def test_pages_send_clickjacking_sniffing_and_referrer_headers(client, db):
    response = client.get(reverse("account_login"))
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_session_and_csrf_cookies_are_httponly_and_samesite(client, customer, password):
    response = client.post(reverse("account_login"), {"login": customer.user.email, "password": password})
    assert response.status_code == HTTPStatus.FOUND
    session_cookie = response.cookies["sessionid"]
    assert session_cookie["httponly"]
    assert session_cookie["samesite"] == "Lax"


def test_https_site_turns_on_secure_cookies_redirect_and_hsts(client, db, settings):
    # The values settings.py derives for an https SITE_URL with DEBUG off.
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    response = client.get("/healthz", secure=False)
    assert response.status_code == HTTPStatus.MOVED_PERMANENTLY
    assert response["Location"].startswith("https://")
    secure_response = client.get("/healthz", secure=True)
    assert secure_response["Strict-Transport-Security"].startswith("max-age=31536000")


@pytest.mark.parametrize(
    "url",
    [
        reverse_lazy("accounts:dashboard"),
        reverse_lazy("accounts:preferences"),
        reverse_lazy("account_change_password"),
        reverse_lazy("home"),
        reverse_lazy("account_login"),  # a logged-in visitor gets a redirect: not cached either
    ],
)
def test_pages_for_a_logged_in_customer_are_never_stored(customer_client, url):
    response = customer_client.get(url)

    directives = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"private", "no-store"} <= directives


def test_admin_pages_for_staff_are_never_stored(superuser_client):
    response = superuser_client.get(reverse("admin:accounts_profile_changelist"))

    assert response.status_code == HTTPStatus.OK
    directives = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"private", "no-store"} <= directives


def test_a_view_that_sets_its_own_cache_control_keeps_it(customer):
    # A view's own choice, even a public one, is not made private: the middleware adds nothing.
    request = RequestFactory().get("/")
    request.user = customer.user
    chosen = cache_control(public=True, max_age=60)(lambda request: HttpResponse("ok"))

    response = PrivatePagesMiddleware(chosen)(request)

    assert response["Cache-Control"] == "public, max-age=60"


def test_anonymous_pages_are_left_to_the_views(client, db):
    response = client.get(reverse("home"))

    assert response.status_code == HTTPStatus.OK
    assert "Cache-Control" not in response


def test_pages_deny_browser_features_the_site_does_not_use(client, db):
    response = client.get(reverse("account_login"))

    policy = dict(part.strip().split("=", 1) for part in response["Permissions-Policy"].split(","))
    for feature in ["camera", "microphone", "geolocation", "payment", "usb", "browsing-topics"]:
        assert policy[feature] == "()"
