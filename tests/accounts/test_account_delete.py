"""Deleting the account behind the password: the email first, personal data erased, sessions and
pending codes and links dead, the address free again, money records kept without personal data."""

import re
from http import HTTPStatus

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts import erasure
from accounts.models import ConsentRecord, Delivery, Invoice, LedgerEntry, Profile, User
from tests.accounts.helpers import field_errors, page_text

pytestmark = pytest.mark.django_db

MY_DATA = reverse("accounts:my_data")


@pytest.fixture
def signed_up(client, signup_data) -> User:
    client.post(reverse("account_signup"), signup_data())
    mail.outbox.clear()  # the welcome email; these tests count what deleting sends
    return User.objects.get(email="anna@example.ru")


def delete(client, password: str):
    return client.post(MY_DATA, {"password": password})


def test_the_account_page_links_my_data_with_the_delete_form(customer_client):
    assert MY_DATA in page_text(customer_client.get(reverse("accounts:dashboard")))
    page = page_text(customer_client.get(MY_DATA))
    assert reverse("accounts:my_data_download") in page
    assert 'name="password"' in page and 'autocomplete="current-password"' in page


def test_the_delete_form_says_the_account_goes_at_once_with_an_email_after(customer_client):
    # "Сначала мы пришлём подтверждение" read as a confirmation step; the password is the only one.
    page = page_text(customer_client.get(MY_DATA))

    assert "Сначала мы пришлём подтверждение" not in page
    assert "Аккаунт удаляется сразу после ввода пароля; письмо об удалении придёт на вашу почту." in page


def test_a_wrong_password_deletes_nothing(client, signed_up):
    response = delete(client, "not-my-password")

    assert response.status_code == HTTPStatus.OK
    assert "Пароль неверный" in field_errors(response, "password")
    assert User.objects.get(pk=signed_up.pk).email == "anna@example.ru"
    assert mail.outbox == []


def test_the_confirmation_email_goes_to_the_address_being_erased_before_erasure(
    client, signed_up, password, monkeypatch
):
    emails_at_send = []
    original = erasure.get_adapter

    def watching_adapter(request=None):
        adapter = original(request)
        render = adapter.render_mail

        def render_mail(*args, **kwargs):
            emails_at_send.append(User.objects.get(pk=signed_up.pk).email)
            return render(*args, **kwargs)

        adapter.render_mail = render_mail
        return adapter

    monkeypatch.setattr(erasure, "get_adapter", watching_adapter)

    delete(client, password)

    assert emails_at_send == ["anna@example.ru"]  # still the customer's address when it was sent
    [message] = mail.outbox
    assert message.to == ["anna@example.ru"]
    assert message.subject == "Flower Account: ваш аккаунт удалён"
    assert "Счета и платежи остаются" in message.body


def test_deletion_erases_the_personal_data_and_keeps_the_money_records(client, signed_up, password):
    profile = signed_up.profile
    profile.phone = "+79001234567"
    profile.save()
    invoice = profile.invoices.get()

    response = delete(client, password)

    assert response.status_code == HTTPStatus.FOUND and response.url == reverse("home")
    user = User.objects.get(pk=signed_up.pk)
    assert user.email == f"deleted-{user.pk}@invalid"
    assert (user.first_name, user.last_name, user.is_active) == ("", "", False)
    assert not user.has_usable_password()
    profile = Profile.objects.get(pk=profile.pk)
    assert (profile.delivery_address, profile.phone, profile.wishes) == ("", "", "")
    assert profile.account_status == Profile.AccountStatus.CLOSED
    assert not Delivery.objects.filter(profile=profile).exclude(delivery_address="").exists()
    assert not Delivery.objects.filter(profile=profile, status=Delivery.Status.SCHEDULED).exists()
    assert not profile.events.exclude(details={}).exists()
    assert Invoice.objects.filter(pk=invoice.pk, amount=invoice.amount).exists()
    assert not EmailAddress.objects.filter(email__iexact="anna@example.ru").exists()
    actions = list(ConsentRecord.objects.filter(user=user).values_list("action", flat=True))
    assert actions == ["given", "withdrawn"]


def test_the_ledger_stays_for_accounting(customer_client, customer, password):
    entries = list(LedgerEntry.objects.filter(profile=customer).values_list("pk", "amount"))

    delete(customer_client, password)

    assert list(LedgerEntry.objects.filter(profile=customer).values_list("pk", "amount")) == entries


def test_deletion_ends_every_session(signed_up, password):
    this, other = Client(), Client()
    for browser in (this, other):
        browser.force_login(signed_up)

    delete(this, password)

    for browser in (this, other):
        response = browser.get(reverse("accounts:dashboard"))
        assert response.status_code == HTTPStatus.FOUND
        assert response.url.startswith(reverse("account_login"))


def test_a_pending_reset_link_dies_with_the_account(client, signed_up, password):
    token = default_token_generator.make_token(signed_up)
    uid = urlsafe_base64_encode(force_bytes(signed_up.pk))

    delete(client, password)

    response = Client().get(reverse("password_reset_confirm", args=[uid, token]), follow=True)
    assert 'name="new_password1"' not in page_text(response)


def test_a_pending_login_code_dies_with_the_account(client, signed_up, password, tasks_immediate):
    other = Client()
    other.post(reverse("account_request_login_code"), {"email": "anna@example.ru"})
    [code_mail] = [m for m in mail.outbox if "код для входа" in m.subject]
    code = re.search(r"^\s*([A-Z0-9-]{4,})\s*$", code_mail.body, re.M).group(1)

    delete(client, password)
    other.post(reverse("account_confirm_login_code"), {"code": code})

    assert "_auth_user_id" not in other.session
    assert other.get(reverse("accounts:dashboard")).status_code == HTTPStatus.FOUND


def test_the_address_is_free_for_a_new_signup(client, signed_up, password, signup_data):
    delete(client, password)

    response = client.post(reverse("account_signup"), signup_data())

    assert response.status_code == HTTPStatus.FOUND
    assert User.objects.get(email="anna@example.ru").pk != signed_up.pk


def test_staff_searching_the_admin_for_the_erased_address_find_nothing(signup_data, password, superuser):
    anna = Client()
    anna.post(reverse("account_signup"), signup_data())
    delete(anna, password)
    staff = Client()
    staff.force_login(superuser)

    for name in ("accounts_user", "accounts_profile", "accounts_delivery", "accounts_invoice"):
        for term in ("anna@example.ru", "Тверская"):
            page = page_text(staff.get(reverse(f"admin:{name}_changelist"), {"q": term}))
            assert re.search(r'class="paginator".*?</h2>\s*0 ', page, re.S), (name, term)


def test_deletion_needs_a_login(client):
    assert Client().post(MY_DATA, {"password": "x"}).status_code == HTTPStatus.FOUND
