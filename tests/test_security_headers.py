from http import HTTPStatus

from django.urls import reverse


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
