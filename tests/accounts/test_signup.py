import datetime
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts import phones, services
from accounts.models import BouquetCategory, Profile, User
from tests.accounts.helpers import checked_value, field_errors, input_value, page_text, textarea_value

pytestmark = pytest.mark.django_db


def test_signup_page_is_in_russian(client):
    response = client.get(reverse("account_signup"))

    assert response.status_code == HTTPStatus.OK
    assert "Зарегистрироваться" in page_text(response)
    assert "Оформите подписку на цветы" in page_text(response)


def test_signup_creates_user_and_profile_with_every_field(client, signup_data, password):
    data = signup_data()

    client.post(reverse("account_signup"), data)

    user = User.objects.get()
    assert user.email == "anna@example.ru"
    assert user.check_password(password)
    assert user.first_name == "Анна"
    profile = user.profile
    assert profile.phone == "+79001234567"
    assert profile.bouquet_category.slug == "romantic"
    assert profile.delivery_address == "Москва, ул. Тверская, 7, кв. 12"
    assert profile.first_delivery_date == timezone.localdate() + datetime.timedelta(days=10)
    assert profile.delivery_interval == "biweekly"
    assert profile.wishes == "Побольше пионов, без лилий"
    assert profile.account_sum == Decimal("0.00")  # nothing is paid yet
    assert [(i.amount, i.status) for i in profile.invoices.all()] == [(Decimal("3000.50"), "awaiting")]
    assert profile.account_status == Profile.AccountStatus.NEW
    assert profile.referral_code is not None
    assert profile.referred_by is None


def test_signup_logs_the_customer_in_and_redirects_to_account(client, signup_data):
    response = client.post(reverse("account_signup"), signup_data())

    assert response.status_code == HTTPStatus.FOUND
    assert response.url == "/account/"
    assert client.session["_auth_user_id"] == str(User.objects.get().pk)
    assert client.get("/account/").status_code == HTTPStatus.OK


def test_signup_accepts_a_date_typed_the_russian_way(client, signup_data):
    day = timezone.localdate() + datetime.timedelta(days=20)

    response = client.post(
        reverse("account_signup"), signup_data(first_delivery_date=day.strftime("%d.%m.%Y"))
    )

    assert response.status_code == HTTPStatus.FOUND
    assert Profile.objects.get().first_delivery_date == day


@pytest.mark.parametrize(
    ("typed", "stored"), [("3000,50", "3000.50"), ("3000.50", "3000.50"), ("2500", "2500.00")]
)
def test_signup_accepts_the_invoice_sum_with_a_comma_or_a_dot(client, signup_data, typed, stored):
    response = client.post(reverse("account_signup"), signup_data(account_sum=typed))

    assert response.status_code == HTTPStatus.FOUND
    assert Profile.objects.get().invoices.get().amount == Decimal(stored)


def test_signup_accepts_every_interval(client, signup_data):
    for number, interval in enumerate(["weekly", "biweekly", "monthly"]):
        client.post(
            reverse("account_signup"), signup_data(email=f"c{number}@example.ru", delivery_interval=interval)
        )
        client.logout()

    assert sorted(Profile.objects.values_list("delivery_interval", flat=True)) == [
        "biweekly",
        "monthly",
        "weekly",
    ]


def test_signup_is_atomic_when_the_profile_fails(client, signup_data, monkeypatch):
    def broken_profile_create(**kwargs):
        raise RuntimeError("profile storage is down")

    monkeypatch.setattr(services, "profile_create", broken_profile_create)
    client.raise_request_exception = False

    response = client.post(reverse("account_signup"), signup_data())

    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    assert "Что-то пошло не так" in page_text(response)
    assert not User.objects.exists()
    assert not Profile.objects.exists()


def test_signup_refuses_an_email_that_differs_only_by_case(client, signup_data, user_factory):
    user_factory(email="anna@x.ru")

    response = client.post(reverse("account_signup"), signup_data(email="Anna@X.ru"))

    assert response.status_code == HTTPStatus.OK
    assert "уже зарегистрирован" in field_errors(response, "email")
    assert User.objects.count() == 1
    assert "_auth_user_id" not in client.session


def test_signup_stores_the_email_lower_case(client, signup_data):
    client.post(reverse("account_signup"), signup_data(email="Anna.Petrova@Example.RU"))

    assert User.objects.get().email == "anna.petrova@example.ru"


def test_signup_with_an_inactive_category_is_refused(client, signup_data):
    BouquetCategory.objects.filter(slug="luxe").update(is_active=False)

    response = client.post(
        reverse("account_signup"), signup_data(bouquet_category="luxe", account_sum="5000")
    )

    assert response.status_code == HTTPStatus.OK
    assert "Выберите корректный вариант" in field_errors(response, "bouquet_category")
    assert not User.objects.exists()


def test_signup_page_does_not_offer_an_inactive_category(client):
    BouquetCategory.objects.filter(slug="luxe").update(is_active=False)

    response = client.get(reverse("account_signup"))

    assert 'value="romantic"' in page_text(response)
    assert 'value="luxe"' not in page_text(response)


def _days_from_today(days: int) -> str:
    return (timezone.localdate() + datetime.timedelta(days=days)).isoformat()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("first_delivery_date", "yesterday", "Дата доставки не может быть в прошлом."),
        ("first_delivery_date", "a year and a day", "Дата доставки может быть не позже чем через год."),
        ("first_delivery_date", "31.02.2030", "Введите правильную дату."),
        ("delivery_address", "", "Обязательное поле."),
        ("delivery_address", "д" * 256, "не более 255 символов"),
        ("delivery_address", "   ", "Обязательное поле."),
        ("wishes", "ж" * 1001, "не более 1000 символов"),
        ("account_sum", "-1", "больше либо равно 0"),
        ("account_sum", "3000,555", "не более 2 цифр после запятой"),
        ("account_sum", "много", "Введите число."),
        ("account_sum", "2499,99", "Сумма первого счёта должна покрывать хотя бы один букет: 2 500,00 ₽."),
        ("first_name", "", "Обязательное поле."),
        ("phone", "", "Обязательное поле."),
        ("phone", "12345", "PHONE_INVALID"),
        ("bouquet_category", "tulips", "Выберите корректный вариант"),
        ("bouquet_category", "", "Обязательное поле."),
        ("delivery_interval", "daily", "Выберите корректный вариант"),
        ("email", "anna-at-example.ru", "Введите правильный адрес электронной почты."),
    ],
    ids=[
        "date-in-the-past",
        "date-over-a-year-ahead",
        "date-impossible",
        "address-missing",
        "address-too-long",
        "address-blank",
        "wishes-too-long",
        "sum-negative",
        "sum-three-decimals",
        "sum-not-a-number",
        "sum-below-category-price",
        "name-missing",
        "phone-missing",
        "phone-invalid",
        "category-unknown",
        "category-missing",
        "interval-unknown",
        "email-malformed",
    ],
)
def test_signup_shows_the_error_next_to_the_field(client, signup_data, field, value, message):
    value = {"yesterday": _days_from_today(-1), "a year and a day": _days_from_today(366)}.get(value, value)
    message = {"PHONE_INVALID": str(phones.INVALID_MESSAGE)}.get(message, message)

    response = client.post(reverse("account_signup"), signup_data(**{field: value}))

    assert response.status_code == HTTPStatus.OK
    assert message in field_errors(response, field)
    assert not User.objects.exists()


@pytest.mark.parametrize("days", [0, 365])
def test_signup_accepts_first_delivery_from_today_up_to_a_year_ahead(client, signup_data, days):
    response = client.post(reverse("account_signup"), signup_data(first_delivery_date=_days_from_today(days)))

    assert response.status_code == HTTPStatus.FOUND


def test_signup_accepts_the_longest_address_and_wishes(client, signup_data):
    response = client.post(
        reverse("account_signup"), signup_data(delivery_address="д" * 255, wishes="ж" * 1000)
    )

    assert response.status_code == HTTPStatus.FOUND
    assert len(Profile.objects.get().wishes) == 1000


def test_signup_sum_must_cover_the_chosen_category(client, signup_data):
    # 3000 covers a romantic bouquet (2500) but not a luxe one (4900).
    response = client.post(
        reverse("account_signup"), signup_data(bouquet_category="luxe", account_sum="3000")
    )

    assert response.status_code == HTTPStatus.OK
    assert "4 900,00 ₽" in field_errors(response, "account_sum")


def test_signup_sum_equal_to_the_category_price_is_enough(client, signup_data):
    response = client.post(
        reverse("account_signup"), signup_data(bouquet_category="luxe", account_sum="4900,00")
    )

    assert response.status_code == HTTPStatus.FOUND


def test_signup_refuses_mismatched_passwords(client, signup_data, password):
    response = client.post(reverse("account_signup"), signup_data(password2=password + "x"))

    assert response.status_code == HTTPStatus.OK
    assert "Вы должны ввести одинаковый пароль дважды" in field_errors(response, "password2")
    assert not User.objects.exists()


@pytest.mark.parametrize(
    ("weak", "message"),
    [
        ("short1", "Введённый пароль слишком короткий"),
        ("password123", "Введённый пароль слишком широко распространён"),
        ("83920174653", "Введённый пароль состоит только из цифр"),
        ("anna@example.ru", "Введённый пароль слишком похож на адрес электронной почты"),
    ],
    ids=["too-short", "too-common", "only-digits", "like-the-email"],
)
def test_signup_refuses_a_weak_password(client, signup_data, weak, message):
    response = client.post(reverse("account_signup"), signup_data(password1=weak, password2=weak))

    assert response.status_code == HTTPStatus.OK
    assert message in field_errors(response, "password1")
    assert not User.objects.exists()


def test_signup_keeps_everything_typed_except_passwords(client, signup_data, password):
    data = signup_data(
        bouquet_category="seasonal",
        delivery_interval="monthly",
        first_delivery_date=_days_from_today(-3),  # the one invalid input
        wishes="Только <белые> & кремовые",
        account_sum="2000,75",
    )

    response = client.post(reverse("account_signup"), data)

    assert response.status_code == HTTPStatus.OK
    assert input_value(response, "email") == data["email"]
    assert input_value(response, "delivery_address") == data["delivery_address"]
    assert input_value(response, "first_delivery_date") == data["first_delivery_date"]
    assert input_value(response, "account_sum") == "2000,75"
    assert textarea_value(response, "wishes") == "Только <белые> & кремовые"
    assert checked_value(response, "bouquet_category") == "seasonal"
    assert checked_value(response, "delivery_interval") == "monthly"
    assert input_value(response, "password1") is None
    assert input_value(response, "password2") is None
    assert password not in response.content.decode()


def test_signup_marks_the_invalid_input_for_screen_readers(client, signup_data):
    response = client.post(reverse("account_signup"), signup_data(delivery_address=""))

    tag = response.content.decode().split('name="delivery_address"')[0].rsplit("<input", 1)[1]
    tag += response.content.decode().split('name="delivery_address"')[1].split(">", 1)[0]
    assert 'aria-invalid="true"' in tag
    assert "id_delivery_address_error" in tag


def test_signup_losing_a_race_for_the_address_shows_the_taken_error_not_a_500(
    client, signup_data, user_factory, monkeypatch
):
    # Two identical submits at once: both pass the form's uniqueness check, then the other request
    # commits its user before this one saves. The check is where the race window opens.
    from allauth.account.forms import BaseSignupForm

    checked = BaseSignupForm.validate_unique_email

    def other_request_wins(self, value):
        result = checked(self, value)
        user_factory(email="anna@example.ru")
        return result

    monkeypatch.setattr(BaseSignupForm, "validate_unique_email", other_request_wins)

    response = client.post(reverse("account_signup"), signup_data())

    assert response.status_code == HTTPStatus.OK
    assert "уже зарегистрирован" in field_errors(response, "email")
    assert input_value(response, "delivery_address") == "Москва, ул. Тверская, 7, кв. 12"
    assert User.objects.count() == 1
    assert not Profile.objects.exists()
    assert "_auth_user_id" not in client.session


def test_a_committed_signup_whose_login_cannot_be_saved_sends_to_sign_in_not_a_500(
    client, signup_data, monkeypatch
):
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import OperationalError

    def database_gone(self, must_create=False):
        raise OperationalError("server closed the connection unexpectedly")

    # The signup's transaction commits; then the database goes away (a restart) before the login.
    monkeypatch.setattr(SessionStore, "save", database_gone)

    response = client.post(reverse("account_signup"), signup_data())

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse("account_login")
    assert Profile.objects.filter(user__email="anna@example.ru").exists()
    page = page_text(client.get(response["Location"]))
    assert "войти сейчас не удалось" in page


def test_signup_asks_for_the_name_and_the_phone_first(client):
    text = page_text(client.get(reverse("account_signup")))

    assert text.index('name="first_name"') < text.index('name="phone"') < text.index('name="email"')
    assert 'autocomplete="given-name"' in text and 'autocomplete="tel"' in text
    assert "Сумма первого счёта, ₽" in text and "Сумма счёта" not in text


def test_signup_welcomes_the_customer_by_name(client, signup_data):
    response = client.post(reverse("account_signup"), signup_data(), follow=True)

    said = [str(m) for m in response.context["messages"]]
    assert said == [
        "Добро пожаловать, Анна! Подписка оформлена: когда первый счёт будет оплачен, начнутся доставки."
    ]


def test_a_later_login_still_says_who_signed_in(client, customer, password):
    response = client.post(
        reverse("account_login"), {"login": customer.user.email, "password": password}, follow=True
    )

    assert [str(m) for m in response.context["messages"]] == [
        f"Успешный вход под именем {customer.user.email}."
    ]
