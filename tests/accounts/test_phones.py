"""Phones: parsed by libphonenumber, stored E.164, shown formatted wherever people read them."""

import importlib
from http import HTTPStatus

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError

from accounts import phones, services
from accounts.models import Profile
from tests.accounts.helpers import input_value, page_text

pytestmark = pytest.mark.django_db


def test_a_number_without_a_country_code_is_read_in_the_default_region(settings):
    assert phones.to_e164("8 900 123-45-67") == "+79001234567"
    settings.PHONENUMBER_DEFAULT_REGION = "US"
    assert phones.to_e164("(202) 555-0143") == "+12025550143"


def test_a_profile_saved_with_any_usual_spelling_stores_e164(profile_factory):
    profile = profile_factory(phone="8 (900) 123-45-67")

    assert Profile.objects.get(pk=profile.pk).phone == "+79001234567"


def test_a_profile_refuses_a_phone_that_is_no_number(profile_factory):
    with pytest.raises(ValidationError) as e:
        profile_factory(phone="+7 (900) 123-45-67 ((((")

    assert "Введите правильный номер телефона" in e.value.message_dict["phone"][0]


def test_an_old_unparseable_phone_does_not_block_changes_to_other_fields(profile_factory):
    profile = profile_factory()
    Profile.objects.filter(pk=profile.pk).update(phone="12-34")  # kept by the migration as it was
    profile.refresh_from_db()

    changed, errors = services.profile_apply_staff_changes(
        profile=profile, data={"wishes": "Больше зелени", "delivery_address": "Москва, Тверская, 1"}
    )

    assert (sorted(changed), errors) == (["delivery_address", "wishes"], {})


def test_the_account_page_shows_the_phone_formatted(client, profile_factory):
    profile = profile_factory(phone="+79001234567")
    client.force_login(profile.user)

    response = client.get("/account/")

    assert response.status_code == HTTPStatus.OK
    assert "+7 900 123-45-67" in page_text(response)


def test_the_admin_shows_the_phone_formatted_and_parses_what_staff_type(superuser_client, profile_factory):
    from django.contrib import admin

    profile = profile_factory(phone="+79001234567")

    response = superuser_client.get(f"/admin/accounts/profile/{profile.pk}/change/")

    assert input_value(response, "phone") == "+7 900 123-45-67"
    form = admin.site._registry[Profile].get_form(response.wsgi_request, profile)
    assert form.base_fields["phone"].clean("8 900 123 45 67") == "+79001234567"
    with pytest.raises(ValidationError):
        form.base_fields["phone"].clean("+7 900 abc")


def test_the_migration_rewrites_what_parses_and_keeps_what_does_not(profile_factory, caplog):
    migration = importlib.import_module("accounts.migrations.0005_profile_phone_e164")
    rows = {
        "8 (900) 123-45-67": "+79001234567",
        "+７９００１２３４５６７": "+79001234567",
        "+7 (912) 345-67-89 ((((": "+79123456789",
        "позвонить Анне": "позвонить Анне",
        "": "",
    }
    made = {}
    for stored in rows:
        profile = profile_factory()
        Profile.objects.filter(pk=profile.pk).update(phone=stored)  # as older code saved them
        made[profile.pk] = stored

    migration.phones_to_e164(apps, None)

    after = dict(Profile.objects.filter(pk__in=made).values_list("pk", "phone"))
    assert {made[pk]: phone for pk, phone in after.items()} == rows
    assert "accounts.phones_kept_unparsed count=1" in caplog.text
    assert "Анне" not in caplog.text


@pytest.mark.parametrize("model", ["profile", "delivery"])
def test_staff_find_a_customer_by_the_phone_as_they_read_it(superuser_client, profile_factory, model):
    wanted = profile_factory(phone="+79001234567")
    profile_factory(phone="+79007654321")

    response = superuser_client.get(f"/admin/accounts/{model}/", {"q": "8 900 123-45-67"})

    shown = list(response.context["cl"].queryset)
    assert shown and {getattr(row, "profile", row) for row in shown} == {wanted}
