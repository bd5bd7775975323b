"""The admin index's customers panel (deliveries today and tomorrow, new customers, invoices awaiting
payment), and the admin
in Russian: titles in the right case, no English leftovers, no models staff never use."""

import datetime
import re
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import formats, timezone

from accounts import payments
from accounts.models import Delivery, Invoice, Profile
from tests.admin_pages import change_form_data, figures, links

pytestmark = pytest.mark.django_db


def _title(page: str) -> str:
    return re.search(r"<h1>(.*?)</h1>", page, flags=re.DOTALL).group(1).strip()


def test_deliveries_count_what_goes_out_today_and_tomorrow(superuser_client, profile_factory):
    today = timezone.localdate()
    for _ in range(2):
        profile_factory(first_delivery_date=today)
    for _ in range(3):
        profile_factory(first_delivery_date=today + datetime.timedelta(days=1))
    skipped = profile_factory(first_delivery_date=today).deliveries.get(delivery_on=today)
    skipped.status = Delivery.Status.SKIPPED  # not going out: not counted
    skipped.save()

    shown = figures(superuser_client)

    assert shown["deliveries_today"] == "2"
    assert shown["deliveries_tomorrow"] == "3 Файл для курьеров (xlsx)"


def test_each_delivery_figure_links_to_the_list_that_counts_the_same(superuser_client, profile_factory):
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    profile_factory(first_delivery_date=tomorrow)
    profile_factory(first_delivery_date=tomorrow + datetime.timedelta(days=1))  # not tomorrow

    tomorrow_list, xlsx = links(superuser_client)["deliveries_tomorrow"]

    page = superuser_client.get(tomorrow_list).content.decode()
    assert page.count('class="action-select"') == 1
    assert xlsx == reverse("admin:accounts_delivery_file", args=["tomorrow", "xlsx"])
    assert superuser_client.get(xlsx).status_code == HTTPStatus.OK


def test_new_customers_today_and_in_the_last_seven_days(superuser_client, profile_factory):
    now = timezone.now()
    profile_factory()
    for days in (3, 6):
        Profile.objects.filter(pk=profile_factory().pk).update(created_at=now - datetime.timedelta(days=days))
    Profile.objects.filter(pk=profile_factory().pk).update(created_at=now - datetime.timedelta(days=30))

    shown = figures(superuser_client)

    assert shown["customers_today"] == "1"
    assert shown["customers_week"] == "3"
    week_list = links(superuser_client)["customers_week"][0]
    page = superuser_client.get(week_list).content.decode()
    assert page.count('class="action-select"') == 3
    assert 'class="selected"' in page and "Последние 7 дней" in page  # the admin's own filter is on


def _awaiting(profile_factory, amount: str, *, days_ago: int = 0) -> Invoice:
    """A customer signed up for `amount` (an old customer: created long ago) who has not paid."""
    profile = profile_factory(account_sum=Decimal("0.00"))
    Profile.objects.filter(pk=profile.pk).update(created_at=timezone.now() - datetime.timedelta(days=60))
    invoice = payments.invoice_issue(profile=profile, amount=Decimal(amount))
    Invoice.objects.filter(pk=invoice.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=days_ago)
    )
    return invoice


def test_invoices_awaiting_payment_are_counted_with_their_sum_and_the_oldest_date(
    superuser_client, profile_factory
):
    oldest = _awaiting(profile_factory, "5000", days_ago=40)
    _awaiting(profile_factory, "3000.50", days_ago=2)
    profile_factory(account_sum=Decimal("7000.00"))  # paid: not awaiting
    cancelled = _awaiting(profile_factory, "100")
    Invoice.objects.filter(pk=cancelled.pk).update(status=Invoice.Status.CANCELLED)
    oldest.refresh_from_db()

    shown = figures(superuser_client)

    day = formats.date_format(timezone.localtime(oldest.created_at), "j E Y")
    assert shown["invoices_awaiting"] == f"2 счёта на 8 000,50 ₽ самый давний выставлен {day}"
    [awaiting_list] = links(superuser_client)["invoices_awaiting"]
    response = superuser_client.get(awaiting_list)
    assert response.context["cl"].result_count == 2  # the list counts the same invoices
    assert {i.pk for i in response.context["cl"].result_list} == set(
        Invoice.objects.filter(status=Invoice.Status.AWAITING).values_list("pk", flat=True)
    )
    assert re.search(r'class="selected">\s*<a href="\?status__exact=awaiting"', response.content.decode())


def test_a_new_customer_with_two_invoices_awaiting_counts_once_among_new_customers(
    superuser_client, profile_factory
):
    profile = profile_factory(account_sum=Decimal("0.00"))
    for amount in ("100", "200"):
        payments.invoice_issue(profile=profile, amount=Decimal(amount))

    shown = figures(superuser_client)

    assert (shown["customers_today"], shown["customers_week"]) == ("1", "1")
    assert shown["invoices_awaiting"].startswith("2 счёта на 300,00 ₽")


@pytest.mark.parametrize(
    ("count", "text"), [(1, "1 счёт на"), (3, "3 счёта на"), (5, "5 счетов на"), (11, "11 счетов на")]
)
def test_the_number_of_invoices_agrees_with_it_in_russian(superuser_client, profile_factory, count, text):
    for _ in range(count):
        _awaiting(profile_factory, "10")

    assert figures(superuser_client)["invoices_awaiting"].startswith(text)


def test_with_no_invoice_awaiting_it_says_none_and_no_date(superuser_client, profile_factory):
    profile_factory()

    assert figures(superuser_client)["invoices_awaiting"] == "0 счетов на 0,00 ₽"


@pytest.mark.parametrize(
    ("url", "title"),
    [
        ("admin:accounts_delivery_changelist", "Выберите доставку для изменения"),
        ("admin:accounts_user_changelist", "Выберите пользователя для изменения"),
        ("admin:accounts_user_add", "Добавить пользователя"),
        ("admin:accounts_bouquetcategory_changelist", "Выберите категорию букета для изменения"),
        ("admin:accounts_bouquetcategory_add", "Добавить категорию букета"),
        ("admin:auth_group_changelist", "Выберите группу для изменения"),
        ("admin:auth_group_add", "Добавить группу"),
        ("admin:amocrm_leadsync_changelist", "Выберите синхронизацию сделки amoCRM для просмотра"),
        ("admin:amocrm_reconcilecursor_changelist", "Выберите сверку с amoCRM для просмотра"),
    ],
)
def test_admin_titles_are_in_the_right_case(superuser_client, url, title):
    assert _title(superuser_client.get(reverse(url)).content.decode()) == title


def test_the_change_page_title_is_in_the_right_case(superuser_client, profile_factory):
    delivery = profile_factory(first_delivery_date=timezone.localdate()).deliveries.first()

    page = superuser_client.get(
        reverse("admin:accounts_delivery_change", args=[delivery.pk])
    ).content.decode()

    assert _title(page) == "Изменить доставку"


def test_the_add_button_names_the_model_in_the_accusative(superuser_client):
    page = superuser_client.get(reverse("admin:accounts_bouquetcategory_changelist")).content.decode()

    assert re.search(r'class="addlink">\s*Добавить категорию букета\s*</a>', page)


def test_the_date_filter_label_is_russian(superuser_client, profile_factory):
    profile_factory()

    page = superuser_client.get(reverse("admin:accounts_profile_changelist")).content.decode()

    assert "Фильтр по полю «дата создания»" in page
    assert "Filter by" not in page


def test_models_staff_never_use_are_not_in_the_admin(superuser_client):
    page = superuser_client.get(reverse("admin:index")).content.decode()

    registered = {model._meta.label for model in admin.site._registry}
    assert "account.EmailAddress" not in registered
    assert "django_tasks_database.DBTaskResult" not in registered
    assert "Tasks Database Backend" not in page and "Task Results" not in page
    assert "Email Addresses" not in page and "Адреса электронной почты" not in page


def test_saving_and_deleting_say_so_in_russian_right_for_a_feminine_model(superuser_client, category):
    change = reverse("admin:accounts_bouquetcategory_change", args=[category.pk])
    data = change_form_data(superuser_client, change)

    saved = superuser_client.post(change, data, follow=True)
    kept_on = superuser_client.post(change, {**data, "_continue": "1"}, follow=True)
    deleted = superuser_client.post(
        reverse("admin:accounts_bouquetcategory_delete", args=[category.pk]), {"post": "yes"}, follow=True
    )

    said = [
        re.sub(r"<[^>]+>", "", str(m))  # the name links to the object
        for response in (saved, kept_on, deleted)
        for m in response.context["messages"]
    ]
    assert said == [
        f"Сохранено: категория букета «{category}».",
        f"Сохранено: категория букета «{category}». Ниже можно продолжить правку.",
        f"Удалено: категория букета «{category}».",
    ]


def _staff_client(client, user_factory, *codenames: str):
    staff = user_factory(email="staff@example.ru", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(staff)
    return client


def test_staff_without_permissions_see_no_figures_that_lead_to_refused_pages(client, user_factory):
    staff_client = _staff_client(client, user_factory)

    assert figures(staff_client) == {}


def test_staff_who_may_view_deliveries_see_the_deliveries_box_only(client, user_factory, profile_factory):
    profile_factory(first_delivery_date=timezone.localdate())
    staff_client = _staff_client(client, user_factory, "view_delivery")

    shown = figures(staff_client)

    assert sorted(shown) == ["deliveries_today", "deliveries_tomorrow"]
    for url in [u for urls in links(staff_client).values() for u in urls]:
        assert staff_client.get(url).status_code == HTTPStatus.OK, url
