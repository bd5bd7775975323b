"""The lists staff work in (issue 28 item 4): what they came for, in the width 1280 px leaves.
The browser measures the width (tests/e2e/test_admin_screenshots.py); these hold the columns."""

from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils.text import capfirst

pytestmark = pytest.mark.django_db

LONG_EMAIL = "a-rather-long-customer-address@example-flowers.ru"
LISTS = ["admin:accounts_delivery_changelist", "admin:accounts_profile_changelist"]


def columns(response) -> list[str]:
    headers = [str(header["text"]) for header in response.context["result_headers"]]
    return [capfirst(text) for text in headers if not text.startswith("<input")]  # not the checkbox


@pytest.fixture
def customer(profile_factory, user_factory):
    return profile_factory(user=user_factory(email=LONG_EMAIL), phone="+79161234567")


def test_the_profile_list_shows_phone_balance_status_and_sync_state(superuser_client, customer):
    response = superuser_client.get(reverse("admin:accounts_profile_changelist"))

    assert columns(response) == [
        "Клиент",
        "Телефон",
        "Баланс",  # each sum carries its ₽ (accounts/admin_money.py)
        "Статус",
        "Категория букета",
        "Синхронизация",
    ]
    page = response.content.decode()
    assert "+7 916 123-45-67" in page and "5\xa0000,00\xa0₽" in page and "ожидает" in page


def test_the_delivery_list_shows_the_whole_address_and_the_status(superuser_client, customer):
    response = superuser_client.get(reverse("admin:accounts_delivery_changelist"))

    assert columns(response) == ["Дата доставки", "Клиент", "Адрес доставки", "Букет", "Статус"]
    assert customer.delivery_address in response.content.decode()


def test_a_long_email_is_cut_in_a_list_cell_and_whole_in_its_tooltip(superuser_client, customer):
    page = superuser_client.get(reverse("admin:accounts_profile_changelist")).content.decode()

    assert f'<span title="{LONG_EMAIL}">a-rather-long-customer-address@example-…</span>' in page


@pytest.mark.parametrize("listing", [*LISTS, "admin:amocrm_leadsync_changelist"])
def test_the_lists_go_without_the_app_sidebar_and_pages_keep_it(superuser_client, customer, listing):
    response = superuser_client.get(reverse(listing))
    page = superuser_client.get(reverse("admin:accounts_profile_change", args=[customer.pk]))

    assert response.status_code == HTTPStatus.OK
    assert 'id="nav-sidebar"' not in response.content.decode()
    assert 'id="nav-sidebar"' in page.content.decode()
