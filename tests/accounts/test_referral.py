import re
import uuid
from decimal import Decimal
from http import HTTPStatus
from urllib.parse import quote

import pytest
from django.urls import reverse

from accounts import services
from accounts.models import Profile, User
from tests.accounts.helpers import page_text

pytestmark = pytest.mark.django_db


def test_referral_landing_remembers_the_referrer_and_redirects_to_signup(client, customer):
    response = client.get(f"/{customer.referral_code}/")

    assert response.status_code == HTTPStatus.FOUND
    assert response.url == "/signup/"
    assert client.session[services.REFERRAL_SESSION_KEY] == str(customer.referral_code)


def test_signup_after_the_referral_landing_records_the_referrer(client, customer, signup_data):
    client.get(f"/{customer.referral_code}/")

    response = client.post(reverse("account_signup"), signup_data(email="friend@example.ru"))

    assert response.status_code == HTTPStatus.FOUND
    assert Profile.objects.get(user__email="friend@example.ru").referred_by == customer
    assert services.REFERRAL_SESSION_KEY not in client.session


def test_signup_without_the_referral_landing_has_no_referrer(client, customer, signup_data):
    client.post(reverse("account_signup"), signup_data(email="friend@example.ru"))

    assert Profile.objects.get(user__email="friend@example.ru").referred_by is None


def test_referral_survives_a_signup_form_with_errors(client, customer, signup_data):
    client.get(f"/{customer.referral_code}/")
    client.post(reverse("account_signup"), signup_data(email="friend@example.ru", delivery_address=""))

    client.post(reverse("account_signup"), signup_data(email="friend@example.ru"))

    assert Profile.objects.get(user__email="friend@example.ru").referred_by == customer


def test_referral_of_a_deleted_referrer_signs_up_without_one(client, customer, signup_data):
    client.get(f"/{customer.referral_code}/")
    customer.user.delete()

    response = client.post(reverse("account_signup"), signup_data(email="friend@example.ru"))

    assert response.status_code == HTTPStatus.FOUND
    assert Profile.objects.get(user__email="friend@example.ru").referred_by is None


def test_referrers_account_page_counts_the_signup(client, customer, signup_data):
    client.get(f"/{customer.referral_code}/")
    client.post(reverse("account_signup"), signup_data(email="friend@example.ru"))
    client.force_login(customer.user)

    response = client.get("/account/")

    assert "По вашей ссылке зарегистрировался 1 человек." in page_text(response)


def test_referral_landing_for_an_unknown_code_is_our_404_page(client, customer):
    response = client.get(f"/{uuid.uuid4()}/")

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert "Страница не найдена" in page_text(response)
    assert services.REFERRAL_SESSION_KEY not in client.session


@pytest.mark.parametrize("path", ["/not-a-uuid/", "/12345678-1234-1234-1234-1234567890/", "/../etc/passwd/"])
def test_referral_landing_for_a_malformed_code_is_not_found(client, db, path):
    response = client.get(path)

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert "Страница не найдена" in page_text(response)


def test_a_logged_in_customer_following_a_referral_link_lands_on_their_account(
    customer_client, profile_factory
):
    friend = profile_factory()

    response = customer_client.get(f"/{friend.referral_code}/", follow=True)

    assert response.redirect_chain == [("/signup/", HTTPStatus.FOUND), ("/account/", HTTPStatus.FOUND)]
    assert response.status_code == HTTPStatus.OK
    assert User.objects.count() == 2


def test_the_referral_block_says_what_the_referrer_gets_from_the_setting(customer_client, settings):
    settings.REFERRAL_REWARD_AMOUNT = Decimal("750.00")

    text = page_text(customer_client.get("/account/"))

    assert "вы получите 750 ₽ на баланс, когда ему доставят первый букет" in text
    assert "Друг платит обычную цену." in text


def test_the_referral_block_shares_the_link_by_the_share_sheet_telegram_and_whatsapp(
    customer_client, customer
):
    response = customer_client.get("/account/")
    text = response.content.decode()
    quoted = quote(customer.referral_url, safe="")

    assert re.search(rf'<button[^>]*data-share-url="{re.escape(customer.referral_url)}"[^>]*hidden>', text)
    assert f'href="https://t.me/share/url?url={quoted}&amp;text=' in text
    assert re.search(rf'href="https://wa.me/\?text=[^"]*{re.escape(quoted)}"', text)
    assert "js/share.js" in text and "<script>" not in text  # the share sheet from a file: CSP stays strict


def test_the_signup_page_after_a_referral_link_says_who_invited_by_first_name_only(
    client, profile_factory, user_factory
):
    referrer = profile_factory(user=user_factory(first_name="Мария Ивановна"))

    text = page_text(client.get(f"/{referrer.referral_code}/", follow=True))

    assert "Мария приглашает вас в Flower Account." in text and "Ивановна" not in text
    assert "Мария получит 500 ₽, когда вам доставят первый букет." in text


def test_the_signup_page_after_a_link_of_a_referrer_without_a_name_says_a_friend_invited(client, customer):
    text = page_text(client.get(f"/{customer.referral_code}/", follow=True))

    assert "Вас пригласил друг." in text


def test_the_signup_page_without_a_referral_link_names_no_inviter(client, customer):
    text = page_text(client.get(reverse("account_signup")))

    assert "приглашает вас" not in text and "Вас пригласил друг" not in text
