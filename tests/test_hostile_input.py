"""No page answers 500 to what a client can send: every customer-facing form and address, posted
and asked for with hostile values (empty, huge, out-of-range dates and numbers, other scripts'
digits, NUL, markup), logged out and logged in. What each form answers is tested where it lives;
this sweep only holds the floor."""

import uuid
from http import HTTPStatus

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

HOSTILE = [
    *["", " ", "0", "-1", "-0", "1e309", "NaN", "inf", "99999999999999999999999", "1000000000000"],
    *["0.001", "1,5", "1 000", "-5000", "١٢٣", "１２３", "٢٠٢٦-١٢-٠١"],
    *["0001-01-01", "9999-12-31", "10000-01-01", "2026-02-30", "2026-13-01", "31.12.9999", "1.1.1"],
    *["\x00", "%00", "\u202e", "😀", "a" * 5000, "<script>alert(1)</script>", "' OR 1=1--"],
    *["../../etc/passwd", "null", "[]", "{}"],
]
SIGNUP_FIELDS = [
    *["email", "password1", "password2", "bouquet_category", "delivery_address", "phone"],
    *["first_delivery_date", "delivery_interval", "wishes", "account_sum"],
]
PREFERENCE_FIELDS = [
    *["bouquet_category", "delivery_address", "next_delivery_date", "delivery_interval", "wishes"],
    *["phone", "delivery_reminders", "email"],
]


def assert_answered(response, what) -> None:
    assert response.status_code < HTTPStatus.INTERNAL_SERVER_ERROR, (what, response.status_code)


@pytest.fixture
def hostile_settings(settings):
    settings.ACCOUNT_RATE_LIMITS = False  # hundreds of posts from one address


@pytest.mark.usefixtures("hostile_settings", "category")
def test_logged_out_pages_answer_every_hostile_value(client):
    client.raise_request_exception = False
    forms = [
        (reverse("account_signup"), SIGNUP_FIELDS),
        (reverse("account_login"), ["login", "password"]),
        (reverse("account_request_login_code"), ["email"]),
        (reverse("account_confirm_login_code"), ["code"]),
        (reverse("account_reset_password"), ["email"]),
    ]
    for value in HOSTILE:
        for url, fields in forms:
            assert_answered(client.post(url, dict.fromkeys(fields, value)), (url, value))
            assert_answered(client.get(url, {**dict.fromkeys(fields, value), "next": value}), (url, value))
        assert_answered(client.get("/", {"page": value}), ("/", value))
        token = value.replace("/", "") or "x"
        assert_answered(client.get(f"/account/deliveries/skip/{token}/"), ("skip link", value))
        assert_answered(client.post(f"/account/deliveries/skip/{token}/"), ("skip link", value))
        oauth = {"code": value, "state": value, "referer": value}
        assert_answered(client.get(reverse("amocrm:oauth_callback"), oauth), ("oauth", value))
    assert client.get(f"/{uuid.uuid4()}/").status_code < HTTPStatus.INTERNAL_SERVER_ERROR


@pytest.mark.usefixtures("hostile_settings")
def test_a_customers_pages_answer_every_hostile_value(customer_client, customer):
    customer_client.raise_request_exception = False
    delivery = customer.deliveries.order_by("delivery_on").first()
    for value in HOSTILE:
        assert_answered(customer_client.get("/account/", {"page": value}), ("dashboard", value))
        prefs = dict.fromkeys(PREFERENCE_FIELDS, value)
        assert_answered(customer_client.post("/account/preferences/", prefs), ("preferences", value))
        pause = {"resume_on": value, "until": value}
        assert_answered(customer_client.post(reverse("accounts:pause"), pause), ("pause", value))
        assert_answered(customer_client.post(reverse("accounts:resume"), {"x": value}), ("resume", value))
        for action in ["skip", "unskip", "move"]:
            url = f"/account/deliveries/{delivery.pk}/{action}/"
            assert_answered(customer_client.post(url, {"delivery_on": value, "next": value}), (action, value))
            assert_answered(customer_client.get(url, {"delivery_on": value}), (action, value))
        password = {"oldpassword": value, "password1": value, "password2": value}
        assert_answered(
            customer_client.post(reverse("account_change_password"), password), ("password", value)
        )
    for pk in ["0", "2147483648", "9223372036854775808", "99999999999999999999"]:
        for action in ["skip", "unskip", "move"]:
            url = f"/account/deliveries/{pk}/{action}/"
            assert_answered(customer_client.post(url, {"delivery_on": "2027-01-01"}), (action, pk))
