"""Screenshots of the admin index (the staff's control room) at desktop width: connected, with the
account blocked, and not connected; the deliveries sheet (today and tomorrow); and a customer card,
with a payment confirmed on it; the three lists staff work in and a failed sync's page; and pages
that show the admin in Russian (issue 28 item 6). Written where test_screenshots.py writes its own
(`tools/screenshots.py` refreshes docs/screenshots/); the stack is left connected and unblocked.
"""

import os
from pathlib import Path

import pytest

from tools.harness.browser import DESKTOP, sign_in_staff, sign_up, wait_for
from tools.harness.site import signup_data, unique_email
from tools.harness.stack import connect

pytestmark = pytest.mark.e2e

# Customers whose bouquets go out today and tomorrow (the form only offers later dates).
SCHEDULED = """
import datetime
from decimal import Decimal
from django.utils import timezone
from accounts import services
from accounts.models import BouquetCategory, User
today = timezone.localdate()
for n, days in enumerate([0, 1, 1, 1]):
    services.profile_create(
        user=User.objects.create_user(email=f"scheduled{n}@example.com"),
        bouquet_category=BouquetCategory.objects.order_by("pk").first(),
        delivery_address="Москва, ул. Цветочная, д. 1",
        first_delivery_date=today + datetime.timedelta(days=days),
        delivery_interval="weekly",
        wishes="",
        invoice_amount=Decimal("5000"),
    )
# What the deliveries sheet shows: courier details on two, one paid customer, one delivered.
from accounts import delivery_actions, payments
from accounts.models import Delivery, Profile
first, second = Profile.objects.filter(user__email__startswith="scheduled").order_by("pk")[:2]
Profile.objects.filter(pk=first.pk).update(
    time_window="09-12", entrance="3", floor="7", intercom="45К", courier_note="Позвонить за 30 минут"
)
Profile.objects.filter(pk=second.pk).update(
    time_window="18-21", wishes="Без лилий, открытка «С днём рождения»"
)
Delivery.objects.filter(profile=second).update(recipient_name="Мария", recipient_phone="+79161234567")
for profile in (first, second):
    payments.invoice_pay(invoice=profile.invoices.get(), source="crm", confirmed_by="screenshots")
delivery_actions.delivery_complete(delivery_id=first.deliveries.get(delivery_on=today).pk)
"""
BLOCK = (
    "from amocrm.exceptions import AmoCRMForbidden; from amocrm.services.breaker import DatabaseBreaker; "
    "DatabaseBreaker().failed(AmoCRMForbidden('amoCRM answered 403 (blocked)', status=403))"
)
UNBLOCK = "from amocrm.models import CircuitBreaker; CircuitBreaker.objects.all().delete()"
DISCONNECT = "from amocrm.models import OAuthToken; OAuthToken.objects.all().delete()"
# A day's rows for the lists: deliveries today (one delivered), an invoice paid, one cancelled, one
# awaiting; the site's events as notes for amoCRM; a group with its permissions.
RUSSIAN_DAY = """
import datetime
from decimal import Decimal
from django.contrib.auth.models import Group, Permission
from django.utils import timezone
from accounts import delivery_actions, payments, services
from accounts.models import BouquetCategory, Invoice, User
today = timezone.localdate()
for n in range(3):
    profile = services.profile_create(
        user=User.objects.create_user(email=f"list{n}@example.com"),
        bouquet_category=BouquetCategory.objects.order_by("pk").first(),
        delivery_address=f"Москва, ул. Садовая, д. {n + 3}",
        first_delivery_date=today,
        delivery_interval="weekly",
        wishes="",
        invoice_amount=Decimal("12500"),
    )
    payments.invoice_pay(invoice=profile.invoices.get(), source="staff", confirmed_by="lists@example.com")
    cancelled = payments.invoice_issue(profile=profile, amount=Decimal("2500"))
    Invoice.objects.filter(pk=cancelled.pk).update(status=Invoice.Status.CANCELLED)
    payments.invoice_issue(profile=profile, amount=Decimal("2500"))
    if n == 0:
        delivery_actions.delivery_complete(delivery_id=profile.deliveries.get(delivery_on=today).pk)
group = Group.objects.create(name="Флористы")
group.permissions.set(Permission.objects.filter(content_type__app_label="accounts"))
"""


@pytest.fixture
def folder(artifacts) -> Path:
    """Where the screenshots go (tools/screenshots.py sets E2E_SCREENSHOTS_DIR to docs/screenshots/)."""
    folder = Path(os.environ.get("E2E_SCREENSHOTS_DIR") or artifacts / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_screenshots_of_the_admin_index(stack, new_page, folder):
    customer = new_page(DESKTOP)
    for n in range(3):
        sign_up(customer, signup_data(unique_email(f"admin-shot-{n}")))
        customer.context.clear_cookies()
    stack.manage("shell", "-c", SCHEDULED)

    page = new_page(DESKTOP)
    # The admin's login is the site's (allauth's limits guard both): /admin/ sends staff there.
    sign_in_staff(stack, page, "control-room")

    def figure(name: str) -> str:
        page.goto("/admin/")
        return page.locator(f"[data-figure={name}]").inner_text().strip()

    def shot(name: str, figure_name: str, expected: str) -> None:
        wait_for(lambda: expected in figure(figure_name), f"{expected!r} on the index", stack=stack)
        page.screenshot(path=folder / f"admin-index-{name}.png", full_page=True)

    # The new customers' sync settles first, so the backlog shows what staff normally see.
    wait_for(lambda: figure("pending") == "0", "the sync to settle", stack=stack)
    shot("connected", "connection", "Переподключить")
    try:
        stack.manage("shell", "-c", BLOCK)
        shot("blocked", "breaker", "остановлены с")
    finally:
        stack.manage("shell", "-c", UNBLOCK)
    try:
        stack.manage("shell", "-c", DISCONNECT)
        shot("not-connected", "connection", "не подключено")
    finally:
        connect(stack.env, stack.control)
    assert "Переподключить" in figure("connection")

    page.goto("/admin/accounts/delivery/sheet/")
    assert page.evaluate("document.documentElement.scrollWidth") <= DESKTOP["width"]
    page.screenshot(path=folder / "admin-delivery-sheet.png", full_page=True)


# The first invoice paid in the CRM and a top-up invoice awaiting payment: the card shows both.
TOP_UP = """
from decimal import Decimal
from accounts import payments
from accounts.models import Profile
profile = Profile.objects.get(user__email={email!r})
payments.invoice_pay(invoice=profile.invoices.get(), source="crm", confirmed_by="lead")
payments.invoice_issue(profile=profile, amount=Decimal("2500"))
"""


def test_screenshot_of_the_customer_card_and_a_payment_in_four_clicks(stack, new_page, folder):
    """docs/admin.md counts the clicks to confirm a payment for a customer found by email: four."""
    email = unique_email("card")
    customer = new_page(DESKTOP)
    sign_up(customer, signup_data(email))
    stack.manage("shell", "-c", TOP_UP.format(email=email))

    page = new_page(DESKTOP)
    sign_in_staff(stack, page, "customer-card")

    clicks = 0

    def click(locator) -> None:
        nonlocal clicks
        locator.click()
        clicks += 1

    click(page.locator("#content-main a[href$='/admin/accounts/profile/']").first)
    page.fill("#searchbar", email)
    click(page.locator("#changelist-search [type=submit]"))
    click(page.locator("#result_list tbody a").first)
    card = page.url

    def synced() -> bool:
        page.goto(card)
        return "синхронизировано" in page.locator(".customer-card").inner_text()

    wait_for(synced, "the card's sync state", stack=stack)
    page.screenshot(path=folder / "admin-customer-card.png", full_page=True)

    click(page.get_by_role("button", name="Оплата получена, 2 500,00 ₽"))
    page.wait_for_url(card)
    assert "Оплата записана: баланс пополнен." in page.locator(".messagelist").inner_text()
    assert "Баланс: 7 500,00 ₽" in page.locator(".customer-card").inner_text().replace("\xa0", " ")
    assert clicks == 4


NARROW_DESKTOP = {"width": 1280, "height": 800}
LONG_ADDRESS = (
    "Московская область, городской округ Красногорск, посёлок Нахабино, улица Панфилова, "
    "дом 17, корпус 3, строение 2, подъезд 4, этаж 11, квартира 187, домофон 187К4521"
)
# Customers with long addresses; then, once their leads are made, amoCRM refuses some of them
# (a 400 naming many fields, a merged lead), as staff meet such rows: long errors in the failed list.
CROWDED = f"""
import datetime
from decimal import Decimal
from django.utils import timezone
from accounts import payments, services
from accounts.models import BouquetCategory, Invoice, User
for n in range(6):
    services.profile_create(
        user=User.objects.create_user(email=f"a-rather-long-customer-address-{{n}}@example-flowers.ru"),
        bouquet_category=BouquetCategory.objects.order_by("-pk").first(),
        delivery_address={LONG_ADDRESS!r},
        first_delivery_date=timezone.localdate() + datetime.timedelta(days=n % 2),
        delivery_interval="weekly",
        wishes="",
        invoice_amount=Decimal("12500"),
        phone="+7 916 123-45-6" + str(n),
    )
for invoice in Invoice.objects.filter(profile__user__email__startswith="a-rather-long")[:3]:
    payments.invoice_pay(invoice=invoice, amount=invoice.amount, source=Invoice.Source.STAFF, confirmed_by="")
"""
REFUSE = """
from amocrm.exceptions import AmoCRMLeadTaken, AmoCRMValidationError, ValidationErrorItem
from amocrm.models import LeadSync
codes = ["NotSupportedChoice", "InvalidType", "NotBlank", "InvalidLength"] * 3
items = [
    ValidationErrorItem(request_id=str(n), code=c, path=f"custom_fields_values.{n}.values.0", detail="")
    for n, c in enumerate(codes)
]
errors = [
    AmoCRMValidationError("Request validation failed", status=400, path="/api/v4/leads", errors=items),
    AmoCRMLeadTaken(
        "amoCRM merged this customer's new lead into lead 30000002, which belongs to profile 2: not linked. "
        "Check both in amoCRM (its duplicate control merges by contact), then resync this profile."
    ),
]
rows = LeadSync.objects.filter(profile__user__email__startswith="a-rather-long").order_by("pk")
for n, row in enumerate(rows[:4]):
    row.mark_failed(error=str(errors[n % 2]), kind=errors[n % 2].kind)
    row.save()
"""


# Sideways scrolling of the page, or of the list's own box (Django lets `.results` scroll on its own).
WIDTHS = """[document.documentElement.scrollWidth, window.innerWidth,
  document.querySelector("#changelist .results").scrollWidth,
  document.querySelector("#changelist .results").clientWidth]"""
TOO_WIDE = f"(([page, screen, list, box]) => page > screen || list > box)({WIDTHS})"


def test_the_lists_staff_use_fit_1280_px_and_show_what_they_came_for(stack, new_page, folder):
    """Issue 28 item 4: deliveries (address, status), profiles (balance, status, amoCRM sync,
    phone) and failed syncs (the error) at 1280 px, no sideways scrolling; with the failed sync's
    page, they are screenshots too."""
    stack.manage("shell", "-c", CROWDED)
    page = new_page(NARROW_DESKTOP)
    sign_in_staff(stack, page, "lists")

    def pending() -> str:
        page.goto("/admin/")
        return page.locator("[data-figure=pending]").inner_text().strip()

    wait_for(lambda: pending() == "0", "the sync to settle", stack=stack)
    stack.manage("shell", "-c", REFUSE)

    lists = {
        "deliveries": ("/admin/accounts/delivery/", ["Адрес доставки", "Статус"]),
        "profiles": ("/admin/accounts/profile/", ["Баланс", "Статус", "Синхронизация", "Телефон"]),
        "failed-syncs": ("/admin/amocrm/leadsync/?status=failed", ["Ошибка"]),
    }
    seen = {}
    for name, (url, columns) in lists.items():
        page.goto(url)
        headers = page.locator("#result_list thead th").evaluate_all(
            "ths => ths.map(t => t.textContent.trim())"
        )
        page.screenshot(path=folder / f"admin-list-{name}.png")  # what one 1280×800 screen shows
        seen[name] = {
            "missing": [c for c in columns if c not in headers],
            "too wide": page.evaluate(TOO_WIDE),
        }
    assert seen == dict.fromkeys(lists, {"missing": [], "too wide": False})

    page.goto("/admin/amocrm/leadsync/?status=failed")
    page.locator("#result_list tbody tr th a").first.click()
    page.get_by_role("button", name="Повторить").wait_for()  # the row's page has loaded
    assert page.get_by_text("Что сделать:").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=folder / "admin-failed-sync.png", full_page=True)

    # «Повторить»: the worker sends the customer again, and the stand-in takes it this time.
    page.get_by_role("button", name="Повторить").click()
    page.get_by_text("поставлен в очередь").wait_for()

    def status() -> str:
        page.reload()
        return page.locator(".field-status .readonly").inner_text().strip()

    wait_for(lambda: status() == "синхронизировано", "the retried sync", stack=stack)
    assert not page.get_by_role("button", name="Повторить").is_visible()


def test_screenshots_of_the_admin_in_russian(stack, new_page, folder):
    stack.manage("shell", "-c", RUSSIAN_DAY)
    page = new_page(DESKTOP)
    sign_in_staff(stack, page, "russian")

    for name, path in [
        ("invoices", "/admin/accounts/invoice/"),
        ("lead-notes", "/admin/amocrm/leadnote/"),
    ]:
        page.goto(path)
        text = page.inner_text("#content")
        assert "None" not in text and "Select an option" not in text, name
        page.screenshot(path=folder / f"admin-{name}.png", full_page=True)
    page.goto("/admin/auth/group/")
    page.click("text=Флористы")
    assert "Клиенты | доставка | Может изменять" in page.inner_text("#content")
    page.screenshot(path=folder / "admin-group-permissions.png")
