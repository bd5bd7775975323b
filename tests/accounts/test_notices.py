"""Emails that tell the customer what changed (accounts.notices), and their lines in the history."""

import datetime
from decimal import Decimal

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from accounts import delivery_actions, payments, services
from accounts.models import BouquetCategory, Profile
from accounts.signals import Origin
from emails.models import Email
from tests.accounts.helpers import on_its_day

pytestmark = pytest.mark.django_db


def sent_to(profile: Profile, subject_part: str) -> list:
    return [m for m in mail.outbox if m.to == [profile.user.email] and subject_part in m.subject]


def html_of(message) -> str:
    [(html, kind)] = message.alternatives
    assert kind == "text/html"
    return html


def history_texts(client) -> str:
    return client.get("/account/").content.decode().replace("\xa0", " ")


def test_signup_sends_a_welcome_with_the_first_delivery_and_the_invoice(user_factory):
    user = user_factory()
    services.profile_create(
        user=user,
        bouquet_category=BouquetCategory.objects.get(slug="romantic"),
        delivery_address="Москва, ул. Ленина, 25",
        first_delivery_date=timezone.localdate() + datetime.timedelta(days=3),
        delivery_interval="weekly",
        wishes="",
        invoice_amount=Decimal("5000.00"),
    )

    [welcome] = [m for m in mail.outbox if m.to == [user.email]]
    assert welcome.subject == "Flower Account: добро пожаловать в цветочную подписку"
    body = welcome.body.replace("\xa0", " ")
    assert "Романтический" in body and "5 000,00 ₽" in body
    assert "/account/" in body
    assert "5 000,00 ₽" in html_of(welcome).replace("\xa0", " ")


def test_a_payment_sends_the_amount_and_the_new_balance(profile_factory):
    profile = profile_factory(paid=False, account_sum=Decimal("3000.00"))

    payments.invoice_pay(invoice=profile.invoices.get(), source="staff", confirmed_by="boss@example.ru")

    [paid] = sent_to(profile, "оплата получена")
    body = paid.body.replace("\xa0", " ")
    assert "3 000,00 ₽" in body and "баланс теперь 3 000,00 ₽" in body


def test_a_payment_email_is_queued_in_the_outbox_with_the_change_and_rolled_back_with_it(
    profile_factory, settings
):
    from flower_account import settings as site

    settings.MAILERS = {**settings.MAILERS, "default": site.MAILERS["default"]}
    profile = profile_factory(paid=False, account_sum=Decimal("3000.00"))
    before = Email.objects.count()

    with pytest.raises(RuntimeError), transaction.atomic():
        payments.invoice_pay(invoice=profile.invoices.get(), source="staff")
        assert Email.objects.count() == before + 1  # in the change's own transaction
        raise RuntimeError("the change fails after the email was queued")

    assert Email.objects.count() == before
    payments.invoice_pay(invoice=profile.invoices.get(), source="staff")
    assert Email.objects.filter(subject__contains="оплата получена").count() == 1


@pytest.mark.parametrize("origin", [Origin.CRM, Origin.STAFF])
def test_a_manager_moving_the_next_delivery_emails_the_customer_and_writes_the_history(
    client, profile_factory, origin
):
    profile = profile_factory()
    before = profile.next_delivery_on()
    new_day = before + datetime.timedelta(days=2)

    services.profile_apply_staff_changes(profile=profile, data={}, next_delivery_date=new_day, origin=origin)

    [moved] = sent_to(profile, "ближайшая доставка перенесена")
    body = moved.body.replace("\xa0", " ")
    assert f"с {before.day} " in body and f"на {new_day.day} " in body
    assert "Ваш менеджер перенёс" in html_of(moved)
    client.force_login(profile.user)
    assert "Менеджер перенёс ближайшую доставку" in history_texts(client)


def test_a_manager_pausing_cancels_the_next_delivery_and_says_so(client, profile_factory):
    profile = profile_factory()
    day = profile.next_delivery_on()

    services.profile_apply_staff_changes(
        profile=profile, data={"account_status": Profile.AccountStatus.PAUSED}, origin=Origin.CRM
    )

    [cancelled] = sent_to(profile, "доставка отменена")
    assert f"{day.day} " in cancelled.body
    client.force_login(profile.user)
    assert "Менеджер отменил доставку" in history_texts(client)


def test_the_customers_own_move_sends_no_notice(profile_factory):
    profile = profile_factory()
    new_day = profile.next_delivery_on() + datetime.timedelta(days=2)

    services.profile_update_preferences(profile=profile, data={}, next_delivery_date=new_day)

    assert sent_to(profile, "перенесена") == []


def test_a_delivered_bouquet_sends_a_notice(profile_factory):
    profile = profile_factory()
    delivery = profile.upcoming_deliveries(limit=1)[0]

    delivery_actions.delivery_complete(delivery_id=delivery.pk, now=on_its_day(delivery))

    [delivered] = sent_to(profile, "букет доставлен")
    assert "2 500,00 ₽" in delivered.body.replace("\xa0", " ")


def test_a_customer_who_turned_delivery_notices_off_gets_none_but_still_payments(client, profile_factory):
    profile = profile_factory(paid=False)
    Profile.objects.filter(pk=profile.pk).update(wants_delivery_notices=False)
    profile.refresh_from_db()
    payments.invoice_pay(invoice=profile.invoices.get(), source="crm")
    delivery = profile.upcoming_deliveries(limit=1)[0]

    delivery_actions.delivery_complete(delivery_id=delivery.pk, now=on_its_day(delivery))
    new_day = profile.next_delivery_on() + datetime.timedelta(days=2)
    services.profile_apply_staff_changes(
        profile=profile, data={}, next_delivery_date=new_day, origin=Origin.CRM
    )

    assert [m.subject for m in mail.outbox if m.to == [profile.user.email]] == [
        "Flower Account: оплата получена"
    ]
    client.force_login(profile.user)
    assert "Менеджер перенёс ближайшую доставку" in history_texts(client)  # the history still tells


def test_the_preferences_checkbox_turns_delivery_notices_off(customer_client, customer):
    data = {
        "bouquet_category": customer.bouquet_category.slug,
        "delivery_address": customer.delivery_address,
        "next_delivery_date": customer.next_delivery_on().isoformat(),
        "delivery_interval": customer.delivery_interval,
        "wishes": customer.wishes,
        "phone": customer.phone,
        "wants_reminders": "on",
    }

    customer_client.post("/account/preferences/", data)

    customer.refresh_from_db()
    assert customer.wants_reminders and not customer.wants_delivery_notices


def test_staff_moving_the_schedule_in_the_admin_emails_the_customer(profile_factory):
    profile = profile_factory()
    before = profile.next_delivery_on()
    profile.first_delivery_date = before + datetime.timedelta(days=3)

    services.profile_save_by_staff(
        profile=profile, is_new=False, staff_email="boss@example.ru", changed=["first_delivery_date"]
    )

    [moved] = sent_to(profile, "ближайшая доставка перенесена")
    assert f"с {before.day} " in moved.body.replace("\xa0", " ")


def test_the_emails_greet_the_customer_by_the_name_given_at_signup(user_factory, profile_factory):
    # Signup asks for the name "to greet you"; the emails said a bare "Здравствуйте!".
    profile = profile_factory(user=user_factory(first_name="Анна"), paid=False)
    nameless = profile_factory(paid=False)

    payments.invoice_pay(invoice=profile.invoices.get(), source="staff", confirmed_by="boss@example.ru")
    payments.invoice_pay(invoice=nameless.invoices.get(), source="staff", confirmed_by="boss@example.ru")

    [paid] = sent_to(profile, "оплата получена")
    assert paid.body.startswith("Здравствуйте, Анна!")
    assert "<p>Здравствуйте, Анна!</p>" in html_of(paid)
    [other] = sent_to(nameless, "оплата получена")
    assert other.body.startswith("Здравствуйте!") and "<p>Здравствуйте!</p>" in html_of(other)
