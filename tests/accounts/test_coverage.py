"""What the balance covers: the price of one delivery, how many upcoming deliveries the balance pays
for and until when, a banner when the next one is not covered, and each category's answer on the
preferences page before it is saved."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from accounts import coverage
from accounts.models import BouquetCategory
from tests.accounts.helpers import page_text

pytestmark = pytest.mark.django_db
D = datetime.date


def test_the_balance_covers_deliveries_in_date_order_while_it_lasts():
    days = [
        (D(2026, 12, 8), Decimal("2500")),
        (D(2026, 12, 15), Decimal("2500")),
        (D(2026, 12, 22), Decimal("2500")),
    ]

    covers = coverage.covered(balance=Decimal("5100"), deliveries=days, price=Decimal("1"))

    assert (covers.count, covers.until, covers.next_on, covers.price) == (
        2,
        D(2026, 12, 15),
        D(2026, 12, 8),
        2500,
    )
    assert covers.is_next_covered


def test_a_balance_short_of_the_next_delivery_covers_none():
    covers = coverage.covered(
        balance=Decimal("2499.99"), deliveries=[(D(2026, 12, 8), Decimal("2500"))], price=Decimal("1")
    )

    assert (covers.count, covers.until) == (0, None)
    assert not covers.is_next_covered


def test_the_schedule_goes_on_past_the_planned_rows_at_the_category_price(profile_factory):
    profile = profile_factory(account_sum=Decimal("50000.00"))  # 20 romantic bouquets

    covers = coverage.profile_coverage(profile)

    first = profile.first_delivery_date
    assert covers.count == 20
    assert covers.until == first + datetime.timedelta(weeks=19)


def test_the_account_page_says_the_price_and_what_the_balance_covers(client, profile_factory):
    profile = profile_factory(account_sum=Decimal("5000.00"))  # two romantic bouquets, weekly
    client.force_login(profile.user)
    second = date_format(profile.first_delivery_date + datetime.timedelta(weeks=1), "j E")

    text = page_text(client.get(reverse("accounts:dashboard")))

    assert "Одна доставка: 2 500,00 ₽." in text
    assert f"Баланса хватит на 2 доставки, до {second}." in text
    assert 'id="shortfall"' not in text


@pytest.mark.parametrize(("balance", "words"), [("2500.00", "1 доставку"), ("12500.00", "5 доставок")])
def test_the_coverage_uses_russian_plural_forms(client, profile_factory, balance, words):
    profile = profile_factory(account_sum=Decimal(balance))
    client.force_login(profile.user)

    assert f"Баланса хватит на {words}," in page_text(client.get(reverse("accounts:dashboard")))


def test_a_banner_says_the_next_delivery_is_not_covered(client, profile_factory):
    profile = profile_factory(account_sum=Decimal("2000.00"))  # less than one romantic bouquet
    client.force_login(profile.user)
    first = date_format(profile.first_delivery_date, "j E")

    text = page_text(client.get(reverse("accounts:dashboard")))

    assert 'id="shortfall"' in text
    assert f"Баланса не хватает на следующую доставку {first} (2 500,00 ₽)." in text


def test_each_category_on_the_preferences_page_says_what_the_balance_would_cover(client, profile_factory):
    profile = profile_factory(account_sum=Decimal("5000.00"))
    client.force_login(profile.user)
    first = profile.first_delivery_date

    text = page_text(client.get(reverse("accounts:preferences")))

    until = date_format(first + datetime.timedelta(weeks=1), "j E")
    assert f"Романтический — 2 500 ₽ за букет: баланса хватит на 2 доставки, до {until}" in text
    assert "Люкс — 4 900 ₽ за букет: баланса хватит на 1 доставку, до " in text
    seasonal_until = date_format(first + datetime.timedelta(weeks=1), "j E")
    assert f"Сезонный — 1 900 ₽ за букет: баланса хватит на 2 доставки, до {seasonal_until}" in text


def test_a_category_past_the_cut_off_keeps_its_planned_price(profile_factory, settings):
    settings.DELIVERY_SKIP_CUTOFF_DAYS = 2
    profile = profile_factory(
        account_sum=Decimal("5000.00"), first_delivery_date=timezone.localdate() + datetime.timedelta(days=1)
    )
    luxe = BouquetCategory.objects.get(slug="luxe")

    rows = coverage.planned(profile, category=luxe)

    assert [price for _day, price in rows[:2]] == [Decimal("2500.00"), Decimal("4900.00")]


def test_a_balance_short_of_the_next_delivery_is_not_shown_in_green(client, profile_factory):
    profile = profile_factory(account_sum=Decimal("2000.00"))
    client.force_login(profile.user)

    assert '<section class="card card--short" aria-labelledby="balance-title">' in page_text(
        client.get(reverse("accounts:dashboard"))
    )


def test_the_banner_of_a_customer_with_an_invoice_to_pay_says_to_pay_it(client, profile_factory):
    # "Top the balance up" beside "Invoice awaiting payment: the manager sends a link" read as two
    # things to do; with an invoice waiting, paying it is the one.
    profile = profile_factory(account_sum=Decimal("5000.00"), paid=False)
    client.force_login(profile.user)
    first = date_format(profile.first_delivery_date, "j E")

    text = page_text(client.get(reverse("accounts:dashboard")))

    assert f"Баланса не хватает на следующую доставку {first} (2 500,00 ₽)." in text
    assert "Оплатите счёт ниже, чтобы букет приехал." in text
    assert "Пополните баланс" not in text
