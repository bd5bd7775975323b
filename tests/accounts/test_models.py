import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import BouquetCategory, Delivery, Profile, User

pytestmark = pytest.mark.django_db


def test_user_manager_stores_the_email_trimmed_and_lower_case():
    user = User.objects.create_user(email="  Anna.Petrova@Example.RU ", password="x")

    assert user.email == "anna.petrova@example.ru"


def test_user_manager_needs_an_email():
    with pytest.raises(ValueError, match="email"):
        User.objects.create_user(email="", password="x")


def test_user_manager_makes_a_superuser_staff():
    user = User.objects.create_superuser(email="Boss@Example.ru", password="x")

    assert (user.email, user.is_staff, user.is_superuser) == ("boss@example.ru", True, True)


def test_user_is_found_by_email_in_any_case():
    user = User.objects.create_user(email="anna@x.ru", password="x")

    assert User.objects.get_by_natural_key("ANNA@X.RU") == user


def test_user_has_no_username():
    assert User.USERNAME_FIELD == "email"
    assert "username" not in {field.name for field in User._meta.get_fields()}


def test_user_clean_lower_cases_the_email():
    user = User(email="Anna@X.RU")

    user.clean()

    assert user.email == "anna@x.ru"


def test_database_refuses_an_email_differing_only_by_case():
    User.objects.create_user(email="anna@x.ru", password="x")

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(email="ANNA@x.ru")  # create() skips the manager's normalisation


def test_database_refuses_a_negative_account_sum(customer):
    with pytest.raises(IntegrityError), transaction.atomic():
        Profile.objects.filter(pk=customer.pk).update(account_sum=Decimal("-0.01"))


def test_model_validation_refuses_a_negative_account_sum(customer):
    customer.account_sum = Decimal("-1")

    with pytest.raises(ValidationError) as error:
        customer.full_clean()

    assert "account_sum" in error.value.message_dict


def test_database_refuses_a_negative_category_price(category):
    with pytest.raises(IntegrityError), transaction.atomic():
        BouquetCategory.objects.filter(pk=category.pk).update(price=Decimal("-1"))


def test_profile_gets_a_referral_code_when_created(profile_factory):
    first, second = profile_factory(), profile_factory()

    assert first.referral_code is not None
    assert second.referral_code is not None
    assert first.referral_code != second.referral_code
    assert Profile.objects.get(pk=first.pk).referral_code == first.referral_code


def test_database_refuses_a_duplicate_referral_code(profile_factory):
    first, second = profile_factory(), profile_factory()

    with pytest.raises(IntegrityError), transaction.atomic():
        Profile.objects.filter(pk=second.pk).update(referral_code=first.referral_code)


def test_referral_url_is_site_url_and_the_code(customer, settings):
    settings.SITE_URL = "https://flowers.example.ru"

    assert customer.referral_url == f"https://flowers.example.ru/{customer.referral_code}/"


def test_one_user_has_at_most_one_profile(customer, profile_factory):
    with pytest.raises((IntegrityError, ValidationError)), transaction.atomic():
        profile_factory(user=customer.user)


def test_deleting_a_referrer_keeps_the_friends_profile(customer, profile_factory):
    friend = profile_factory(referred_by=customer)

    customer.user.delete()

    friend.refresh_from_db()
    assert friend.referred_by is None


def test_a_category_in_use_cannot_be_deleted(customer):
    with pytest.raises(ProtectedError):
        customer.bouquet_category.delete()


def test_seeded_categories_exist_with_prices():
    categories = {c.slug: (c.name, c.price, c.is_active) for c in BouquetCategory.objects.all()}

    assert categories == {
        "romantic": ("Романтический", Decimal("2500.00"), True),
        "seasonal": ("Сезонный", Decimal("1900.00"), True),
        "luxe": ("Люкс", Decimal("4900.00"), True),
    }


def test_categories_are_listed_in_their_ordering():
    assert list(BouquetCategory.objects.values_list("slug", flat=True)) == ["romantic", "seasonal", "luxe"]


def test_profile_labels_are_russian(customer):
    customer.delivery_interval = "biweekly"

    assert customer.get_delivery_interval_display() == "1 раз в две недели"
    assert customer.get_account_status_display() == "новый"


def _skip_first(profile: Profile) -> None:
    first = profile.deliveries.filter(status=Delivery.Status.SCHEDULED).order_by("delivery_on").first()
    Delivery.objects.filter(pk=first.pk).update(status=Delivery.Status.SKIPPED)


def _stop_all(profile: Profile) -> None:  # what a pause leaves: nothing scheduled
    profile.deliveries.filter(status=Delivery.Status.SCHEDULED).update(status=Delivery.Status.CANCELLED)


@pytest.mark.parametrize("change", [lambda profile: None, _skip_first, _stop_all])
def test_the_next_delivery_loaded_with_the_profile_is_the_one_it_would_ask_for(profile_factory, change):
    profile = profile_factory()
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    first = profile.deliveries.order_by("delivery_on").first()
    Delivery.objects.filter(pk=first.pk).update(delivery_on=yesterday)  # past: never the next one
    change(profile)

    loaded = Profile.objects.with_next_delivery().get(pk=profile.pk)
    expected = Profile.objects.get(pk=profile.pk).next_delivery_on()
    assert (expected is None) == (change is _stop_all) and expected != yesterday

    with CaptureQueriesContext(connection) as asked:
        assert loaded.next_delivery_on() == expected
    assert len(asked) == 0
