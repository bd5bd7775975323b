"""A customer closes the subscription (a page asks first), deliveries past the cut-off still come,
nothing else is planned, and the customer can start it again."""

import datetime
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccountEvent, Delivery, Profile
from accounts.signals import Action
from tests.accounts.helpers import page_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def tomorrow(profile_factory, settings) -> Profile:
    """A weekly customer whose next bouquet is tomorrow: past the 2-day cut-off."""
    settings.DELIVERY_SKIP_CUTOFF_DAYS = 2
    return profile_factory(first_delivery_date=timezone.localdate() + datetime.timedelta(days=1))


def scheduled_days(profile: Profile) -> list[datetime.date]:
    return list(
        profile.deliveries.filter(status=Delivery.Status.SCHEDULED)
        .order_by("delivery_on")
        .values_list("delivery_on", flat=True)
    )


def test_the_account_page_links_to_closing(client, tomorrow):
    client.force_login(tomorrow.user)

    response = client.get(reverse("accounts:dashboard"))

    assert reverse("accounts:close") in response.text
    assert "Закрыть подписку" in page_text(response)


def test_the_close_page_asks_and_names_the_delivery_that_still_comes(client, tomorrow):
    client.force_login(tomorrow.user)
    first = timezone.localdate() + datetime.timedelta(days=1)

    response = client.get(reverse("accounts:close"))

    assert response.status_code == HTTPStatus.OK
    text = page_text(response)
    assert "Закрыть подписку?" in text
    assert "уже у курьеров" in text
    assert f'datetime="{first.isoformat()}"' in response.text
    assert Profile.objects.get(pk=tomorrow.pk).account_status != Profile.AccountStatus.CLOSED


def test_closing_stops_every_delivery_after_the_cut_off(client, tomorrow):
    client.force_login(tomorrow.user)
    first = timezone.localdate() + datetime.timedelta(days=1)

    response = client.post(reverse("accounts:close"))

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse("accounts:dashboard")
    profile = Profile.objects.get(pk=tomorrow.pk)
    assert profile.account_status == Profile.AccountStatus.CLOSED
    assert scheduled_days(profile) == [first]  # tomorrow's is with the couriers already
    assert AccountEvent.objects.filter(profile=profile, action=Action.CLOSED).exists()


def test_a_closed_subscription_offers_to_start_again(client, tomorrow):
    client.force_login(tomorrow.user)
    client.post(reverse("accounts:close"))

    response = client.get(reverse("accounts:dashboard"))

    text = page_text(response)
    assert "Возобновить подписку" in text
    assert reverse("accounts:reopen") in response.text
    assert reverse("accounts:close") not in response.text


def test_starting_again_plans_deliveries_from_the_cut_off(client, tomorrow):
    client.force_login(tomorrow.user)
    client.post(reverse("accounts:close"))

    response = client.post(reverse("accounts:reopen"))

    assert response.status_code == HTTPStatus.FOUND
    profile = Profile.objects.get(pk=tomorrow.pk)
    assert profile.subscription_status == Profile.AccountStatus.ACTIVE
    days = scheduled_days(profile)
    assert len(days) > 2
    assert days[1] == days[0] + datetime.timedelta(weeks=1)
    assert AccountEvent.objects.filter(profile=profile, action=Action.REOPENED).exists()


def test_closing_twice_says_it_is_closed_already(client, tomorrow):
    client.force_login(tomorrow.user)
    client.post(reverse("accounts:close"))

    response = client.post(reverse("accounts:close"), follow=True)

    assert "Подписка уже закрыта." in page_text(response)


def test_a_closed_subscription_with_nothing_planned_does_not_explain_skipping(client, profile_factory):
    # "A delivery can be skipped until 2 days before it", under no deliveries at all.
    profile = profile_factory(first_delivery_date=timezone.localdate() + datetime.timedelta(days=10))
    client.force_login(profile.user)
    client.post(reverse("accounts:close"))

    text = page_text(client.get(reverse("accounts:dashboard")))

    assert "Подписка закрыта: доставки не запланированы." in text
    assert "Доставку можно пропустить" not in text
