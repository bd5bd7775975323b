"""Google Tag Manager: opt-in, nonce-allowed snippet; events as a JSON data block, never inline code."""

import json
import re
from http import HTTPStatus

import pytest
from django.urls import reverse

from accounts import analytics
from flower_account.settings import content_security_policy

pytestmark = pytest.mark.django_db

GTM_ID = "GTM-TEST123"


@pytest.fixture
def gtm_on(settings, client):
    """GTM configured and accepted in the cookie notice (GTM loads only after "Принять")."""
    settings.GTM_CONTAINER_ID = GTM_ID
    settings.SECURE_CSP = content_security_policy(gtm=True)
    client.cookies[analytics.CONSENT_COOKIE] = analytics.ACCEPTED


def datalayer_events(response) -> list[dict]:
    match = re.search(
        r'<script id="datalayer-events" type="application/json">(.*?)</script>',
        response.content.decode(),
        re.S,
    )
    return json.loads(match.group(1)) if match else []


def test_without_a_container_id_nothing_of_gtm_is_in_the_page(client, signup_data):
    response = client.post(reverse("account_signup"), signup_data(), follow=True)

    page = response.content.decode()
    assert "googletagmanager" not in page
    assert "dataLayer" not in page
    assert "datalayer" not in page
    assert "nonce" not in page
    csp = response["Content-Security-Policy"]
    assert "googletagmanager" not in csp
    assert "nonce-" not in csp


def test_with_a_container_id_the_snippet_carries_the_csp_nonce(client, gtm_on):
    response = client.get(reverse("account_login"))

    page = response.content.decode()
    nonce = re.search(r'<script nonce="([^"]+)">', page).group(1)
    csp = response["Content-Security-Policy"]
    assert f"'nonce-{nonce}'" in csp
    assert "script-src 'self' 'nonce-" in csp and "https://www.googletagmanager.com" in csp
    assert GTM_ID in page
    assert "'unsafe-inline'" not in csp
    assert '<script src="/static/js/datalayer.js" defer></script>' in page


def test_signup_pushes_a_sign_up_event_once(client, signup_data, gtm_on):
    response = client.post(reverse("account_signup"), signup_data(), follow=True)

    assert datalayer_events(response) == [{"event": "sign_up", "interval": "biweekly"}]
    assert datalayer_events(client.get("/account/")) == []  # pushed once, not on every page


def test_preference_change_skip_and_pause_push_events(customer_client, customer, gtm_on):
    data = {
        "bouquet_category": "romantic",
        "delivery_address": customer.delivery_address,
        "next_delivery_date": customer.next_delivery_on().isoformat(),
        "delivery_interval": "weekly",
        "wishes": "Только тюльпаны",
        "phone": "",
    }
    delivery = customer.deliveries.order_by("delivery_on").first()

    preferences = customer_client.post(reverse("accounts:preferences"), data, follow=True)
    skip = customer_client.post(reverse("accounts:delivery_skip", args=[delivery.pk]), follow=True)
    pause = customer_client.post(reverse("accounts:pause"), {"resume_on": ""}, follow=True)

    assert datalayer_events(preferences) == [{"event": "preferences_update"}]
    assert datalayer_events(skip) == [
        {"event": "delivery_skip", "delivery_on": delivery.delivery_on.isoformat()}
    ]
    assert datalayer_events(pause) == [{"event": "subscription_pause", "resume_on": ""}]


def test_events_are_escaped_json_not_code(client, gtm_on, customer):
    session = client.session
    session["datalayer_events"] = [{"event": "x</script><script>alert(1)</script>"}]
    session.save()
    client.force_login(customer.user)

    page = client.get("/account/").content.decode()

    assert "<script>alert(1)" not in page


@pytest.fixture
def gtm_configured(settings):
    settings.GTM_CONTAINER_ID = GTM_ID
    settings.SECURE_CSP = content_security_policy(gtm=True)


def test_a_new_visitor_sees_the_cookie_notice_and_no_gtm(client, gtm_configured):
    page = client.get(reverse("account_login")).content.decode()

    assert 'class="cookie-notice"' in page
    assert 'name="choice" value="accept"' in page and "Принять" in page
    assert 'name="choice" value="reject"' in page and "Отклонить" in page
    assert "googletagmanager" not in page
    assert "<script nonce" not in page


def test_accepting_loads_gtm_from_then_on_and_hides_the_notice(client, gtm_configured):
    response = client.post(reverse("cookie_choice"), {"choice": "accept", "next": reverse("account_login")})

    assert response.status_code == HTTPStatus.FOUND
    assert response.url == reverse("account_login")
    assert response.cookies[analytics.CONSENT_COOKIE].value == analytics.ACCEPTED
    page = client.get(reverse("account_login")).content.decode()
    assert GTM_ID in page
    assert 'class="cookie-notice"' not in page


def test_declining_is_remembered_and_gtm_never_loads(client, gtm_configured, signup_data):
    client.post(reverse("cookie_choice"), {"choice": "reject", "next": reverse("home")})

    response = client.post(reverse("account_signup"), signup_data(), follow=True)

    page = response.content.decode()
    assert "googletagmanager" not in page
    assert 'class="cookie-notice"' not in page
    assert datalayer_events(response) == []


def test_the_choice_can_be_changed_from_the_footer(client, gtm_configured):
    client.post(reverse("cookie_choice"), {"choice": "reject", "next": "/"})
    footer = client.get(reverse("account_login")).content.decode().split('<footer class="site-footer">')[1]
    assert f'href="{reverse("cookie_choice")}"' in footer

    settings_page = client.get(reverse("cookie_choice")).content.decode()
    assert "Сейчас: статистика отклонена." in settings_page
    client.post(reverse("cookie_choice"), {"choice": "accept", "next": "/"})
    assert GTM_ID in client.get(reverse("account_login")).content.decode()


def test_the_choice_never_redirects_off_the_site(client, gtm_configured):
    response = client.post(reverse("cookie_choice"), {"choice": "accept", "next": "https://evil.example/"})

    assert response.url == reverse("home")


def test_pages_with_a_token_in_the_address_never_load_gtm(client, gtm_on, customer, settings):
    from accounts import skip_links

    delivery = customer.deliveries.order_by("delivery_on").first()
    url = skip_links.skip_url(delivery).removeprefix(settings.SITE_URL)

    page = client.get(url).content.decode()

    assert "googletagmanager" not in page
    assert GTM_ID not in page


def test_without_a_container_id_there_is_no_notice_and_no_cookie_page(client):
    assert 'class="cookie-notice"' not in client.get(reverse("account_login")).content.decode()
    assert client.get(reverse("cookie_choice")).status_code == HTTPStatus.NOT_FOUND
