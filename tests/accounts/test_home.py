from http import HTTPStatus

import pytest

from accounts.models import BouquetCategory
from tests.accounts.helpers import page_text

pytestmark = pytest.mark.django_db


def test_home_page_lists_the_active_categories_with_prices(client):
    BouquetCategory.objects.filter(slug="luxe").update(is_active=False)

    response = client.get("/")

    assert response.status_code == HTTPStatus.OK
    text = page_text(response)
    assert "Романтический" in text
    assert "2 500 ₽ за букет" in text
    assert "Люкс" not in text


def test_home_page_offers_signup_to_visitors(client):
    text = page_text(client.get("/"))

    assert 'href="/signup/"' in text
    assert "Оформить подписку" in text


def test_home_page_sends_customers_to_their_account(customer_client):
    text = page_text(customer_client.get("/"))

    assert "В личный кабинет" in text
    assert 'action="/logout/"' in text
