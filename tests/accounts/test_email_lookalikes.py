"""One spelling per mailbox: addresses normalised (NFKC, case-folded), look-alikes refused."""

import importlib
from http import HTTPStatus

import pytest
from django.apps import apps
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client, TestCase
from django.urls import reverse

from accounts import emails
from accounts.models import User
from tests.accounts.helpers import field_errors

pytestmark = pytest.mark.django_db

LOOKALIKE = "нельзя смешивать алфавиты"


@pytest.mark.parametrize(
    "email",
    ["mıke@example.ru", "MİKE@example.ru", "anna@exаmple.ru"],
    ids=["dotless-i", "dotted-capital-I", "cyrillic-a-in-domain"],
)
def test_signup_refuses_a_look_alike_address_with_a_russian_error(client, signup_data, user_factory, email):
    # Django's EmailValidator matches letters case-insensitively, so ı, İ, ſ and K (Kelvin) pass
    # it as i, i, s and k: these are the look-alikes that reached the database. Only
    # accounts.emails.validate_one_script refuses these three.
    user_factory(email="mike@example.ru")

    response = client.post(reverse("account_signup"), signup_data(email=email))

    assert response.status_code == HTTPStatus.OK
    assert LOOKALIKE in field_errors(response, "email")
    assert User.objects.count() == 1


@pytest.mark.parametrize("email", ["аnna@example.ru", "ånna@example.ru", "ＭＩＫＥ@example.ru"])
def test_signup_leaves_non_ascii_local_parts_to_djangos_email_validator(client, signup_data, email):
    # Django's EmailValidator takes ASCII local parts only (bar the case-insensitive ı, İ, ſ, K),
    # so these are refused before the look-alike check runs, with Django's own message.
    response = client.post(reverse("account_signup"), signup_data(email=email))

    assert response.status_code == HTTPStatus.OK
    assert field_errors(response, "email") == "<li>Введите правильный адрес электронной почты.</li>"
    assert not User.objects.exists()


def test_signup_with_a_long_s_is_the_existing_address_it_looks_like(client, signup_data, user_factory):
    user_factory(email="sam@example.ru")

    response = client.post(reverse("account_signup"), signup_data(email="ſam@example.ru"))

    assert response.status_code == HTTPStatus.OK
    assert "уже зарегистрирован" in field_errors(response, "email")
    assert list(User.objects.values_list("email", flat=True)) == ["sam@example.ru"]


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("Anna@Example.RU", "anna@example.ru"), ("Kate@example.ru", "kate@example.ru")]
    + [("ſam@example.ru", "sam@example.ru"), ("anna@Почта.рф", "anna@почта.рф")],
)
def test_signup_stores_the_normalised_address(client, signup_data, typed, stored):
    response = client.post(reverse("account_signup"), signup_data(email=typed))

    assert response.status_code == HTTPStatus.FOUND
    assert User.objects.get().email == stored


@pytest.mark.parametrize("typed", ["ſam@example.ru", "SAM@EXAMPLE.RU", " Sam@example.ru "])
def test_login_finds_the_account_by_its_normalised_address(user_factory, password, typed):
    user = user_factory(email="sam@example.ru")
    client = Client()

    client.post(reverse("account_login"), {"login": typed, "password": password})

    assert client.session.get("_auth_user_id") == str(user.pk)


def test_a_reset_goes_to_exactly_one_account_the_normalised_address(client, user_factory, tasks_immediate):
    sam = user_factory(email="sam@example.ru")
    legacy = user_factory(email="legacy@example.ru")
    User.objects.filter(pk=legacy.pk).update(email="ſam@example.ru")  # stored before normalising

    for typed in ["ſam@example.ru", "sam@example.ru"]:
        with TestCase.captureOnCommitCallbacks(execute=True):
            client.post(reverse("account_reset_password"), {"email": typed})

    assert [message.to for message in mail.outbox] == [[sam.email], [sam.email]]


def test_the_admin_normalises_and_refuses_look_alikes_like_signup(user_factory):
    user = user_factory(email="anna@example.ru")
    user.email = "ANNA@Example.RU"
    user.full_clean()
    assert user.email == "anna@example.ru"

    user.email = "mıke@example.ru"
    with pytest.raises(ValidationError) as e:
        user.full_clean()
    assert LOOKALIKE in e.value.message_dict["email"][0]


def test_the_migration_normalises_stored_addresses_and_leaves_collisions(user_factory, caplog):
    migration = importlib.import_module("accounts.migrations.0006_user_email_normalized")
    rows = {}
    for stored in ["Straße@example.ru", "ſam@example.ru", "sam@example.ru", "mıke@example.ru"]:
        user = user_factory()
        User.objects.filter(pk=user.pk).update(email=stored)
        rows[user.pk] = stored

    migration.normalize_emails(apps, None)

    after = dict(User.objects.filter(pk__in=rows).values_list("pk", "email"))
    assert {rows[pk]: email for pk, email in after.items()} == {
        "Straße@example.ru": "strasse@example.ru",
        "ſam@example.ru": "ſam@example.ru",  # sam@ exists: left, logged
        "sam@example.ru": "sam@example.ru",
        "mıke@example.ru": "mıke@example.ru",  # a look-alike: logged only
    }
    assert "accounts.email_collision_kept" in caplog.text
    assert "accounts.email_lookalike_kept" in caplog.text
    assert "example.ru" not in caplog.text


@pytest.mark.parametrize(
    ("first", "second", "is_same"),
    [
        ("anna@example.ru", "ANNA@Example.RU", True),
        (" anna@example.ru ", "anna@example.ru", True),
        ("ſam@example.ru", "sam@example.ru", True),
        ("ａｎｎａ@example.ru", "anna@example.ru", True),
        ("anna@example.ru", "anna2@example.ru", False),
        ("", None, True),
    ],
)
def test_two_spellings_are_one_mailbox_by_the_one_rule(first, second, is_same):
    assert emails.same(first, second) is is_same
