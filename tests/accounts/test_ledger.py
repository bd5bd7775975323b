"""The account ledger: every change of the account sum is an entry, and the sum is their total."""

import datetime
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts import delivery_actions, ledger, services
from accounts.models import Delivery, LedgerEntry, Profile
from tests.accounts.helpers import page_text

pytestmark = pytest.mark.django_db


def ledger_total(profile: Profile) -> Decimal:
    # SQLite sums decimals as floats: round to kopecks.
    total = profile.ledger_entries.aggregate(total=Sum("amount"))["total"] or Decimal("0")
    return Decimal(total).quantize(Decimal("0.01"))


def test_signup_posts_nothing_to_the_ledger_until_the_invoice_is_paid(client, signup_data):
    client.post("/signup/", signup_data(account_sum="3000,50"))

    profile = Profile.objects.get()
    assert list(profile.ledger_entries.all()) == []
    assert profile.account_sum == Decimal("0.00")


def test_a_paid_signup_invoice_is_the_ledger_s_first_entry(profile_factory):
    profile = profile_factory(account_sum=Decimal("3000.50"))  # the factory's customer has paid

    assert [(e.amount, e.reason) for e in profile.ledger_entries.all()] == [(Decimal("3000.50"), "payment")]
    assert profile.account_sum == Decimal("3000.50")


def test_a_debit_the_balance_cannot_cover_changes_nothing(customer):
    with pytest.raises(ledger.InsufficientBalance):
        ledger.ledger_post(profile=customer, amount=Decimal("-5000.01"), reason="staff")

    customer.refresh_from_db()
    assert customer.account_sum == Decimal("5000.00")
    assert customer.ledger_entries.count() == 1


def test_a_manager_change_from_the_crm_is_an_entry_for_the_difference(customer):
    changed, errors = services.profile_apply_staff_changes(
        profile=customer, data={"account_sum": Decimal("7250.00"), "wishes": "Пионы"}
    )

    assert (sorted(changed), errors) == (["account_sum", "wishes"], {})
    customer.refresh_from_db()
    assert (customer.account_sum, customer.wishes) == (Decimal("7250.00"), "Пионы")
    entry = customer.ledger_entries.first()
    assert (entry.amount, entry.reason) == (Decimal("2250.00"), "manager")


def test_staff_editing_the_sum_in_the_admin_posts_a_staff_entry(superuser_client, customer):
    data = {
        "email": customer.user.email,
        "is_active": "on",
        "account_status": "active",
        "paused_until": "",
        "account_sum": "4200.00",
        "bouquet_category": customer.bouquet_category.pk,
        "delivery_address": customer.delivery_address,
        "first_delivery_date": customer.first_delivery_date.strftime("%d.%m.%Y"),
        "delivery_interval": customer.delivery_interval,
        "wishes": customer.wishes,
        "phone": "",
        "referred_by": "",
    }

    response = superuser_client.post(f"/admin/accounts/profile/{customer.pk}/change/", data)

    assert response.status_code == HTTPStatus.FOUND
    customer.refresh_from_db()
    assert customer.account_sum == Decimal("4200.00")
    entry = customer.ledger_entries.first()
    assert (entry.amount, entry.reason, entry.note) == (
        Decimal("-800.00"),
        "staff",
        "Админка: boss@example.ru",
    )
    assert "Последние операции по счёту" in page_text(
        superuser_client.get(f"/admin/accounts/profile/{customer.pk}/change/")
    )


def test_the_account_page_history_shows_the_ledger_entries(customer_client, customer):
    ledger.ledger_post(profile=customer, amount=Decimal("-1250.00"), reason="delivery")

    text = page_text(customer_client.get("/account/"))

    assert "Что происходило" in text
    assert "Оплата получена" in text
    assert "+5 000,00 ₽" in text
    assert "-1 250,00 ₽" in text


def test_the_opening_balance_migration_gives_old_profiles_one_entry(customer):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("accounts.migrations.0004_ledger_opening_entries")
    LedgerEntry.objects.all().delete()  # as before the ledger existed

    migration.open_ledgers(apps, None)
    migration.open_ledgers(apps, None)  # a second run adds nothing

    assert [(e.amount, e.note) for e in customer.ledger_entries.all()] == [
        (Decimal("5000.00"), "opening balance")
    ]
    migration.close_ledgers(apps, None)
    assert not customer.ledger_entries.exists()


# -- the invariant -------------------------------------------------------------------------------

OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["manager", "staff", "deliver", "deliver_again", "refer", "skip"]),
        st.decimals(min_value=Decimal("-9000"), max_value=Decimal("9000"), places=2),
    ),
    max_size=12,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    opening=st.decimals(min_value=Decimal("0"), max_value=Decimal("20000"), places=2),
    operations=OPERATIONS,
)
def test_the_account_sum_always_equals_the_ledger_total(profile_factory, opening, operations):
    today = timezone.localdate()
    referrer = profile_factory(account_sum=Decimal("0"))
    profile = profile_factory(
        account_sum=opening, referred_by=referrer, first_delivery_date=today + datetime.timedelta(days=3)
    )
    for operation, amount in operations:
        profile.refresh_from_db()
        delivery = profile.deliveries.filter(status=Delivery.Status.SCHEDULED).order_by("delivery_on").first()
        try:
            if operation == "manager":
                services.profile_apply_staff_changes(profile=profile, data={"account_sum": abs(amount)})
            elif operation == "staff":
                ledger.ledger_post(profile=profile, amount=amount, reason="staff")
            elif operation == "deliver" and delivery:
                delivery_actions.delivery_complete(delivery_id=delivery.pk)
            elif operation == "deliver_again":
                done = profile.deliveries.filter(status=Delivery.Status.DELIVERED).first()
                if done:
                    assert delivery_actions.delivery_complete(delivery_id=done.pk) is False
            elif operation == "refer" and delivery:
                services.referral_reward_grant(delivery=delivery)
            elif operation == "skip" and delivery:
                delivery_actions.delivery_skip(profile=profile, delivery_id=delivery.pk)
        except (ledger.InsufficientBalance, delivery_actions.DeliveryError):
            pass

        for someone in (profile, referrer):
            someone.refresh_from_db()
            assert someone.account_sum == ledger_total(someone)
            assert someone.account_sum >= 0
    assert LedgerEntry.objects.filter(profile=referrer, reason="referral").count() <= 1
