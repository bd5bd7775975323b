"""Google Tag Manager: opt-in, nonce-allowed snippet; events as a JSON data block, never inline code."""

import json
import re

import pytest
from django.urls import reverse

from flower_account.settings import content_security_policy

pytestmark = pytest.mark.django_db

GTM_ID = "GTM-TEST123"


@pytest.fixture
def gtm_on(settings):
    settings.GTM_CONTAINER_ID = GTM_ID
    settings.SECURE_CSP = content_security_policy(gtm=True)


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
