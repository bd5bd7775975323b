"""The reminder's "skip this one" link: signed for one delivery, works logged out, asks before it
skips, and answers a bad, expired or used link with a clear Russian page (never a 500)."""

import datetime
import re
from http import HTTPStatus

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import delivery_actions, skip_links
from accounts.models import Delivery, Profile
from tests.accounts.helpers import page_text

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _cutoff(settings):
    settings.DELIVERY_SKIP_CUTOFF_DAYS = 2
    settings.SITE_URL = "https://flowers.example"


def next_skippable(profile: Profile) -> Delivery:
    return profile.deliveries.filter(status="scheduled").order_by("delivery_on")[1]  # past the cut-off


def link_path(delivery: Delivery) -> str:
    return skip_links.skip_url(delivery).removeprefix("https://flowers.example")


def confirm_path() -> str:
    return reverse("accounts:delivery_skip_confirm")


def open_link(client: Client, path: str):
    """The email's link as a browser follows it: on to the token-free page."""
    return client.get(path, follow=True)


def skip_through(client: Client, path: str):
    """Open the link, then press "Skip" on the page it leads to."""
    client.get(path)
    return client.post(confirm_path())


def test_the_link_asks_first_and_a_get_changes_nothing(client, customer):
    delivery = next_skippable(customer)

    response = open_link(client, link_path(delivery))

    assert response.status_code == HTTPStatus.OK
    text = page_text(response)
    assert "Пропустить эту доставку?" in text
    assert delivery.delivery_on.strftime("%Y-%m-%d") in text and "Романтический" in text
    assert '<form method="post">' in text
    delivery.refresh_from_db()
    assert delivery.status == "scheduled"


def test_confirming_skips_that_delivery_only_without_logging_in(customer):
    client = Client(enforce_csrf_checks=True)
    delivery = next_skippable(customer)
    path = link_path(delivery)
    page = open_link(client, path).content.decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)

    response = client.post(confirm_path(), {"csrfmiddlewaretoken": csrf})

    assert response.status_code == HTTPStatus.FOUND and response.url == confirm_path()
    assert list(customer.deliveries.filter(status="skipped")) == [delivery]
    done = client.get(confirm_path())
    assert done.status_code == HTTPStatus.OK and "Доставка пропущена" in page_text(done)
    assert "_auth_user_id" not in client.session  # the link skips; it does not log anyone in


def test_a_used_link_says_the_delivery_is_skipped_and_skips_nothing_more(client, customer):
    delivery = next_skippable(customer)
    path = link_path(delivery)
    skip_through(client, path)

    again = skip_through(client, path)

    assert again.status_code == HTTPStatus.OK and "Доставка пропущена" in page_text(again)
    assert customer.deliveries.filter(status="skipped").count() == 1


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token[:-3] + ("abc" if not token.endswith("abc") else "xyz"),
        lambda token: token.split(":")[0],
        lambda token: "garbage",
        lambda token: signing.dumps({"d": 1, "on": "2027-02-04"}, salt="another.purpose"),
        lambda token: signing.dumps({"d": "x"}, salt=skip_links.SALT),
    ],
    ids=["tampered", "truncated", "garbage", "other-salt", "bad-payload"],
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_bad_link_gets_a_russian_page_and_changes_nothing(client, customer, mangle, method):
    delivery = next_skippable(customer)
    token = link_path(delivery).rstrip("/").rsplit("/", 1)[1]

    follow = {"get": open_link, "post": skip_through}[method]
    response = follow(client, reverse("accounts:delivery_skip_link", args=[mangle(token)]))

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "Ссылка не работает" in page_text(response)
    assert not customer.deliveries.filter(status="skipped").exists()


def end_of_cut_off_day(delivery) -> datetime.datetime:
    """Midnight after the last day the delivery may be skipped, in the site's time zone."""
    return timezone.make_aware(
        datetime.datetime.combine(delivery.skip_deadline() + datetime.timedelta(days=1), datetime.time())
    )


def test_a_link_after_the_cut_off_has_expired(client, customer, monkeypatch):
    delivery = next_skippable(customer)
    path = link_path(delivery)
    after = end_of_cut_off_day(delivery)
    monkeypatch.setattr(timezone, "now", lambda: after)

    response = skip_through(client, path)

    assert response.status_code == HTTPStatus.GONE
    assert "Срок действия ссылки истёк" in page_text(response)
    delivery.refresh_from_db()
    assert delivery.status == "scheduled"


def test_the_link_works_until_the_last_minute_of_the_cut_off_day(client, customer, monkeypatch):
    delivery = next_skippable(customer)
    path = link_path(delivery)
    monkeypatch.setattr(timezone, "now", lambda: end_of_cut_off_day(delivery) - datetime.timedelta(minutes=1))

    assert skip_through(client, path).status_code == HTTPStatus.FOUND

    delivery.refresh_from_db()
    assert delivery.status == "skipped"


def test_a_moved_deliverys_old_link_has_expired(client, customer):
    delivery = next_skippable(customer)
    path = link_path(delivery)
    delivery_actions.delivery_move(
        profile=customer, delivery_id=delivery.pk, new_date=delivery.delivery_on + datetime.timedelta(days=1)
    )

    response = skip_through(client, path)

    assert response.status_code == HTTPStatus.GONE
    delivery.refresh_from_db()
    assert delivery.status == "scheduled"


def test_a_cancelled_deliverys_link_says_it_cannot_be_skipped(client, customer):
    delivery = next_skippable(customer)
    path = link_path(delivery)
    delivery_actions.profile_pause(profile=customer)

    response = open_link(client, path)

    assert response.status_code == HTTPStatus.GONE
    assert "Эту доставку нельзя пропустить" in page_text(response)


def test_one_customers_link_never_reaches_another_customers_delivery(client, profile_factory):
    anna, boris = profile_factory(), profile_factory()
    annas = next_skippable(anna)

    client.force_login(boris.user)
    skip_through(client, link_path(annas))

    assert list(anna.deliveries.filter(status="skipped")) == [annas]
    assert not boris.deliveries.filter(status="skipped").exists()


def test_the_link_redirects_at_once_to_an_address_without_the_token(client, customer):
    path = link_path(next_skippable(customer))
    token = path.rstrip("/").rsplit("/", 1)[1]

    response = client.get(path)

    assert response.status_code == HTTPStatus.FOUND and response.url == confirm_path()
    page = client.get(response.url)
    assert page.status_code == HTTPStatus.OK and token not in page.content.decode()


def test_the_tag_manager_never_loads_on_an_address_with_the_token(client, customer, settings):
    settings.GTM_CONTAINER_ID = "GTM-TEST123"
    path = link_path(next_skippable(customer))

    response = open_link(client, path)

    token = path.rstrip("/").rsplit("/", 1)[1]
    assert [url for url, _status in response.redirect_chain] == [confirm_path()]
    assert "GTM-TEST123" not in client.get(path).content.decode()
    assert token not in response.content.decode()


def test_a_used_link_does_not_skip_again_after_an_unskip(client, customer):
    delivery = next_skippable(customer)
    path = link_path(delivery)
    skip_through(client, path)
    delivery_actions.delivery_unskip(profile=customer, delivery_id=delivery.pk)

    again = skip_through(Client(), path)

    assert again.status_code == HTTPStatus.OK and "Ссылка уже использована" in page_text(again)
    delivery.refresh_from_db()
    assert delivery.status == "scheduled"
