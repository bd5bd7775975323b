import datetime
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.db.models.signals import post_save
from django.utils import timezone

from accounts.models import BouquetCategory, Profile
from tests.accounts.helpers import checked_value, field_errors, input_value, page_text, textarea_value

pytestmark = pytest.mark.django_db

URL = "/account/preferences/"


@pytest.fixture
def form_data(customer):
    """The preferences form as it comes pre-filled, ready to change."""

    def make(**overrides) -> dict[str, str]:
        data = {
            "bouquet_category": customer.bouquet_category.slug,
            "delivery_address": customer.delivery_address,
            "next_delivery_date": customer.next_delivery_on().isoformat(),
            "delivery_interval": customer.delivery_interval,
            "wishes": customer.wishes,
            "phone": customer.phone,
        }
        data.update(overrides)
        return data

    return make


@pytest.fixture
def saves(customer):
    """Every post_save of the customer's profile, as the update_fields it was saved with."""
    recorded: list[frozenset[str] | None] = []

    def receiver(sender, instance, update_fields, **kwargs):
        if instance.pk == customer.pk:
            recorded.append(update_fields)

    post_save.connect(receiver, sender=Profile, weak=False)
    yield recorded
    post_save.disconnect(receiver, sender=Profile)


def test_preferences_page_sends_anonymous_visitors_to_login(client):
    response = client.get(URL)

    assert response.status_code == HTTPStatus.FOUND
    assert response.url == f"/login/?next={URL}"


def test_preferences_page_is_pre_filled_with_the_current_values(client, profile_factory):
    profile = profile_factory(
        bouquet_category=BouquetCategory.objects.get(slug="seasonal"),
        first_delivery_date=timezone.localdate() - datetime.timedelta(days=10),
        delivery_interval="biweekly",
        wishes="Только тюльпаны",
        phone="+7 900 123-45-67",
    )
    client.force_login(profile.user)

    response = client.get(URL)

    assert response.status_code == HTTPStatus.OK
    assert checked_value(response, "bouquet_category") == "seasonal"
    assert input_value(response, "delivery_address") == profile.delivery_address
    assert input_value(response, "next_delivery_date") == profile.next_delivery_on().isoformat()
    assert (
        input_value(response, "next_delivery_date")
        == (timezone.localdate() + datetime.timedelta(days=4)).isoformat()
    )
    assert checked_value(response, "delivery_interval") == "biweekly"
    assert textarea_value(response, "wishes") == "Только тюльпаны"
    assert input_value(response, "phone") == "+7 900 123-45-67"


def test_preferences_page_has_no_account_sum_or_status_inputs(customer_client):
    content = customer_client.get(URL).content.decode()

    assert 'name="account_sum"' not in content
    assert 'name="account_status"' not in content


def test_preferences_save_changes_and_returns_to_the_account_page(customer_client, customer, form_data):
    response = customer_client.post(
        URL,
        form_data(
            bouquet_category="luxe",
            delivery_address="Санкт-Петербург, Невский пр., 1",
            delivery_interval="monthly",
            wishes="Белые розы",
            phone="+7 (912) 345-67-89",
        ),
    )

    assert response.status_code == HTTPStatus.FOUND
    assert response.url == "/account/"
    customer.refresh_from_db()
    assert customer.bouquet_category.slug == "luxe"
    assert customer.delivery_address == "Санкт-Петербург, Невский пр., 1"
    assert customer.delivery_interval == "monthly"
    assert customer.wishes == "Белые розы"
    assert customer.phone == "+79123456789"


def test_preferences_save_shows_a_success_message(customer_client, form_data):
    response = customer_client.post(URL, form_data(wishes="Пионы"), follow=True)

    assert response.redirect_chain == [("/account/", HTTPStatus.FOUND)]
    assert "Предпочтения сохранены." in page_text(response)


def test_preferences_cannot_change_the_account_sum_or_status(customer_client, customer, form_data):
    response = customer_client.post(
        URL, form_data(account_sum="999999", account_status="active", wishes="Пионы")
    )

    assert response.status_code == HTTPStatus.FOUND
    customer.refresh_from_db()
    assert customer.account_sum == Decimal("5000.00")
    assert customer.account_status == Profile.AccountStatus.NEW
    assert customer.wishes == "Пионы"


def test_preferences_cannot_change_the_referral_or_the_referrer(
    customer_client, customer, form_data, profile_factory
):
    other = profile_factory()
    code = customer.referral_code

    customer_client.post(URL, form_data(referral_code=str(other.referral_code), referred_by=str(other.pk)))

    customer.refresh_from_db()
    assert customer.referral_code == code
    assert customer.referred_by is None


def test_preferences_save_passes_only_the_changed_fields(customer_client, form_data, saves):
    customer_client.post(URL, form_data(delivery_address="Москва, ул. Арбат, 3"))

    assert saves == [frozenset({"delivery_address", "updated_at"})]


def test_preferences_save_without_changes_writes_nothing(customer_client, form_data, saves):
    response = customer_client.post(URL, form_data())

    assert response.status_code == HTTPStatus.FOUND
    assert saves == []


def test_preferences_changing_the_next_delivery_re_anchors_the_schedule(
    customer_client, customer, form_data, saves
):
    new_date = timezone.localdate() + datetime.timedelta(days=9)

    customer_client.post(URL, form_data(next_delivery_date=new_date.isoformat()))

    customer.refresh_from_db()
    assert customer.first_delivery_date == new_date
    assert customer.next_delivery_on() == new_date
    assert [d.delivery_on for d in customer.upcoming_deliveries(limit=2)] == [
        new_date,
        new_date + datetime.timedelta(weeks=1),
    ]
    assert saves == [frozenset({"first_delivery_date", "updated_at"})]


def test_preferences_keeping_the_next_delivery_keeps_the_first_date(client, profile_factory):
    first = timezone.localdate() - datetime.timedelta(days=30)
    profile = profile_factory(first_delivery_date=first, delivery_interval="weekly")
    client.force_login(profile.user)
    data = {
        "bouquet_category": "romantic",
        "delivery_address": profile.delivery_address,
        "next_delivery_date": profile.next_delivery_on().isoformat(),
        "delivery_interval": "weekly",
        "wishes": "Новые пожелания",
        "phone": "",
    }

    client.post(URL, data)

    profile.refresh_from_db()
    assert profile.first_delivery_date == first
    assert profile.wishes == "Новые пожелания"


def test_preferences_accept_a_date_typed_the_russian_way(customer_client, customer, form_data):
    new_date = timezone.localdate() + datetime.timedelta(days=12)

    response = customer_client.post(URL, form_data(next_delivery_date=new_date.strftime("%d.%m.%Y")))

    assert response.status_code == HTTPStatus.FOUND
    customer.refresh_from_db()
    assert customer.first_delivery_date == new_date


def _days_from_today(days: int) -> str:
    return (timezone.localdate() + datetime.timedelta(days=days)).isoformat()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("next_delivery_date", -1, "Дата доставки не может быть в прошлом."),
        ("next_delivery_date", 366, "Дата доставки может быть не позже чем через год."),
        ("delivery_address", "", "Обязательное поле."),
        ("delivery_address", "д" * 256, "не более 255 символов"),
        ("wishes", "ж" * 1001, "не более 1000 символов"),
        ("delivery_interval", "daily", "Выберите корректный вариант"),
        ("bouquet_category", "tulips", "Выберите корректный вариант"),
    ],
    ids=[
        "date-in-the-past",
        "date-over-a-year-ahead",
        "address-missing",
        "address-too-long",
        "wishes-too-long",
        "interval-unknown",
        "category-unknown",
    ],
)
def test_preferences_show_the_error_next_to_the_field(
    customer_client, customer, form_data, field, value, message
):
    if isinstance(value, int):
        value = _days_from_today(value)

    response = customer_client.post(URL, form_data(**{field: value}))

    assert response.status_code == HTTPStatus.OK
    assert message in field_errors(response, field)
    assert Profile.objects.get(pk=customer.pk).updated_at == customer.updated_at


def test_preferences_errors_keep_what_was_typed(customer_client, form_data):
    data = form_data(
        bouquet_category="luxe",
        delivery_address="Казань, ул. Баумана, 5",
        next_delivery_date=_days_from_today(-2),  # the one invalid input
        delivery_interval="monthly",
        wishes="Ирисы",
        phone="+7 900 000-00-00",
    )

    response = customer_client.post(URL, data)

    assert response.status_code == HTTPStatus.OK
    assert checked_value(response, "bouquet_category") == "luxe"
    assert input_value(response, "delivery_address") == "Казань, ул. Баумана, 5"
    assert input_value(response, "next_delivery_date") == data["next_delivery_date"]
    assert checked_value(response, "delivery_interval") == "monthly"
    assert textarea_value(response, "wishes") == "Ирисы"
    assert input_value(response, "phone") == "+7 900 000-00-00"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("+7 900 123-45-67", "+79001234567"),
        ("8 (900) 123-45-67", "+79001234567"),
        ("  +7   900 1234567 ", "+79001234567"),
        ("9001234567", "+79001234567"),
        ("+7.900.123.45.67", "+79001234567"),
        # Other scripts' digits are read as the digits they are, and stored as ASCII.
        ("+٧٩٠٠١٢٣٤٥٦٧", "+79001234567"),
        ("+７９００１２３４５６７", "+79001234567"),
        ("+1 202 555 0143", "+12025550143"),
        ("", ""),
    ],
)
def test_preferences_accept_a_phone_number(customer_client, customer, form_data, typed, stored):
    response = customer_client.post(URL, form_data(phone=typed))

    assert response.status_code == HTTPStatus.FOUND
    customer.refresh_from_db()
    assert customer.phone == stored


@pytest.mark.parametrize(
    "typed",
    ["12345", "+7 900 abc-45-67", "+7 900 123 45 67 89 01 23", "7+9001234567", "#9001234567"]
    + ["+7 (900) 123-45-67 ((((", "+7 (900)) 123-45-67", "+7 900 123-45-67 доб. 5", "+7 000 123-45-67"],
)
def test_preferences_refuse_a_malformed_phone_number(customer_client, customer, form_data, typed):
    response = customer_client.post(URL, form_data(phone=typed))

    assert response.status_code == HTTPStatus.OK
    assert "Введите правильный номер телефона" in field_errors(response, "phone")
    assert input_value(response, "phone") == typed
    customer.refresh_from_db()
    assert customer.phone == ""


def test_preferences_keep_a_retired_category_selectable_for_its_customer(
    customer_client, customer, form_data
):
    BouquetCategory.objects.filter(pk=customer.bouquet_category_id).update(is_active=False)

    page = customer_client.get(URL)
    response = customer_client.post(URL, form_data(wishes="Как раньше"))

    assert checked_value(page, "bouquet_category") == customer.bouquet_category.slug
    assert response.status_code == HTTPStatus.FOUND
    customer.refresh_from_db()
    assert customer.wishes == "Как раньше"
    assert customer.bouquet_category.slug == "romantic"


def test_preferences_do_not_offer_a_retired_category_to_other_customers(customer_client, customer, form_data):
    BouquetCategory.objects.filter(slug="luxe").update(is_active=False)

    page = customer_client.get(URL)
    response = customer_client.post(URL, form_data(bouquet_category="luxe"))

    assert 'value="luxe"' not in page.content.decode()
    assert response.status_code == HTTPStatus.OK
    assert "Выберите корректный вариант" in field_errors(response, "bouquet_category")


def test_preferences_of_a_staff_user_without_a_profile_are_not_found(client, superuser):
    client.force_login(superuser)

    assert client.get(URL).status_code == HTTPStatus.NOT_FOUND


def test_preferences_changing_only_the_interval_keeps_the_next_delivery_shown(client, profile_factory):
    first = timezone.localdate() - datetime.timedelta(days=30)
    profile = profile_factory(first_delivery_date=first, delivery_interval="weekly")
    next_delivery = profile.next_delivery_on()
    client.force_login(profile.user)
    data = {
        "bouquet_category": "romantic",
        "delivery_address": profile.delivery_address,
        "next_delivery_date": next_delivery.isoformat(),
        "delivery_interval": "monthly",
        "wishes": profile.wishes,
        "phone": "",
    }

    client.post(URL, data)

    profile.refresh_from_db()
    assert profile.delivery_interval == "monthly"
    assert profile.next_delivery_on() == next_delivery


def test_preferences_keep_the_phone_the_couriers_call_and_say_so_as_signup_does(
    customer_client, customer, form_data
):
    # Signup asks for the phone because couriers call it; preferences said "optional".
    customer.phone = "+79001234567"
    customer.save(update_fields=["phone"])

    response = customer_client.post(URL, form_data(phone="", wishes="Ирисы"))

    assert response.status_code == HTTPStatus.OK
    assert "Обязательное поле." in field_errors(response, "phone")
    assert "Курьер позвонит перед доставкой." in page_text(response)
    assert "Необязательно" not in page_text(response)
    customer.refresh_from_db()
    assert (customer.phone, customer.wishes) == ("+79001234567", "Больше зелени, без роз")


def test_a_customer_who_never_gave_a_phone_can_still_save_preferences(customer_client, customer, form_data):
    # Customers from before the phone was asked for at signup: asked, not blocked.
    response = customer_client.post(URL, form_data(phone="", wishes="Ирисы"))

    assert response.status_code == HTTPStatus.FOUND
    customer.refresh_from_db()
    assert customer.wishes == "Ирисы"
