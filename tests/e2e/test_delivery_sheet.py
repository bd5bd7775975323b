"""In a real browser: staff open the deliveries sheet from the admin index, mark today's delivery
delivered, find no such button on tomorrow's, and download tomorrow's couriers' file (.xlsx), which
openpyxl reads back with the right rows (issue 28, items 1 and 2)."""

import io
import re
from pathlib import Path

import openpyxl
import pytest

from tools.harness.browser import DESKTOP, axe_violations, sign_in_staff
from tools.harness.site import unique_email

pytestmark = pytest.mark.e2e

# Two paying customers, one delivery today and one tomorrow; prints their delivery ids.
CUSTOMERS = """
import datetime
from decimal import Decimal
from django.utils import timezone
from accounts import payments, services
from accounts.models import BouquetCategory, Profile, User
today = timezone.localdate()
ids = []
for days, email, name in [(0, {today_email!r}, "Вера"), (1, {tomorrow_email!r}, "Глеб")]:
    profile = services.profile_create(
        user=User.objects.create_user(email=email, first_name=name),
        bouquet_category=BouquetCategory.objects.get(slug="romantic"),
        delivery_address="Москва, ул. Садовая, д. 3, кв. 7",
        first_delivery_date=today + datetime.timedelta(days=days),
        delivery_interval="weekly",
        wishes="=1+1 без лилий",
        invoice_amount=Decimal("5000"),
    )
    payments.invoice_pay(invoice=profile.invoices.get(), source="crm", confirmed_by="e2e")
    Profile.objects.filter(pk=profile.pk).update(entrance="2", floor="5", intercom="25К")
    ids.append(profile.deliveries.get(delivery_on=today + datetime.timedelta(days=days)).pk)
print(*ids)
"""


def test_staff_mark_a_delivery_delivered_on_the_sheet_and_download_tomorrows_xlsx(stack, new_page):
    script = CUSTOMERS.format(
        today_email=unique_email("sheet-today"), tomorrow_email=unique_email("sheet-tomorrow")
    )
    todays, tomorrows = (int(pk) for pk in stack.manage("shell", "-c", script).split()[-2:])
    page = new_page(DESKTOP)
    sign_in_staff(stack, page, "sheet-staff")

    # Tomorrow's file is one click from the index (docs/deliveries.md counts the clicks).
    with page.expect_download() as from_index:
        page.get_by_role("link", name="Файл для курьеров (xlsx)").click()
    assert from_index.value.suggested_filename.endswith(".xlsx")
    page.get_by_role("link", name="Лист доставок: отметить доставленными, перенести").click()
    page.wait_for_url(re.compile(r"/admin/accounts/delivery/sheet/$"))
    assert page.locator(f"tr[data-delivery='{tomorrows}'] button[value=deliver]").count() == 0
    page.locator(f"tr[data-delivery='{todays}'] button[value=deliver]").click()
    page.wait_for_url(re.compile(r"/admin/accounts/delivery/sheet/$"))

    assert "отмечена доставленной" in page.locator(".messagelist").inner_text()
    assert "доставлена" in page.locator(f"tr[data-delivery='{todays}']").inner_text()
    # Nothing wider than the window: the sheet fits 1280 px without sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= DESKTOP["width"]
    assert axe_violations(page) == []

    with page.expect_download() as download_info:
        page.locator("#sheet-tomorrow").get_by_role("link", name="Excel (xlsx)").click()
    download = download_info.value
    assert re.fullmatch(r"deliveries-\d{4}-\d{2}-\d{2}\.xlsx", download.suggested_filename)
    # Playwright's download has no extension on disk; openpyxl goes by the name, so it reads bytes.
    sheet = openpyxl.load_workbook(io.BytesIO(Path(download.path()).read_bytes())).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0][:5] == ["Дата", "Время", "Получатель", "Телефон получателя", "Адрес"]
    [mine] = [row for row in rows[1:] if row[8] == tomorrows]
    assert mine[2] == "Глеб"
    assert mine[4] == "Москва, ул. Садовая, д. 3, кв. 7, подъезд 2, этаж 5, домофон 25К"
    assert mine[6] == "'=1+1 без лилий"  # shown as typed, never run
    assert mine[9] == "да"
    assert todays not in [row[8] for row in rows[1:]]  # today's is not in tomorrow's file
