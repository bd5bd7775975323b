from http import HTTPStatus

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.urls import reverse

# These tests are about the real hasher, so they opt out of the suite's fast MD5.
pytestmark = [pytest.mark.django_db, pytest.mark.argon2]

OWASP_PARAMETERS = "$argon2id$v=19$m=19456,t=2,p=1$"


def test_new_passwords_are_hashed_with_owasps_argon2id_parameters(user_factory):
    user = user_factory()

    assert user.password.startswith("argon2" + OWASP_PARAMETERS)


def test_a_hash_with_djangos_default_parameters_still_logs_in_and_is_upgraded(client, user_factory, password):
    user = user_factory(email="old-hash@example.ru")
    user.password = Argon2PasswordHasher().encode(password, Argon2PasswordHasher().salt())
    user.save(update_fields=["password"])
    assert "m=102400,t=2,p=8" in user.password

    response = client.post(reverse("account_login"), {"login": user.email, "password": password})

    assert response.status_code == HTTPStatus.FOUND
    assert client.session["_auth_user_id"] == str(user.pk)
    user.refresh_from_db()
    assert user.password.startswith("argon2" + OWASP_PARAMETERS)
    assert user.check_password(password)


def test_a_wrong_password_does_not_rehash(client, user_factory, password):
    user = user_factory(email="old-hash@example.ru")
    old_hash = Argon2PasswordHasher().encode(password, Argon2PasswordHasher().salt())
    user.password = old_hash
    user.save(update_fields=["password"])

    client.post(reverse("account_login"), {"login": user.email, "password": "wrong-password"})

    user.refresh_from_db()
    assert user.password == old_hash
