"""Where the subscription stands (the progress line) and what happened (the paged history)."""

import datetime
import re
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.test import Client
from django.utils import formats, timezone

from accounts import delivery_actions, history, ledger, payments, services
from accounts.models import AccountEvent, Invoice
from tests.accounts.helpers import on_its_day, page_text

pytestmark = pytest.mark.django_db


def progress(response) -> list[tuple[str, str]]:
    """(state, label) of each step of the progress line."""
    return re.findall(
        r'<li class="progress__step progress__step--(\w+)"[^>]*>([^<]*)</li>', page_text(response)
    )


def history_lines(response) -> list[str]:
    section = page_text(response).split('id="history"', 1)[1].split("</section>", 1)[0]
    lines = re.findall(r'<li class="history__item[^"]*">(.*?)</li>', section, re.S)
    return [" ".join(re.sub(r"<[^>]+>", "", line).split()) for line in lines]


def test_a_new_customer_sees_the_request_received_and_payment_awaited(client, profile_factory):
    profile = profile_factory(account_sum=Decimal("0"))
    payments.invoice_issue(profile=profile, amount=Decimal("5000"))
    client.force_login(profile.user)

    assert progress(client.get("/account/")) == [
        ("done", "Заявка принята"),
        ("current", "Ожидает оплаты"),  # not "paid" lit up while nothing is paid
        ("todo", "Доставки идут"),
    ]


def test_a_paid_customer_sees_deliveries_under_way(customer_client):
    assert progress(customer_client.get("/account/")) == [
        ("done", "Заявка принята"),
        ("done", "Оплачено"),
        ("current", "Доставки идут"),
    ]


def test_a_paused_subscription_says_so_in_the_progress_line(customer_client, customer):
    delivery_actions.profile_pause(profile=customer)

    assert progress(customer_client.get("/account/"))[-1] == ("current", "На паузе")


def test_the_history_merges_actions_deliveries_and_payments_newest_first(customer_client, customer):
    first, second = customer.upcoming_deliveries()[:2]
    delivery_actions.delivery_skip(profile=customer, delivery_id=second.pk)
    delivery_actions.delivery_complete(delivery_id=first.pk, now=on_its_day(first))
    delivery_actions.profile_pause(profile=customer)

    lines = history_lines(customer_client.get("/account/"))

    assert [line.split(" · ", 1)[1] for line in lines] == [
        "Вы приостановили подписку до возобновления",
        f"Букет доставлен {day(first.delivery_on)} · -2 500,00 ₽",
        f"Вы пропустили доставку {day(second.delivery_on)}",
        "Оплата получена · +5 000,00 ₽",
        "Выставлен счёт на 5 000,00 ₽",
        "Вы оформили подписку",
    ]


def test_an_invoice_paid_days_later_reads_issued_on_its_day_and_paid_on_the_payment_s(
    client, profile_factory
):
    profile = profile_factory(account_sum=Decimal("0"))
    invoice = payments.invoice_issue(profile=profile, amount=Decimal("5000"))
    issued = timezone.now() - datetime.timedelta(days=3)
    Invoice.objects.filter(pk=invoice.pk).update(created_at=issued)
    payments.invoice_pay(invoice=invoice, source="staff")
    client.force_login(profile.user)

    lines = history_lines(client.get("/account/"))

    today = day(timezone.localdate())
    assert lines == [
        f"{today} · Оплата получена · +5 000,00 ₽",
        f"{today} · Вы оформили подписку",
        f"{day(timezone.localtime(issued).date())} · Выставлен счёт на 5 000,00 ₽",
    ]
    assert not any("оплачен" in line for line in lines)  # the payment is told once, on its own day


def test_a_cancelled_invoice_reads_issued_then_cancelled(client, profile_factory):
    profile = profile_factory(account_sum=Decimal("0"))
    invoice = payments.invoice_issue(profile=profile, amount=Decimal("700"))
    Invoice.objects.filter(pk=invoice.pk).update(status=Invoice.Status.CANCELLED)
    client.force_login(profile.user)

    assert history_lines(client.get("/account/"))[0].split(" · ", 1)[1] == (
        "Выставлен счёт на 700,00 ₽, позже отменён"
    )


def test_an_invoice_from_before_invoices_existed_is_not_a_line_of_the_history(customer_client, customer):
    """Its sum came to the balance as a ledger entry, which the history shows; the invoice would tell
    it a second time."""
    Invoice.objects.create(
        profile=customer,
        amount=Decimal("777.00"),
        status=Invoice.Status.PAID,
        source=Invoice.Source.MIGRATION,
        paid_at=timezone.now(),
    )

    lines = history_lines(customer_client.get("/account/"))

    assert "Выставлен счёт на 5 000,00 ₽" in [line.split(" · ", 1)[1] for line in lines]
    assert [line for line in lines if "777" in line] == []


def test_a_move_and_a_skip_taken_back_are_in_the_history(customer_client, customer):
    _first, second, third = customer.upcoming_deliveries()[:3]
    delivery_actions.delivery_skip(profile=customer, delivery_id=second.pk)
    delivery_actions.delivery_unskip(profile=customer, delivery_id=second.pk)
    new_day = third.delivery_on + datetime.timedelta(days=1)
    delivery_actions.delivery_move(profile=customer, delivery_id=third.pk, new_date=new_day)

    lines = [line.split(" · ", 1)[1] for line in history_lines(customer_client.get("/account/"))]

    assert lines[:3] == [
        f"Вы перенесли доставку с {day(third.delivery_on)} на {day(new_day)}",
        f"Вы вернули пропущенную доставку {day(second.delivery_on)}",
        f"Вы пропустили доставку {day(second.delivery_on)}",
    ]


def test_the_history_never_shows_another_customer_s_actions_or_invoices(
    customer_client, customer, profile_factory
):
    other = profile_factory(account_sum=Decimal("0"))
    payments.invoice_issue(profile=other, amount=Decimal("7777"))
    delivery_actions.delivery_skip(profile=other, delivery_id=other.upcoming_deliveries()[0].pk)

    text = page_text(customer_client.get("/account/"))

    assert "7 777" not in text
    assert "Вы пропустили доставку" not in text


def test_the_history_never_shows_staff_notes_or_what_the_customer_did_not_do(
    customer_client, customer, superuser
):
    customer.account_sum = Decimal("4200.00")
    services.profile_save_by_staff(profile=customer, is_new=False, staff_email="boss@example.ru")
    services.password_reset_requested(email=customer.user.email)

    text = page_text(customer_client.get("/account/"))

    assert "boss@example.ru" not in text
    assert "Исправление сотрудником" in text  # the balance change itself is theirs to see
    assert not AccountEvent.objects.filter(action="password_reset_requested").exists()


def test_the_history_is_paged_and_a_bad_page_number_is_not_an_error(customer_client, customer, settings):
    settings.ACCOUNT_HISTORY_SHOWN = 3
    for _ in range(5):
        ledger.ledger_post(profile=customer, amount=Decimal("1"), reason="staff")  # 5 + 3 = 8 lines

    first = customer_client.get("/account/")
    third = customer_client.get("/account/?page=3")

    assert len(history_lines(first)) == 3
    assert "Страница 1" in page_text(first)
    assert 'href="?page=2#history"' in page_text(first)
    assert history_lines(third)[-1].endswith("Вы оформили подписку")
    assert len(history_lines(third)) == 2
    assert 'href="?page=4#history"' not in page_text(third)
    for bad in ("abc", "0", "-1", "999", "1e9", "%00", "99999999999999999999"):
        response = customer_client.get(f"/account/?page={bad}")
        assert response.status_code == HTTPStatus.OK, bad
        assert history_lines(response) == history_lines(first), bad  # the first page


def test_the_account_page_stays_within_six_queries_with_a_long_history_and_an_invoice(
    customer_client, customer, settings, django_assert_max_num_queries
):
    settings.ACCOUNT_HISTORY_SHOWN = 3
    payments.invoice_issue(profile=customer, amount=Decimal("3000"))
    for delivery in customer.upcoming_deliveries()[:2]:
        delivery_actions.delivery_skip(profile=customer, delivery_id=delivery.pk)

    with django_assert_max_num_queries(6):
        response = customer_client.get("/account/?page=2")

    assert response.status_code == HTTPStatus.OK
    assert "Счёт на 3 000,00 ₽ ожидает оплаты" in page_text(response)


def test_a_page_knows_whether_an_older_one_exists_without_counting(customer):
    delivery_actions.delivery_skip(profile=customer, delivery_id=customer.upcoming_deliveries()[0].pk)
    payments.invoice_issue(profile=customer, amount=Decimal("100"))  # 5 lines in all

    full = history.page_get(profile=customer, number="1", per_page=5)
    split = history.page_get(profile=customer, number="1", per_page=4)

    assert (len(full.items), full.has_next) == (5, False)
    assert (len(split.items), split.has_next) == (4, True)
    assert split.items[0].text == "Выставлен счёт на 100,00 ₽, ожидает оплаты"


def test_a_customer_who_never_logged_in_cannot_see_a_history(db):
    response = Client().get("/account/?page=2")

    assert response.status_code == HTTPStatus.FOUND


def day(value) -> str:
    from django.utils.formats import date_format

    return date_format(value, "j E Y")


@pytest.mark.parametrize(
    "at",
    [
        datetime.datetime(2026, 3, 29, 0, 30, tzinfo=datetime.UTC),  # past midnight in Moscow
        datetime.datetime(2026, 12, 31, 22, 15, 7, 123456, tzinfo=datetime.UTC),  # next year in Moscow
        datetime.datetime(2026, 6, 1, 12, 0, tzinfo=datetime.UTC),
    ],
)
def test_a_history_line_tells_its_time_as_the_c_date_format_would(at):
    """Item 11 (speed): the line's machine-readable time is written with isoformat(), not through
    the date formatter; it stays what `date_format(..., "c")` prints in the site's time zone."""
    item = history.Item(at=at, kind="event", text="")

    assert item.at_iso == formats.date_format(timezone.localtime(at), "c")
    assert item.at_iso.endswith("+03:00")
