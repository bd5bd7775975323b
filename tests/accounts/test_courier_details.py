"""Delivery details couriers need: the customer's usual ones (preferences) and one day's own (the
delivery card), read together by Delivery.courier_details."""

import datetime
from http import HTTPStatus

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from accounts.models import Delivery, Profile
from tests.accounts.helpers import field_errors, page_text

pytestmark = pytest.mark.django_db

PREFERENCES = "/account/preferences/"


def preferences(profile: Profile, **overrides) -> dict[str, str]:
    return {
        "bouquet_category": profile.bouquet_category.slug,
        "delivery_address": profile.delivery_address,
        "next_delivery_date": profile.next_delivery_on().isoformat(),
        "delivery_interval": profile.delivery_interval,
        "wishes": profile.wishes,
        "phone": profile.phone,
        "wants_reminders": "on",
        "wants_delivery_notices": "on",
        **overrides,
    }


def open_delivery(profile: Profile) -> Delivery:
    """A scheduled delivery after the cut-off: the customer may still change it."""
    return profile.deliveries.filter(
        status=Delivery.Status.SCHEDULED, delivery_on__gte=Delivery.first_open_on()
    ).earliest("delivery_on")


def test_preferences_save_the_usual_courier_details(customer_client, customer):
    data = preferences(
        customer,
        recipient_name="Мама",
        recipient_phone="8 900 765 43 21",
        time_window="18-21",
        entrance="2",
        floor="5",
        intercom="25К",
        courier_note="Позвонить за час",
    )

    response = customer_client.post(PREFERENCES, data)

    assert response.status_code == HTTPStatus.FOUND
    customer.refresh_from_db()
    assert (customer.recipient_name, customer.recipient_phone, customer.time_window) == (
        "Мама",
        "+79007654321",
        "18-21",
    )
    assert (customer.entrance, customer.floor, customer.intercom, customer.courier_note) == (
        "2",
        "5",
        "25К",
        "Позвонить за час",
    )


def test_preferences_refuse_a_malformed_recipient_phone(customer_client, customer):
    response = customer_client.post(PREFERENCES, preferences(customer, recipient_phone="12"))

    assert response.status_code == HTTPStatus.OK
    assert field_errors(response, "recipient_phone")
    customer.refresh_from_db()
    assert customer.recipient_phone == ""


def test_preferences_page_groups_the_courier_details_and_the_emails(customer_client):
    text = page_text(customer_client.get(PREFERENCES))

    assert "Для курьера" in text
    assert "Подъезд" in text and "Код домофона" in text and "Записка курьеру" in text
    assert "Письма" in text


def test_a_delivery_keeps_its_own_details_and_takes_the_rest_from_the_profile(customer_client, customer):
    Profile.objects.filter(pk=customer.pk).update(entrance="1", intercom="11", time_window="09-12")
    delivery = open_delivery(customer)

    response = customer_client.post(
        f"/account/deliveries/{delivery.pk}/details/",
        {
            "recipient_name": "Соседка",
            "time_window": "15-18",
            "intercom": "",
            "courier_note": "Оставить у двери",
        },
    )

    assert response.status_code == HTTPStatus.FOUND
    delivery.refresh_from_db()
    details = delivery.courier_details()
    assert details["recipient_name"] == "Соседка"
    assert details["time_window"] == "15-18"
    assert details["courier_note"] == "Оставить у двери"
    assert (details["entrance"], details["intercom"]) == ("1", "11")  # left empty: the usual ones
    other = (
        Delivery.objects.exclude(pk=delivery.pk)
        .filter(profile=customer, status=Delivery.Status.SCHEDULED)
        .first()
    )
    assert other.courier_details()["time_window"] == "09-12"


def test_a_delivery_with_the_couriers_keeps_its_details(customer_client, customer):
    delivery = open_delivery(customer)
    Delivery.objects.filter(pk=delivery.pk).update(
        delivery_on=timezone.localdate() + datetime.timedelta(days=1)
    )

    response = customer_client.post(f"/account/deliveries/{delivery.pk}/details/", {"courier_note": "Позже"})

    assert response.status_code == HTTPStatus.FOUND
    delivery.refresh_from_db()
    assert delivery.courier_note == ""
    assert "у курьеров" in " ".join(str(m) for m in get_messages(response.wsgi_request))


def test_the_details_page_of_a_delivery_with_the_couriers_goes_back_to_the_account(customer_client, customer):
    delivery = open_delivery(customer)
    Delivery.objects.filter(pk=delivery.pk).update(
        delivery_on=timezone.localdate() + datetime.timedelta(days=1)
    )

    response = customer_client.get(f"/account/deliveries/{delivery.pk}/details/")

    assert response.status_code == HTTPStatus.FOUND and response.url == "/account/"


def test_another_customers_delivery_details_are_not_found(client, customer, profile_factory):
    other = profile_factory()
    client.force_login(other.user)

    response = client.post(
        f"/account/deliveries/{open_delivery(customer).pk}/details/", {"courier_note": "x"}
    )

    assert response.status_code == HTTPStatus.NOT_FOUND


def test_the_account_page_links_open_deliveries_to_their_details_page(customer_client, customer):
    delivery = open_delivery(customer)

    text = page_text(customer_client.get("/account/"))

    assert f'href="/account/deliveries/{delivery.pk}/details/"' in text
    shown_open = [d for d in customer.upcoming_deliveries(include_skipped=True) if d.can_skip()]
    assert text.count("/details/") == len(shown_open)


def test_the_details_page_shows_the_usual_values_as_placeholders(customer_client, customer):
    Profile.objects.filter(pk=customer.pk).update(intercom="25К", phone="+79001234567")

    text = page_text(customer_client.get(f"/account/deliveries/{open_delivery(customer).pk}/details/"))

    assert 'placeholder="25К"' in text
    assert 'placeholder="+7 900 123-45-67"' in text  # the recipient's phone: the customer's


def test_the_details_page_keeps_what_was_typed_with_the_error(customer_client, customer):
    delivery = open_delivery(customer)

    response = customer_client.post(
        f"/account/deliveries/{delivery.pk}/details/", {"recipient_phone": "12", "courier_note": "Позвонить"}
    )

    assert response.status_code == HTTPStatus.OK
    assert field_errors(response, "recipient_phone")
    assert "Позвонить" in page_text(response)
    delivery.refresh_from_db()
    assert delivery.courier_note == ""
