"""The deliveries sheet in the admin: today's and tomorrow's rows, "Доставлено" and "Перенести" per
row (the rules are accounts.delivery_actions'), cancelled rows hidden until asked for."""

import datetime
import re
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from accounts import delivery_actions
from accounts.models import AccountEvent, Delivery, LedgerEntry
from amocrm.history import note_text
from tests.accounts.helpers import page_text

pytestmark = pytest.mark.django_db

SHEET = "/admin/accounts/delivery/sheet/"


def today() -> datetime.date:
    return timezone.localdate()


def day(offset: int) -> datetime.date:
    return today() + datetime.timedelta(days=offset)


def shown(response) -> list[int]:
    """The delivery ids of the sheet's rows, in order."""
    return [int(pk) for pk in re.findall(r'data-delivery="(\d+)"', response.content.decode())]


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def act(client, delivery: Delivery, action: str, **data):
    return client.post(SHEET, {"delivery": delivery.pk, "action": action, **data}, follow=True)


def test_the_sheet_lists_todays_and_tomorrows_deliveries_with_the_couriers_columns(
    superuser_client, profile_factory, user_factory
):
    todays = profile_factory(
        user_factory(first_name="Анна"), first_delivery_date=day(0), phone="+79001234567"
    )
    tomorrows = profile_factory(first_delivery_date=day(1), wishes="Без лилий")
    profile_factory(first_delivery_date=day(2))  # the day after tomorrow: not on the sheet
    first = todays.deliveries.get(delivery_on=day(0))
    second = tomorrows.deliveries.get(delivery_on=day(1))
    Delivery.objects.filter(pk=first.pk).update(entrance="2", intercom="25К", courier_note="Позвонить за час")

    response = superuser_client.get(SHEET)

    assert response.status_code == HTTPStatus.OK
    assert shown(response) == [first.pk, second.pk]
    text = page_text(response)
    assert "Доставки на сегодня и завтра" in text
    for expected in [
        "Анна",
        "8 (900) 123-45-67",
        "Москва, ул. Ленина, 25, кв. 10, подъезд 2, домофон 25К",
        "Романтический",
        "Позвонить за час",
        "Без лилий",
        "2 500,00 ₽",
    ]:
        assert expected in text


def test_cancelled_rows_are_hidden_until_asked_for(superuser_client, profile_factory):
    kept = profile_factory(first_delivery_date=day(1)).deliveries.get(delivery_on=day(1))
    gone = profile_factory(first_delivery_date=day(1)).deliveries.get(delivery_on=day(1))
    Delivery.objects.filter(pk=gone.pk).update(status=Delivery.Status.CANCELLED)

    hidden = superuser_client.get(SHEET)
    both = superuser_client.get(SHEET, {"cancelled": "1"})

    assert shown(hidden) == [kept.pk]
    assert "Показать 1 отменённую доставку" in page_text(hidden)
    assert sorted(shown(both)) == sorted([kept.pk, gone.pk])
    assert "Скрыть отменённые доставки" in page_text(both)


def test_delivered_marks_todays_delivery_and_debits_its_price(superuser_client, profile_factory):
    profile = profile_factory(first_delivery_date=day(0))
    delivery = profile.deliveries.get(delivery_on=day(0))

    response = act(superuser_client, delivery, "deliver")

    assert response.redirect_chain == [(SHEET, HTTPStatus.FOUND)]
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DELIVERED
    profile.refresh_from_db()
    assert profile.account_sum == Decimal("2500.00")
    assert any("отмечена доставленной" in t for t in texts(response))
    assert "доставлена" in page_text(response)  # the row now says so instead of the button


def test_delivered_is_refused_for_tomorrows_delivery(superuser_client, profile_factory):
    profile = profile_factory(first_delivery_date=day(1))
    delivery = profile.deliveries.get(delivery_on=day(1))

    page = superuser_client.get(SHEET)
    response = act(superuser_client, delivery, "deliver")

    assert 'value="deliver"' not in page.content.decode()  # no button for a future day
    assert "«Доставлено» — с" in page_text(page)
    assert any("её можно отметить доставленной с этого дня" in t for t in texts(response))
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SCHEDULED
    assert not LedgerEntry.objects.filter(profile=profile, reason="delivery").exists()


def test_move_puts_a_delivery_on_the_couriers_list_on_another_free_day(superuser_client, profile_factory):
    profile = profile_factory(first_delivery_date=day(1))
    delivery = profile.deliveries.get(delivery_on=day(1))

    response = act(superuser_client, delivery, "move", delivery_on=day(2).isoformat())

    delivery.refresh_from_db()
    assert (delivery.delivery_on, delivery.moved_from) == (day(2), day(1))
    assert shown(response) == []  # the day after tomorrow is not on the sheet
    assert any("перенесена с" in t for t in texts(response))
    # The customer reads it as a manager's move, never as their own.
    actions = list(AccountEvent.objects.filter(profile=profile).values_list("action", flat=True))
    assert "delivery_moved_by_manager" in actions
    assert "delivery_moved" not in actions


def test_move_keeps_the_rules_a_taken_day_and_a_past_day_are_refused(superuser_client, profile_factory):
    profile = profile_factory(first_delivery_date=day(1))
    delivery = profile.deliveries.get(delivery_on=day(1))
    taken = profile.deliveries.filter(delivery_on__gt=day(1)).first().delivery_on

    onto_taken = act(superuser_client, delivery, "move", delivery_on=taken.isoformat())
    into_past = act(superuser_client, delivery, "move", delivery_on=day(-1).isoformat())

    assert any("На этот день уже есть доставка" in t for t in texts(onto_taken))
    assert any("Выберите день с" in t for t in texts(into_past))
    delivery.refresh_from_db()
    assert delivery.delivery_on == day(1)


def test_a_customer_still_cannot_move_a_delivery_past_the_cut_off(profile_factory):
    profile = profile_factory(first_delivery_date=day(1))
    delivery = profile.deliveries.get(delivery_on=day(1))

    with pytest.raises(delivery_actions.DeliveryError, match="Перенести эту доставку уже нельзя"):
        delivery_actions.delivery_move(profile=profile, delivery_id=delivery.pk, new_date=day(2))


def test_a_staff_move_is_a_staff_note_for_managers():
    assert note_text("delivery_moved_by_staff", {"date": "2026-12-04", "to": "2026-12-05"}) == (
        "Сотрудник перенёс доставку с 4 декабря 2026 на 5 декабря 2026."
    )


def test_the_sheet_is_reachable_from_the_index_and_the_deliveries_list(superuser_client):
    index = superuser_client.get(reverse("admin:index")).content.decode()
    listing = superuser_client.get(reverse("admin:accounts_delivery_changelist")).content.decode()

    assert f'href="{SHEET}"' in index
    assert f'href="{SHEET}"' in listing
    assert f'href="{SHEET}tomorrow.xlsx"' in index


def test_staff_who_may_only_view_deliveries_see_the_sheet_without_buttons_and_cannot_post(
    client, user_factory, profile_factory
):
    delivery = profile_factory(first_delivery_date=day(0)).deliveries.get(delivery_on=day(0))
    staff = user_factory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_delivery"))
    client.force_login(staff)

    page = client.get(SHEET)
    response = client.post(SHEET, {"delivery": delivery.pk, "action": "deliver"})

    assert page.status_code == HTTPStatus.OK
    assert shown(page) == [delivery.pk]
    assert 'value="deliver"' not in page.content.decode()
    assert response.status_code == HTTPStatus.FORBIDDEN
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SCHEDULED


def test_staff_without_delivery_permissions_and_customers_get_no_sheet(client, user_factory, customer):
    staff = user_factory(is_staff=True)
    client.force_login(staff)
    assert client.get(SHEET).status_code == HTTPStatus.FORBIDDEN

    client.force_login(customer.user)
    response = client.get(SHEET)
    assert response.status_code == HTTPStatus.FOUND
    assert "/login/" in response.url


def test_a_post_without_the_csrf_token_is_refused(superuser, profile_factory):
    delivery = profile_factory(first_delivery_date=day(0)).deliveries.get(delivery_on=day(0))
    client = Client(enforce_csrf_checks=True)
    client.force_login(superuser)

    response = client.post(SHEET, {"delivery": delivery.pk, "action": "deliver"})

    assert response.status_code == HTTPStatus.FORBIDDEN
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SCHEDULED


def test_a_row_that_is_not_there_does_nothing(superuser_client):
    response = superuser_client.post(SHEET, {"delivery": "abc", "action": "deliver"}, follow=True)

    assert response.status_code == HTTPStatus.OK
    assert texts(response) == ["Ничего не сделано: строка не найдена."]


def test_a_day_typed_wrong_is_said_to_be_the_day_not_a_missing_row(superuser_client, profile_factory):
    delivery = profile_factory(first_delivery_date=day(1)).deliveries.get(delivery_on=day(1))

    response = superuser_client.post(
        SHEET, {"delivery": delivery.pk, "action": "move", "delivery_on": "31.02.2026"}, follow=True
    )

    assert texts(response) == ["Ничего не сделано: Введите правильную дату."]
    delivery.refresh_from_db()
    assert delivery.delivery_on == day(1)


def test_the_sheets_buttons_go_into_the_admins_history(superuser_client, profile_factory):
    """The delivery's «История» and the index's «Последние действия» said nothing of the day's work."""
    today_row = profile_factory(first_delivery_date=day(0)).deliveries.get(delivery_on=day(0))
    tomorrow_row = profile_factory(first_delivery_date=day(1)).deliveries.get(delivery_on=day(1))

    act(superuser_client, today_row, "deliver")
    act(superuser_client, tomorrow_row, "move", delivery_on=day(2).isoformat())

    logged = LogEntry.objects.order_by("pk").values_list("object_id", "change_message")
    moved = f"Перенесена с {date_format(day(1), 'j E')} на {date_format(day(2), 'j E')}."
    assert list(logged) == [(str(today_row.pk), "Отмечена доставленной."), (str(tomorrow_row.pk), moved)]
    history = superuser_client.get(reverse("admin:accounts_delivery_history", args=[today_row.pk]))
    assert "Отмечена доставленной." in page_text(history)
