import datetime
import re
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import BouquetCategory, Profile

pytestmark = pytest.mark.django_db

ADMIN = "/admin/accounts"


@pytest.fixture
def anna(profile_factory, user_factory):
    return profile_factory(
        user=user_factory(email="anna@example.ru"),
        delivery_address="Москва, ул. Тверская, 7",
        delivery_interval="monthly",
        bouquet_category=BouquetCategory.objects.get(slug="luxe"),
    )


@pytest.fixture
def boris(profile_factory, user_factory):
    profile = profile_factory(
        user=user_factory(email="boris@example.ru"),
        delivery_address="Казань, ул. Баумана, 5",
        delivery_interval="weekly",
        bouquet_category=BouquetCategory.objects.get(slug="seasonal"),
    )
    Profile.objects.filter(pk=profile.pk).update(account_status="paused")
    return profile


@pytest.mark.parametrize("model", ["user", "profile", "bouquetcategory"])
def test_admin_changelists_open(superuser_client, anna, model):
    response = superuser_client.get(f"{ADMIN}/{model}/")

    assert response.status_code == HTTPStatus.OK


def test_a_customers_user_page_leads_to_their_card(superuser_client, anna):
    response = superuser_client.get(f"{ADMIN}/user/{anna.user.pk}/change/")

    assert response.status_code == HTTPStatus.FOUND
    assert response.url == f"{ADMIN}/profile/{anna.pk}/change/"


def test_admin_user_add_page_opens(superuser_client):
    assert superuser_client.get(f"{ADMIN}/user/add/").status_code == HTTPStatus.OK


def test_admin_profile_change_page_opens(superuser_client, anna):
    response = superuser_client.get(f"{ADMIN}/profile/{anna.pk}/change/")

    assert response.status_code == HTTPStatus.OK
    assert str(anna.referral_code) in response.content.decode()


def test_admin_calls_the_profiles_sum_the_balance_and_signup_calls_its_sum_the_first_invoice(
    superuser_client, anna
):
    # «Сумма счёта» meant both; one word for each thing (issue 27 item 7).
    admin_page = superuser_client.get(f"{ADMIN}/profile/{anna.pk}/change/").content.decode()
    changelist = superuser_client.get(f"{ADMIN}/profile/").content.decode()
    signup = Client().get("/signup/").content.decode()

    assert "Баланс, ₽" in admin_page and "Сумма счёта" not in admin_page
    # The list's column shows the sign with each sum ("5 000,00 ₽"), so its heading need not.
    assert '">Баланс</a>' in changelist and "Сумма счёта" not in changelist
    assert "Сумма первого счёта, ₽" in signup


def test_admin_category_change_page_opens(superuser_client, category):
    response = superuser_client.get(f"{ADMIN}/bouquetcategory/{category.pk}/change/")

    assert response.status_code == HTTPStatus.OK
    assert "Романтический" in response.content.decode()


def test_the_users_list_holds_staff_accounts_not_customers(superuser_client, anna, boris, user_factory):
    user_factory(email="florist@example.ru", is_staff=True)

    response = superuser_client.get(f"{ADMIN}/user/")

    shown = sorted(user.email for user in response.context["cl"].result_list)
    assert shown == ["boss@example.ru", "florist@example.ru"]


@pytest.mark.parametrize(
    ("query", "found"), [("boris@", "boris@example.ru"), ("Тверская", "anna@example.ru")]
)
def test_admin_profiles_are_searchable_by_email_and_address(superuser_client, anna, boris, query, found):
    response = superuser_client.get(f"{ADMIN}/profile/", {"q": query})

    shown = [profile.user.email for profile in response.context["cl"].result_list]
    assert shown == [found]
    assert found in response.content.decode()


@pytest.mark.parametrize(
    ("lookup", "value", "found"),
    [
        ("delivery_interval__exact", "weekly", "boris@example.ru"),
        ("account_status__exact", "paused", "boris@example.ru"),
        ("account_status__exact", "new", "anna@example.ru"),
    ],
)
def test_admin_profiles_are_filterable_by_interval_and_status(
    superuser_client, anna, boris, lookup, value, found
):
    response = superuser_client.get(f"{ADMIN}/profile/", {lookup: value})

    assert response.status_code == HTTPStatus.OK
    assert [profile.user.email for profile in response.context["cl"].result_list] == [found]


def test_admin_profiles_are_filterable_by_category(superuser_client, anna, boris):
    luxe = BouquetCategory.objects.get(slug="luxe")

    response = superuser_client.get(f"{ADMIN}/profile/", {"bouquet_category__id__exact": luxe.pk})

    assert response.status_code == HTTPStatus.OK
    assert [profile.user.email for profile in response.context["cl"].result_list] == ["anna@example.ru"]


def test_admin_staff_can_change_the_account_sum(superuser_client, anna):
    data = {
        "email": anna.user.email,
        "is_active": "on",
        "account_status": "active",
        "account_sum": "12345.67",  # admin inputs are not localised: a dot
        "bouquet_category": anna.bouquet_category.pk,
        "delivery_address": anna.delivery_address,
        "first_delivery_date": (timezone.localdate() + datetime.timedelta(days=1)).strftime("%d.%m.%Y"),
        "delivery_interval": anna.delivery_interval,
        "wishes": anna.wishes,
        "phone": "",
        "referred_by": "",
    }

    response = superuser_client.post(f"{ADMIN}/profile/{anna.pk}/change/", data)

    assert response.status_code == HTTPStatus.FOUND, response.context["adminform"].form.errors
    anna.refresh_from_db()
    assert anna.account_sum == Decimal("12345.67")
    assert anna.account_status == "active"


def test_admin_staff_can_change_a_category_price(superuser_client, category):
    data = {
        "name": category.name,
        "slug": category.slug,
        "price": "2700",
        "is_active": "on",
        "ordering": "10",
    }

    response = superuser_client.post(f"{ADMIN}/bouquetcategory/{category.pk}/change/", data)

    assert response.status_code == HTTPStatus.FOUND
    category.refresh_from_db()
    assert category.price == Decimal("2700.00")


def test_admin_is_closed_to_customers(customer_client):
    response = customer_client.get(f"{ADMIN}/profile/")

    assert response.status_code == HTTPStatus.FOUND
    assert response.url.startswith("/admin/login/")


@pytest.mark.parametrize("page", ["sheet", "pay"])
def test_the_sites_own_admin_pages_have_djangos_breadcrumbs_home_app_list(superuser_client, anna, page):
    """Django's admin styles `ol.breadcrumbs` only: a `div` showed as bare links on white."""
    invoice = anna.invoices.get()
    url = (
        reverse("admin:accounts_delivery_sheet") if page == "sheet" else f"{ADMIN}/invoice/{invoice.pk}/pay/"
    )
    html = superuser_client.get(url).content.decode()

    crumbs = re.search(r'<ol class="breadcrumbs">(.*?)</ol>', html, flags=re.DOTALL)

    assert crumbs is not None
    hrefs = re.findall(r'href="([^"]+)"', crumbs.group(1))
    listing = "delivery" if page == "sheet" else "invoice"
    assert hrefs[:3] == [reverse("admin:index"), f"{ADMIN}/", f"{ADMIN}/{listing}/"]


@pytest.mark.parametrize("model", ["delivery", "invoice"])
def test_a_change_page_names_each_field_once(superuser_client, anna, model):
    """A read-only sum was listed twice ("Цена" … "Цена"), and "время доставки" named both the
    time window and when the delivery was marked delivered."""
    row = anna.deliveries.first() if model == "delivery" else anna.invoices.get()
    html = superuser_client.get(f"{ADMIN}/{model}/{row.pk}/change/").content.decode()

    labels = re.findall(r"<label\b[^>]*>([^<]+?):?</label>", html)

    assert labels and sorted({label for label in labels if labels.count(label) > 1}) == []
