"""Moving one delivery to another day and taking a skip back: the rules, the forms on the account
page, ownership, and the daily reschedule that must keep a moved bouquet where the customer put it."""

import datetime
import re
import threading
from http import HTTPStatus

import pytest
from django.contrib.messages import get_messages
from django.db import connection, connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import delivery_actions, services
from accounts.models import BouquetCategory, Delivery, Profile
from tests.accounts.helpers import page_text

pytestmark = pytest.mark.django_db

d = datetime.date.fromisoformat
TODAY = d("2027-02-01")  # a Monday; the factory's weekly schedule below starts on Thursday 4 February


@pytest.fixture
def weekly(profile_factory, settings) -> Profile:
    settings.DELIVERY_SKIP_CUTOFF_DAYS = 2
    settings.DELIVERY_HORIZON_WEEKS = 8
    profile = profile_factory(first_delivery_date=d("2027-02-04"))
    services.deliveries_reschedule(profile=profile, today=TODAY)
    return profile


def row(profile: Profile, day: str) -> Delivery:
    return profile.deliveries.get(delivery_on=d(day))


def scheduled_days(profile: Profile) -> list[str]:
    days = profile.deliveries.filter(status="scheduled", delivery_on__gte=TODAY).order_by("delivery_on")
    return [day.isoformat() for day in days.values_list("delivery_on", flat=True)]


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def move(profile: Profile, day: str, to: str, *, today: datetime.date = TODAY) -> Delivery:
    return delivery_actions.delivery_move(
        profile=profile, delivery_id=row(profile, day).pk, new_date=d(to), today=today
    )


# -- the rules -------------------------------------------------------------------------------------


def test_a_moved_delivery_leaves_its_day_and_remembers_it(weekly):
    moved = move(weekly, "2027-02-11", "2027-02-13")

    assert (moved.delivery_on, moved.moved_from, moved.status) == (
        d("2027-02-13"),
        d("2027-02-11"),
        "scheduled",
    )
    assert not weekly.deliveries.filter(delivery_on=d("2027-02-11")).exists()
    assert scheduled_days(weekly)[:3] == ["2027-02-04", "2027-02-13", "2027-02-18"]


@pytest.mark.parametrize(
    ("day", "to", "message"),
    [
        ("2027-02-04", "2027-02-12", "Перенести эту доставку уже нельзя"),  # the 4th is past its cut-off
        ("2027-02-11", "2027-02-04", "Выберите день"),  # the new day is before the cut-off
        ("2027-02-11", "2027-04-01", "Выберите день"),  # beyond the planned eight weeks
        ("2027-02-11", "2027-02-18", "уже есть доставка"),  # another delivery's day
        ("2027-02-11", "2027-02-11", "уже на этот день"),
    ],
    ids=["delivery-past-cut-off", "new-day-before-cut-off", "beyond-horizon", "taken-day", "same-day"],
)
def test_a_move_the_rules_do_not_allow_changes_nothing(weekly, day, to, message):
    before = scheduled_days(weekly)

    with pytest.raises(delivery_actions.DeliveryError, match=message):
        move(weekly, day, to, today=d("2027-02-03"))

    assert scheduled_days(weekly) == before


def test_a_skipped_delivery_cannot_be_moved(weekly):
    delivery_actions.delivery_skip(profile=weekly, delivery_id=row(weekly, "2027-02-11").pk, today=TODAY)

    with pytest.raises(delivery_actions.DeliveryError, match="Перенести можно только"):
        move(weekly, "2027-02-11", "2027-02-12")


def test_a_move_onto_a_cancelled_day_replaces_that_row(weekly):
    Delivery.objects.filter(profile=weekly, delivery_on=d("2027-02-25")).update(status="cancelled")

    move(weekly, "2027-02-18", "2027-02-25")

    [there] = weekly.deliveries.filter(delivery_on=d("2027-02-25"))
    assert (there.status, there.moved_from) == ("scheduled", d("2027-02-18"))


def test_moving_back_to_the_original_day_makes_it_an_ordinary_delivery(weekly):
    move(weekly, "2027-02-11", "2027-02-13")
    moved = move(weekly, "2027-02-13", "2027-02-11")

    assert (moved.delivery_on, moved.moved_from, moved.is_moved) == (d("2027-02-11"), None, False)


def test_a_second_move_remembers_the_schedules_day_not_the_first_move(weekly):
    move(weekly, "2027-02-11", "2027-02-13")
    moved = move(weekly, "2027-02-13", "2027-02-15")

    assert (moved.delivery_on, moved.moved_from) == (d("2027-02-15"), d("2027-02-11"))


# -- the daily reschedule after a move --------------------------------------------------------------


def test_the_daily_roll_keeps_a_moved_delivery_and_does_not_refill_its_old_day(weekly):
    move(weekly, "2027-02-11", "2027-02-13")
    before = scheduled_days(weekly)

    delivery_actions.deliveries_roll(today=TODAY)
    delivery_actions.deliveries_roll(today=TODAY + datetime.timedelta(days=1))

    assert scheduled_days(weekly) == before
    assert not weekly.deliveries.filter(delivery_on=d("2027-02-11")).exists()
    assert row(weekly, "2027-02-13").status == "scheduled"


def test_the_daily_roll_keeps_a_move_onto_the_day_another_delivery_moved_from(weekly):
    move(weekly, "2027-02-11", "2027-02-13")
    move(weekly, "2027-02-18", "2027-02-11")  # the 11th is free: its bouquet went to the 13th
    confirmed = scheduled_days(weekly)

    delivery_actions.deliveries_roll(today=TODAY)
    delivery_actions.deliveries_roll(today=TODAY + datetime.timedelta(days=1))

    assert scheduled_days(weekly) == confirmed
    assert not weekly.deliveries.filter(delivery_on=d("2027-02-18")).exists()
    assert (row(weekly, "2027-02-11").moved_from, row(weekly, "2027-02-13").moved_from) == (
        d("2027-02-18"),
        d("2027-02-11"),
    )


def test_a_delivery_moved_earlier_still_holds_its_old_day_once_its_new_day_has_passed(weekly):
    move(weekly, "2027-02-18", "2027-02-09")

    services.deliveries_reschedule(profile=weekly, today=d("2027-02-10"))

    assert not weekly.deliveries.filter(delivery_on=d("2027-02-18")).exists()


def test_a_preferences_change_that_keeps_the_day_keeps_the_move(weekly):
    move(weekly, "2027-02-11", "2027-02-13")

    services.profile_update_preferences(profile=weekly, data={"delivery_address": "Москва, Тверская, 1"})
    services.deliveries_reschedule(profile=weekly, today=TODAY)

    moved = row(weekly, "2027-02-13")
    assert (moved.status, moved.delivery_address) == ("scheduled", "Москва, Тверская, 1")


def test_a_new_interval_that_drops_the_old_day_cancels_the_moved_delivery(weekly):
    move(weekly, "2027-02-11", "2027-02-13")

    weekly.delivery_interval = "biweekly"  # 4, 18 February ...: the 11th leaves the schedule
    weekly.save(update_fields=["delivery_interval"])
    services.deliveries_reschedule(profile=weekly, today=TODAY)

    assert row(weekly, "2027-02-13").status == "cancelled"
    assert scheduled_days(weekly)[:2] == ["2027-02-04", "2027-02-18"]


def test_a_schedule_that_comes_to_want_the_moved_day_keeps_a_bouquet_on_it(weekly):
    move(weekly, "2027-02-11", "2027-02-12")

    weekly.first_delivery_date = d("2027-02-05")  # Fridays now: 5, 12, 19 February ...
    weekly.save(update_fields=["first_delivery_date"])
    services.deliveries_reschedule(profile=weekly, today=TODAY)

    assert scheduled_days(weekly)[:3] == ["2027-02-05", "2027-02-12", "2027-02-19"]
    assert row(weekly, "2027-02-12").moved_from is None  # an ordinary Friday now


@pytest.mark.parametrize("status", ["paused", "closed"])
def test_a_moved_delivery_whose_old_day_has_passed_stops_with_the_subscription(weekly, status):
    # The 8th, not sooner: a bouquet inside the cut-off stays as it is whatever happens (test_cutoff).
    move(weekly, "2027-02-04", "2027-02-08", today=d("2027-02-01"))
    later = d("2027-02-05")  # the 4th has passed; the bouquet waits for the 8th

    weekly.account_status = status
    weekly.paused_until = None
    weekly.save(update_fields=["account_status", "paused_until"])
    services.deliveries_reschedule(profile=weekly, today=later)

    assert row(weekly, "2027-02-08").status == "cancelled"


def test_a_moved_delivery_whose_old_day_has_passed_stands_while_the_subscription_runs(weekly):
    move(weekly, "2027-02-04", "2027-02-06", today=d("2027-02-01"))

    services.deliveries_reschedule(profile=weekly, today=d("2027-02-05"))

    assert row(weekly, "2027-02-06").status == "scheduled"


def test_a_date_that_comes_back_is_reminded_again(weekly):
    reminded = row(weekly, "2027-02-11")
    reminded.reminded_at = timezone.now()
    reminded.save(update_fields=["reminded_at"])
    weekly.delivery_interval = "biweekly"
    weekly.save(update_fields=["delivery_interval"])
    services.deliveries_reschedule(profile=weekly, today=TODAY)
    assert row(weekly, "2027-02-11").status == "cancelled"

    weekly.delivery_interval = "weekly"
    weekly.save(update_fields=["delivery_interval"])
    services.deliveries_reschedule(profile=weekly, today=TODAY)

    back = row(weekly, "2027-02-11")
    assert (back.status, back.reminded_at) == ("scheduled", None)


# -- un-skip ---------------------------------------------------------------------------------------


def test_a_skipped_delivery_comes_back_until_the_cut_off_with_todays_preferences(weekly):
    luxe = BouquetCategory.objects.get(slug="luxe")
    skipped = delivery_actions.delivery_skip(
        profile=weekly, delivery_id=row(weekly, "2027-02-11").pk, today=TODAY
    )
    services.profile_update_preferences(profile=weekly, data={"bouquet_category": luxe})

    back = delivery_actions.delivery_unskip(profile=weekly, delivery_id=skipped.pk, today=TODAY)

    assert (back.status, back.bouquet_category, back.price) == ("scheduled", luxe, luxe.price)


def test_an_unskip_after_the_cut_off_is_refused(weekly):
    skipped = delivery_actions.delivery_skip(
        profile=weekly, delivery_id=row(weekly, "2027-02-11").pk, today=TODAY
    )

    with pytest.raises(delivery_actions.DeliveryError, match="Вернуть эту доставку уже нельзя"):
        delivery_actions.delivery_unskip(profile=weekly, delivery_id=skipped.pk, today=d("2027-02-10"))

    skipped.refresh_from_db()
    assert skipped.status == "skipped"


def test_only_a_skipped_delivery_can_be_unskipped(weekly):
    with pytest.raises(delivery_actions.DeliveryError, match="не пропущена"):
        delivery_actions.delivery_unskip(
            profile=weekly, delivery_id=row(weekly, "2027-02-11").pk, today=TODAY
        )


# -- the account page --------------------------------------------------------------------------------


def upcoming(profile: Profile, n: int = 1) -> Delivery:
    return profile.deliveries.filter(status="scheduled").order_by("delivery_on")[n]  # past the cut-off


def test_the_account_page_moves_a_delivery_and_says_so(customer_client, customer):
    delivery = upcoming(customer)
    new_day = delivery.delivery_on + datetime.timedelta(days=1)

    response = customer_client.post(
        reverse("accounts:delivery_move", args=[delivery.pk]), {"delivery_on": new_day.isoformat()}
    )

    assert response.status_code == HTTPStatus.FOUND
    assert response.url == f"{reverse('accounts:dashboard')}#delivery-{delivery.pk}"
    delivery.refresh_from_db()
    assert delivery.delivery_on == new_day
    assert "перенесена на" in " ".join(texts(response))
    page = page_text(customer_client.get(reverse("accounts:dashboard")))
    assert "перенесена с" in page


def card(response, delivery: Delivery) -> str:
    """The account page's card of one delivery (its <li>), as rendered."""
    found = re.search(rf'<li [^>]*id="delivery-{delivery.pk}">(.*?)</li>', page_text(response), re.S)
    assert found, f"no card for delivery {delivery.pk}"
    return found.group(1)


def test_a_refused_move_says_why_on_the_card_the_page_returns_to(customer_client, customer):
    # The page comes back scrolled to the card: a message at the top would be out of sight.
    first, second = upcoming(customer, 1), upcoming(customer, 2)

    response = customer_client.post(
        reverse("accounts:delivery_move", args=[first.pk]), {"delivery_on": second.delivery_on.isoformat()}
    )
    page = customer_client.get(response.url)

    assert "На этот день уже есть доставка — выберите другой." in card(page, first)
    assert page_text(page).count("На этот день уже есть доставка") == 1  # not also at the top


def test_a_done_action_says_so_on_its_card(customer_client, customer):
    delivery = upcoming(customer)

    customer_client.post(reverse("accounts:delivery_skip", args=[delivery.pk]))
    page = customer_client.get(reverse("accounts:dashboard"))

    assert "пропущена." in card(page, delivery)


def test_two_tabs_moving_two_deliveries_to_one_day_get_the_forms_answer_not_a_500(
    customer_client, customer, monkeypatch
):
    first, second = upcoming(customer, 1), upcoming(customer, 2)
    day = first.delivery_on + datetime.timedelta(days=1)
    save = Delivery.save

    def other_tab_lands_first(self, *args, **kwargs):
        # The other tab's move of `second` commits between this move's check and its write.
        if self.pk == first.pk and not Delivery.objects.filter(delivery_on=day, profile=customer).exists():
            Delivery.objects.filter(pk=second.pk).update(delivery_on=day, moved_from=second.delivery_on)
        return save(self, *args, **kwargs)

    monkeypatch.setattr(Delivery, "save", other_tab_lands_first)

    response = customer_client.post(
        reverse("accounts:delivery_move", args=[first.pk]), {"delivery_on": day.isoformat()}
    )

    assert response.status_code == HTTPStatus.FOUND
    assert response.url == f"{reverse('accounts:dashboard')}#delivery-{first.pk}"
    assert texts(response) == ["На этот день уже есть доставка — выберите другой."]
    first.refresh_from_db()
    assert first.delivery_on == day - datetime.timedelta(days=1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_moves_to_one_day_at_once_make_one_move_and_one_refusal(weekly):
    if connection.vendor != "postgresql":  # SQLite locks the whole table: the test above simulates it
        pytest.skip("needs PostgreSQL: DATABASE_URL=postgres://...")
    start, results = threading.Barrier(2, timeout=10), []

    def move_to_the_13th(day: str) -> None:
        try:
            start.wait()
            move(weekly, day, "2027-02-13")
            results.append("moved")
        except delivery_actions.DeliveryError as e:
            results.append(str(e))
        except Exception as e:  # noqa: BLE001 - reported below
            results.append(repr(e))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=move_to_the_13th, args=(day,)) for day in ("2027-02-11", "2027-02-18")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(results) == ["moved", "На этот день уже есть доставка — выберите другой."]


@pytest.mark.parametrize("value", ["", "31.02.2027", "не дата"])
def test_a_move_with_no_valid_date_explains_in_russian(customer_client, customer, value):
    delivery = upcoming(customer)

    response = customer_client.post(
        reverse("accounts:delivery_move", args=[delivery.pk]), {"delivery_on": value}
    )

    assert response.status_code == HTTPStatus.FOUND
    assert any("дат" in text.lower() or "обязательное" in text.lower() for text in texts(response))
    assert delivery.delivery_on == Delivery.objects.get(pk=delivery.pk).delivery_on


def test_the_account_page_unskips_a_delivery(customer_client, customer):
    delivery = upcoming(customer)
    customer_client.post(reverse("accounts:delivery_skip", args=[delivery.pk]))
    page = page_text(customer_client.get(reverse("accounts:dashboard")))
    assert reverse("accounts:delivery_unskip", args=[delivery.pk]) in page

    response = customer_client.post(reverse("accounts:delivery_unskip", args=[delivery.pk]))

    delivery.refresh_from_db()
    assert delivery.status == "scheduled"
    assert "снова в плане" in " ".join(texts(response))


@pytest.mark.parametrize("action", ["delivery_move", "delivery_unskip"])
def test_a_customer_cannot_touch_another_customers_delivery(client, profile_factory, action):
    anna, boris = profile_factory(), profile_factory()
    delivery = upcoming(boris)
    if action == "delivery_unskip":
        delivery_actions.delivery_skip(profile=boris, delivery_id=delivery.pk)
    before = Delivery.objects.get(pk=delivery.pk)
    client.force_login(anna.user)
    new_day = delivery.delivery_on + datetime.timedelta(days=1)

    response = client.post(reverse(f"accounts:{action}", args=[delivery.pk]), {"delivery_on": new_day})

    assert response.status_code == HTTPStatus.NOT_FOUND
    after = Delivery.objects.get(pk=delivery.pk)
    assert (after.delivery_on, after.status) == (before.delivery_on, before.status)


@pytest.mark.parametrize("action", ["delivery_move", "delivery_unskip"])
def test_moves_and_unskips_need_a_post_with_the_csrf_token(customer, action):
    client = Client(enforce_csrf_checks=True)
    client.force_login(customer.user)
    delivery = upcoming(customer)
    url = reverse(f"accounts:{action}", args=[delivery.pk])

    assert client.get(url).status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert client.post(url, {"delivery_on": "2099-01-01"}).status_code == HTTPStatus.FORBIDDEN


def test_anonymous_visitors_cannot_move_deliveries(client, customer):
    delivery = upcoming(customer)

    response = client.post(
        reverse("accounts:delivery_move", args=[delivery.pk]), {"delivery_on": "2099-01-01"}
    )

    assert response.status_code == HTTPStatus.FOUND and response.url.startswith("/login/")


def test_the_move_window_runs_from_the_cut_off_to_the_planned_horizon(settings):
    settings.DELIVERY_SKIP_CUTOFF_DAYS = 2
    settings.DELIVERY_HORIZON_WEEKS = 8
    today = timezone.localdate()

    first, last = delivery_actions.move_window(today=today)

    assert (first - today, last - today) == (datetime.timedelta(days=2), datetime.timedelta(weeks=8))
