"""The couriers' file of one day: which deliveries, which columns, and the two formats staff download.

One column list (`COLUMNS`) serves the .xlsx and the ";"-separated CSV (what Excel with Russian
settings splits into columns); the deliveries sheet lays the same facts out for a screen in its own
template (templates/admin/accounts/delivery/sheet.html). Every text cell of both files goes through
`spreadsheet.cell`, so a formula typed into wishes or a note is shown, never run. The xlsx writes every
text cell as text (openpyxl would store a value starting with "=" as a formula).
"""

import csv
import datetime
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.utils.formats import date_format
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font

from accounts import phones, spreadsheet
from accounts.models import Delivery

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"


def address_line(delivery: Delivery, details: dict[str, str]) -> str:
    """The address with the way in, as a courier reads it: «…, кв. 10, подъезд 2, этаж 5, домофон 25К»."""
    parts = [delivery.delivery_address]
    if details["entrance"]:
        parts.append(gettext("entrance %(value)s") % {"value": details["entrance"]})
    if details["floor"]:
        parts.append(gettext("floor %(value)s") % {"value": details["floor"]})
    if details["intercom"]:
        parts.append(gettext("intercom %(value)s") % {"value": details["intercom"]})
    return ", ".join(parts)


@dataclass(frozen=True)
class Column:
    key: str
    header: Promise
    value: Callable[[Delivery, dict[str, str]], str | int | datetime.date]
    width: int  # characters, for the xlsx


WINDOWS = dict(Delivery.TimeWindow.choices)
COLUMNS = (
    Column("date", _("Date"), lambda d, _details: d.delivery_on, 11),
    Column("time", _("Time"), lambda _d, x: str(WINDOWS.get(x["time_window"], "")), 12),
    Column("recipient", _("Recipient"), lambda _d, x: x["recipient_name"], 18),
    # 8 (900) 123-45-67: dialled as it is; foreign numbers stay international (and get the quote).
    Column("phone", _("Recipient's phone"), lambda _d, x: phones.dialled_locally(x["recipient_phone"]), 18),
    Column("address", _("Address"), address_line, 45),
    Column("category", _("Category"), lambda d, _x: d.bouquet_category.name, 16),
    Column("wishes", _("Wishes"), lambda d, _x: d.profile.wishes, 30),
    Column("note", _("Note for the courier"), lambda _d, x: x["courier_note"], 30),
    Column("number", _("Delivery number"), lambda d, _x: d.pk, 10),
    Column("paid", _("Paid"), lambda d, _x: gettext("yes") if d.is_paid else gettext("no"), 9),
)


def deliveries_of(day: datetime.date):
    """The bouquets that go out on `day` (scheduled), in the couriers' order: by address."""
    return (
        Delivery.objects.filter(delivery_on=day, status=Delivery.Status.SCHEDULED)
        .select_related("profile__user", "bouquet_category")
        .order_by("delivery_address", "pk")
    )


def row(delivery: Delivery) -> dict[str, str | int | datetime.date]:
    """One delivery's values by column key, as they are (the sheet escapes them as HTML does)."""
    details = delivery.courier_details()
    return {column.key: column.value(delivery, details) for column in COLUMNS}


def _cells(deliveries: Iterable[Delivery]) -> Iterable[list[str | int | datetime.date]]:
    for delivery in deliveries:
        values = row(delivery).values()
        yield [spreadsheet.cell(v) if isinstance(v, str) else v for v in values]


def file_name(day: datetime.date, extension: str) -> str:
    return f"deliveries-{day.isoformat()}.{extension}"


def csv_bytes(deliveries: Iterable[Delivery]) -> bytes:
    """UTF-8 with a BOM and ";" between cells: Excel with Russian settings opens it in columns."""
    out = io.StringIO()
    out.write("\ufeff")
    # Every cell quoted (OWASP's advice too): a separator or quote in an address stays in its cell.
    writer = csv.writer(out, delimiter=";", quoting=csv.QUOTE_ALL)
    writer.writerow([str(c.header) for c in COLUMNS])
    for cells in _cells(deliveries):
        writer.writerow(date_format(v, "d.m.Y") if isinstance(v, datetime.date) else v for v in cells)
    return out.getvalue().encode("utf-8")


def xlsx_bytes(deliveries: Iterable[Delivery], *, title: str) -> bytes:
    """A workbook of one sheet: bold headings, text wrapped, dates as dates, text cells as text."""
    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]  # Excel's limit for a sheet name
    sheet.append([str(c.header) for c in COLUMNS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for cells in _cells(deliveries):
        sheet.append([ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in cells])
    wrap = Alignment(wrap_text=True, vertical="top")
    for line in sheet.iter_rows(min_row=2):
        for cell in line:
            cell.alignment = wrap
            if isinstance(cell.value, str):
                cell.data_type = "s"  # text, even when it starts with "=": never a formula
            elif isinstance(cell.value, datetime.date):
                cell.number_format = "DD.MM.YYYY"
    for index, column in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = column.width
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def sheet_deliveries(*, today: datetime.date, with_cancelled: bool = False):
    """Today's and tomorrow's deliveries for the deliveries sheet, by day and address; cancelled
    ones (dates that left the schedule) only when asked for."""
    deliveries = (
        Delivery.objects.filter(delivery_on__range=(today, today + datetime.timedelta(days=1)))
        .select_related("profile__user", "bouquet_category")
        .order_by("delivery_on", "delivery_address", "pk")
    )
    return deliveries if with_cancelled else deliveries.exclude(status=Delivery.Status.CANCELLED)
