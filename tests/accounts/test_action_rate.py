"""One customer's account actions are rate-limited (allauth's limiter, the shared cache): a burst
gets the Russian 429 page and changes nothing more; other customers are not affected."""

from http import HTTPStatus

import pytest
from django.urls import reverse

from accounts.models import Delivery, Profile
from tests.accounts.helpers import page_text

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _rate(settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "account_action": "10/m/user"}


def far_delivery(profile: Profile) -> Delivery:
    return profile.deliveries.filter(status="scheduled").order_by("delivery_on").last()


def skip_and_unskip(client, delivery: Delivery, times: int) -> list[int]:
    statuses = []
    for _ in range(times):
        statuses.append(client.post(reverse("accounts:delivery_skip", args=[delivery.pk])).status_code)
        statuses.append(client.post(reverse("accounts:delivery_unskip", args=[delivery.pk])).status_code)
    return statuses


def test_a_burst_of_skips_and_unskips_gets_the_russian_429_page_after_the_limit(customer_client, customer):
    delivery = far_delivery(customer)

    statuses = skip_and_unskip(customer_client, delivery, times=40)

    assert statuses[:10] == [HTTPStatus.FOUND] * 10
    assert set(statuses[10:]) == {HTTPStatus.TOO_MANY_REQUESTS}
    refused = customer_client.post(reverse("accounts:pause"), {"resume_on": ""})
    assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert "Слишком много попыток" in page_text(refused)
    customer.refresh_from_db()
    assert customer.account_status != Profile.AccountStatus.PAUSED
    assert customer.events.filter(action__in=["delivery_skipped", "delivery_unskipped"]).count() == 10


def test_the_limit_is_per_customer(client, customer_client, customer, profile_factory):
    skip_and_unskip(customer_client, far_delivery(customer), times=6)
    other = profile_factory()
    client.force_login(other.user)

    response = client.post(reverse("accounts:delivery_skip", args=[far_delivery(other).pk]))

    assert response.status_code == HTTPStatus.FOUND


def test_reading_the_account_pages_is_not_limited(customer_client, customer):
    skip_and_unskip(customer_client, far_delivery(customer), times=6)

    assert customer_client.get(reverse("accounts:dashboard")).status_code == HTTPStatus.OK
    assert customer_client.get(reverse("accounts:preferences")).status_code == HTTPStatus.OK
