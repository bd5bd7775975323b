"""The cut-off: a delivery inside `DELIVERY_SKIP_CUTOFF_DAYS` is on the couriers' list, so no
reschedule (preferences, pause, resume, a change from the CRM, the daily roll) touches it, and the
pages say from which delivery a change applies."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from accounts import delivery_actions, services
from accounts.models import BouquetCategory, Delivery, Profile
from tests.accounts.helpers import page_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def tomorrow_luxe(profile_factory, settings) -> Profile:
    """A weekly Люкс customer whose next bouquet is tomorrow: past the 2-day cut-off."""
    settings.DELIVERY_SKIP_CUTOFF_DAYS = 2
    return profile_factory(
        first_delivery_date=timezone.localdate() + datetime.timedelta(days=1),
        bouquet_category=BouquetCategory.objects.get(slug="luxe"),
    )


def as_couriers_see_it(delivery: Delivery) -> tuple:
    delivery.refresh_from_db()
    return (
        delivery.delivery_on,
        delivery.bouquet_category.slug,
        delivery.price,
        delivery.delivery_address,
        delivery.status,
    )


def change_preferences(profile: Profile) -> None:
    services.profile_update_preferences(
        profile=profile,
        data={
            "bouquet_category": BouquetCategory.objects.get(slug="seasonal"),
            "delivery_address": "Москва, ул. Арбат, 1",
            "delivery_interval": "biweekly",
        },
        next_delivery_date=timezone.localdate() + datetime.timedelta(days=4),
    )


def pause(profile: Profile) -> None:
    delivery_actions.profile_pause(profile=profile)


def change_from_the_crm(profile: Profile) -> None:
    services.profile_apply_staff_changes(
        profile=profile,
        data={"bouquet_category": BouquetCategory.objects.get(slug="seasonal"), "account_status": "paused"},
    )


def daily_roll(profile: Profile) -> None:
    # A change saved without its reschedule (an import, a data fix): the roll is what catches up.
    Profile.objects.filter(pk=profile.pk).update(
        bouquet_category=BouquetCategory.objects.get(slug="seasonal"), delivery_address="Москва, Тверская, 1"
    )
    delivery_actions.deliveries_roll()


@pytest.mark.parametrize(
    "change",
    [change_preferences, pause, change_from_the_crm, daily_roll],
    ids=["preferences", "pause", "crm", "daily-roll"],
)
def test_a_reschedule_leaves_a_delivery_inside_the_cut_off_exactly_as_it_is(tomorrow_luxe, change):
    tomorrow = tomorrow_luxe.deliveries.get(delivery_on=timezone.localdate() + datetime.timedelta(days=1))
    before = as_couriers_see_it(tomorrow)

    change(tomorrow_luxe)

    assert as_couriers_see_it(tomorrow) == before


def test_a_resume_leaves_a_delivery_cancelled_by_the_pause_inside_the_cut_off_cancelled(tomorrow_luxe):
    # Paused long ago (tomorrow's bouquet was cancelled then, before the couriers' list); resumed now.
    tomorrow = tomorrow_luxe.deliveries.get(delivery_on=timezone.localdate() + datetime.timedelta(days=1))
    Delivery.objects.filter(profile=tomorrow_luxe).update(status=Delivery.Status.CANCELLED)
    Profile.objects.filter(pk=tomorrow_luxe.pk).update(account_status=Profile.AccountStatus.PAUSED)
    tomorrow_luxe.refresh_from_db()

    delivery_actions.profile_resume(profile=tomorrow_luxe)

    assert as_couriers_see_it(tomorrow)[-1] == Delivery.Status.CANCELLED
    assert tomorrow_luxe.next_delivery_on() == tomorrow.delivery_on + datetime.timedelta(weeks=1)


def test_a_reschedule_still_reaches_the_deliveries_after_the_cut_off(tomorrow_luxe):
    change_preferences(tomorrow_luxe)

    after = tomorrow_luxe.deliveries.filter(
        delivery_on__gte=Delivery.first_open_on(), status=Delivery.Status.SCHEDULED
    )
    assert after.exists()
    assert {(d.bouquet_category.slug, d.delivery_address) for d in after} == {
        ("seasonal", "Москва, ул. Арбат, 1")
    }


def test_a_reschedule_plans_no_new_delivery_inside_the_cut_off(profile_factory, settings):
    settings.DELIVERY_SKIP_CUTOFF_DAYS = 2
    profile = profile_factory(first_delivery_date=timezone.localdate() + datetime.timedelta(days=5))

    services.profile_update_preferences(
        profile=profile, data={}, next_delivery_date=timezone.localdate() + datetime.timedelta(days=1)
    )

    assert not profile.deliveries.filter(delivery_on__lt=Delivery.first_open_on()).exists()


def test_a_new_subscription_is_planned_from_its_first_day_even_inside_the_cut_off(profile_factory, settings):
    settings.DELIVERY_SKIP_CUTOFF_DAYS = 2
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)

    profile = profile_factory(first_delivery_date=tomorrow)

    assert profile.deliveries.get(delivery_on=tomorrow).status == Delivery.Status.SCHEDULED


def test_the_preferences_page_says_from_which_delivery_changes_apply(client, tomorrow_luxe):
    client.force_login(tomorrow_luxe.user)

    text = page_text(client.get(reverse("accounts:preferences")))

    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    assert f"Доставка {tomorrow.day}" in text
    assert "уже передана курьерам" in text
    assert f"с доставки {(tomorrow + datetime.timedelta(weeks=1)).day}" in text


def test_the_pause_form_says_from_which_delivery_the_pause_applies(client, tomorrow_luxe):
    client.force_login(tomorrow_luxe.user)

    text = page_text(client.get(reverse("accounts:dashboard")))

    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    assert "уже передана курьерам" in text
    assert f"с доставки {(tomorrow + datetime.timedelta(weeks=1)).day}" in text


def test_the_preferences_form_refuses_a_new_next_delivery_before_the_cut_off(
    client, profile_factory, settings
):
    settings.DELIVERY_SKIP_CUTOFF_DAYS = 2
    profile = profile_factory(first_delivery_date=timezone.localdate() + datetime.timedelta(days=5))
    client.force_login(profile.user)
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    data = {
        "bouquet_category": profile.bouquet_category.slug,
        "delivery_address": profile.delivery_address,
        "next_delivery_date": tomorrow.isoformat(),
        "delivery_interval": profile.delivery_interval,
        "wishes": profile.wishes,
        "phone": "",
    }

    response = client.post(reverse("accounts:preferences"), data)

    assert response.status_code == 200
    assert "Следующую доставку можно перенести на" in page_text(response)
    profile.refresh_from_db()
    assert profile.first_delivery_date == timezone.localdate() + datetime.timedelta(days=5)


def test_the_preferences_date_help_names_the_first_day_that_can_still_change(
    client, profile_factory, settings
):
    # "С сегодняшнего дня" invited a day the form then refuses (the cut-off).
    settings.DELIVERY_SKIP_CUTOFF_DAYS = 2
    profile = profile_factory(first_delivery_date=timezone.localdate() + datetime.timedelta(days=5))
    client.force_login(profile.user)
    first_open = date_format(timezone.localdate() + datetime.timedelta(days=2), "j E")

    text = page_text(client.get(reverse("accounts:preferences")))

    assert f"С {first_open} и не дальше чем на год вперёд: более ранние дни уже переданы курьерам." in text
    assert "С сегодняшнего дня" not in text
