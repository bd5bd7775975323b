"""Reminder emails before each bouquet and when the balance runs low: when they are due, what they
say, that none goes twice, and the preferences checkbox that turns them off."""

import datetime
import io
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from accounts import delivery_actions, ledger, payments, reminders, services
from accounts.models import Delivery, LedgerEntry, Profile
from amocrm.models import LeadSync

pytestmark = pytest.mark.django_db

d = datetime.date.fromisoformat
MSK = ZoneInfo("Europe/Moscow")


def at(day: str, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime.combine(d(day), datetime.time(hour, minute), tzinfo=MSK)


@pytest.fixture(autouse=True)
def _reminder_settings(settings):
    settings.DELIVERY_REMINDER_DAYS = 3
    settings.DELIVERY_REMINDER_HOUR = 10
    settings.DELIVERY_SKIP_CUTOFF_DAYS = 2
    settings.SITE_URL = "https://flowers.example"


@pytest.fixture
def anna(profile_factory, user_factory) -> Profile:
    """Weekly on Thursdays from 4 February 2027, planned as of Monday 1 February."""
    profile = profile_factory(user=user_factory(email="anna@example.ru"), first_delivery_date=d("2027-02-04"))
    services.deliveries_reschedule(profile=profile, today=d("2027-02-01"))
    return profile


def send(now: datetime.datetime) -> reminders.Report:
    return reminders.reminders_send(now=now)


def reminders_to(email: str) -> list[EmailMultiAlternatives]:
    return [m for m in mail.outbox if m.to == [email] and "букет приедет" in m.subject]


# -- when ----------------------------------------------------------------------------------------


def test_the_reminder_goes_three_days_before_from_ten_oclock_moscow_time(anna):
    assert send(at("2027-02-01", 9, 59)).sent == 0
    assert mail.outbox == []

    report = send(at("2027-02-01", 10, 0))

    assert (report.due, report.sent) == (1, 1)
    [message] = reminders_to("anna@example.ru")
    assert message.subject == "Flower Account: ваш букет приедет 4 февраля"
    assert Delivery.objects.get(profile=anna, delivery_on=d("2027-02-04")).reminded_at == at("2027-02-01", 10)


def test_a_delivery_booked_after_its_reminder_moment_still_gets_one(anna):
    send(at("2027-02-01", 12))
    mail.outbox.clear()
    moved = delivery_actions.delivery_move(
        profile=anna, delivery_id=anna.deliveries.get(delivery_on=d("2027-02-11")).pk,
        new_date=d("2027-02-03"), today=d("2027-02-01"),
    )  # fmt: skip

    send(at("2027-02-01", 13))

    [message] = reminders_to("anna@example.ru")
    assert "3 февраля" in message.subject
    moved.refresh_from_db()
    assert moved.reminded_at == at("2027-02-01", 13)


def test_nothing_is_reminded_for_skipped_deliveries_or_deliveries_today(anna):
    delivery_actions.delivery_skip(
        profile=anna, delivery_id=anna.deliveries.get(delivery_on=d("2027-02-11")).pk, today=d("2027-02-01")
    )

    assert send(at("2027-02-04", 10)).sent == 0  # 4 February is today; 11 February is skipped
    assert mail.outbox == []


# -- what it says ------------------------------------------------------------------------------


def test_the_reminder_tells_date_bouquet_address_wishes_and_how_to_skip_in_text_and_html(anna):
    send(at("2027-02-01", 10))

    [message] = reminders_to("anna@example.ru")
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    for body in (message.body, html):
        assert "4 февраля 2027, четверг" in body
        assert "Романтический" in body
        assert "Москва, ул. Ленина, 25, кв. 10" in body
        assert "Больше зелени, без роз" in body
        assert "https://flowers.example/account/deliveries/skip/" in body
        assert "до 2 февраля" in body
    assert '<a href="https://flowers.example/account/deliveries/skip/' in html


def test_a_reminder_for_a_bouquet_the_balance_does_not_cover_says_to_pay_the_invoice(
    profile_factory, user_factory
):
    # "Your bouquet arrives on 4 February" to a customer whose account page says it is not covered.
    new = profile_factory(
        user=user_factory(email="new@example.ru"), first_delivery_date=d("2027-02-04"), paid=False
    )
    services.deliveries_reschedule(profile=new, today=d("2027-02-01"))

    send(at("2027-02-01", 10))

    [message] = reminders_to("new@example.ru")
    [(html, _)] = message.alternatives
    for body in (message.body.replace("\xa0", " "), html.replace("\xa0", " ")):
        assert "Баланса пока не хватает на этот букет (2 500,00 ₽): оплатите счёт, чтобы он приехал." in body


def test_a_reminder_for_a_covered_bouquet_says_nothing_about_money(anna):
    send(at("2027-02-01", 10))

    [message] = reminders_to("anna@example.ru")
    assert "не хватает" not in message.body


def test_a_reminder_sent_after_the_cut_off_has_no_skip_link(anna, settings):
    settings.DELIVERY_REMINDER_DAYS = 1  # the reminder comes after the skip cut-off

    send(at("2027-02-03", 10))

    [message] = reminders_to("anna@example.ru")
    [(html, _mimetype)] = message.alternatives
    assert "/deliveries/skip/" not in message.body and "/deliveries/skip/" not in html


# -- never twice -----------------------------------------------------------------------------------


def test_running_twice_sends_each_reminder_once(anna, profile_factory, user_factory):
    boris = profile_factory(user=user_factory(email="boris@example.ru"), first_delivery_date=d("2027-02-03"))
    services.deliveries_reschedule(profile=boris, today=d("2027-02-01"))

    first = send(at("2027-02-01", 10))
    second = send(at("2027-02-01", 11))

    assert (first.sent, second.due, second.sent) == (2, 0, 0)
    assert len(reminders_to("anna@example.ru")) == len(reminders_to("boris@example.ru")) == 1


def test_a_reminder_another_run_claimed_meanwhile_is_not_sent_again(anna, monkeypatch):
    due = reminders.deliveries_due

    def due_then_claimed_elsewhere(*, now):
        ids = list(due(now=now).values_list("pk", flat=True))
        Delivery.objects.filter(pk__in=ids).update(reminded_at=now)  # the other run got there first
        return Delivery.objects.filter(pk__in=ids)

    monkeypatch.setattr(reminders, "deliveries_due", due_then_claimed_elsewhere)

    report = send(at("2027-02-01", 10))

    assert (report.due, report.sent) == (1, 0)
    assert mail.outbox == []


def test_a_failed_send_is_given_back_and_retried_next_run_while_the_rest_go(
    anna, profile_factory, user_factory, monkeypatch
):
    boris = profile_factory(user=user_factory(email="boris@example.ru"), first_delivery_date=d("2027-02-03"))
    services.deliveries_reschedule(profile=boris, today=d("2027-02-01"))
    real_send = EmailMultiAlternatives.send

    def fail_for_boris(message, *args, **kwargs):
        if message.to == ["boris@example.ru"]:
            raise ConnectionRefusedError("the mail server is down")
        return real_send(message, *args, **kwargs)

    monkeypatch.setattr(EmailMultiAlternatives, "send", fail_for_boris)
    first = send(at("2027-02-01", 10))
    monkeypatch.undo()
    second = send(at("2027-02-01", 11))

    assert (first.sent, first.failed, second.sent) == (1, 1, 1)
    assert len(reminders_to("anna@example.ru")) == len(reminders_to("boris@example.ru")) == 1


def test_a_moved_delivery_is_reminded_again_for_its_new_date(anna):
    send(at("2027-02-01", 10))
    delivery = anna.deliveries.get(delivery_on=d("2027-02-04"))
    delivery_actions.delivery_move(
        profile=anna, delivery_id=delivery.pk, new_date=d("2027-02-06"), today=d("2027-02-01")
    )

    send(at("2027-02-03", 10))

    assert [m.subject for m in reminders_to("anna@example.ru")][-1].endswith("6 февраля")


# -- off switch ------------------------------------------------------------------------------------


def test_reminders_off_in_preferences_means_no_email(client, anna):
    client.force_login(anna.user)
    page = client.get(reverse("accounts:preferences")).content.decode()
    assert re.search(r'<input[^>]*name="wants_reminders"[^>]*\bchecked', page)  # on unless turned off
    sync_revision = LeadSync.objects.get(profile=anna).revision
    data = {
        "bouquet_category": "romantic",
        "delivery_address": anna.delivery_address,
        "next_delivery_date": "2027-02-04",
        "delivery_interval": "weekly",
        "wishes": anna.wishes,
        "phone": "",
    }  # the checkbox left unticked

    client.post(reverse("accounts:preferences"), data)
    anna.refresh_from_db()

    assert anna.wants_reminders is False
    assert LeadSync.objects.get(profile=anna).revision == sync_revision  # not news for the CRM
    assert send(at("2027-02-01", 10)).due == 0
    assert mail.outbox == []


# -- low balance -----------------------------------------------------------------------------------


def low_balance_to(email: str) -> list[EmailMultiAlternatives]:
    return [m for m in mail.outbox if m.to == [email] and "баланс" in m.subject]


def test_a_low_balance_email_goes_once_per_shortfall(anna):
    ledger.ledger_post(profile=anna, amount=Decimal("-4000.00"), reason=LedgerEntry.Reason.STAFF)  # 1000 left

    send(at("2027-02-01", 10))
    send(at("2027-02-01", 11))
    send(at("2027-02-02", 10))

    [message] = low_balance_to("anna@example.ru")
    assert message.subject == "Flower Account: баланса не хватает на следующий букет"
    assert "1 000,00 ₽" in message.body.replace(
        "\xa0", " "
    ) and "не хватает 1 500,00 ₽" in message.body.replace("\xa0", " ")
    assert message.alternatives[0][1] == "text/html"

    ledger.ledger_post(profile=anna, amount=Decimal("3000.00"), reason=LedgerEntry.Reason.MANAGER)
    assert send(at("2027-02-02", 11)).low_balance_cleared == 1
    ledger.ledger_post(profile=anna, amount=Decimal("-3000.00"), reason=LedgerEntry.Reason.STAFF)
    send(at("2027-02-02", 12))

    assert len(low_balance_to("anna@example.ru")) == 2  # a new shortfall, a new email


def test_no_low_balance_email_at_night_or_when_the_balance_covers_the_bouquet(
    anna, profile_factory, user_factory
):
    ledger.ledger_post(profile=anna, amount=Decimal("-4000.00"), reason=LedgerEntry.Reason.STAFF)
    profile_factory(user=user_factory(email="rich@example.ru"), first_delivery_date=d("2027-02-04"))

    send(at("2027-02-01", 3))
    assert low_balance_to("anna@example.ru") == []
    send(at("2027-02-01", 10))
    assert len(low_balance_to("anna@example.ru")) == 1 and low_balance_to("rich@example.ru") == []


def test_an_invoice_awaiting_payment_is_not_a_low_balance_until_it_is_paid_and_spent(
    profile_factory, user_factory
):
    new = profile_factory(
        user=user_factory(email="new@example.ru"),
        first_delivery_date=d("2027-02-04"),
        account_sum=Decimal("0"),
    )
    services.deliveries_reschedule(profile=new, today=d("2027-02-01"))
    invoice = payments.invoice_issue(profile=new, amount=Decimal("5000"))

    send(at("2027-02-01", 10))
    assert low_balance_to("new@example.ru") == []  # the invoice already asks for the money

    payments.invoice_pay(invoice=invoice, amount=Decimal("5000"), source="staff")
    ledger.ledger_post(profile=new, amount=Decimal("-4000.00"), reason=LedgerEntry.Reason.STAFF)
    send(at("2027-02-01", 11))
    assert len(low_balance_to("new@example.ru")) == 1


# -- the command -------------------------------------------------------------------------------


def test_the_command_sends_what_is_due_and_says_how_many(anna, monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: at("2027-02-01", 10))
    out = io.StringIO()

    call_command("deliveries_remind", "--dry-run", stdout=out)
    assert "Due: 1 reminder(s)" in out.getvalue() and mail.outbox == []

    call_command("deliveries_remind", stdout=out)
    call_command("deliveries_remind", stdout=out)

    assert "Sent 1 of 1 reminder(s)" in out.getvalue()
    assert "Sent 0 of 0 reminder(s)" in out.getvalue()
    assert len(reminders_to("anna@example.ru")) == 1


def test_the_command_exits_non_zero_when_a_reminder_could_not_be_queued(anna, monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: at("2027-02-01", 10))
    monkeypatch.setattr(EmailMultiAlternatives, "send", _refuse)

    # CommandError is what makes manage.py exit 1 (`execute_from_command_line` would also close the
    # test's database connection on its way out, which PostgreSQL's test transaction cannot survive).
    with pytest.raises(CommandError, match="could not be queued"):
        call_command("deliveries_remind", stdout=io.StringIO(), stderr=io.StringIO())

    assert not Delivery.objects.filter(profile=anna, reminded_at__isnull=False).exists()  # given back


def _refuse(message, *args, **kwargs):
    raise ConnectionRefusedError("the mail server is down")
