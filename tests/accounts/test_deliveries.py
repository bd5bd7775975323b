"""Deliveries as rows: the schedule they follow, skip, pause and resume, and what staff do with them."""

import datetime
import io
import re
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from accounts import delivery_actions, services
from accounts.models import Delivery, LedgerEntry, Profile
from accounts.signals import profile_changed
from tests.accounts.helpers import due_today, on_its_day, page_text

pytestmark = pytest.mark.django_db

ADMIN_DELIVERIES = "/admin/accounts/delivery/"
d = datetime.date.fromisoformat


def scheduled(profile: Profile, *, since: datetime.date) -> list[datetime.date]:
    return list(
        profile.deliveries.filter(status=Delivery.Status.SCHEDULED, delivery_on__gte=since)
        .order_by("delivery_on")
        .values_list("delivery_on", flat=True)
    )


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# -- schedule generation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("interval", "first", "today", "expected"),
    [
        (
            "weekly",
            "2027-01-27",
            "2027-01-27",
            ["2027-01-27", "2027-02-03", "2027-02-10", "2027-02-17", "2027-02-24"]
            + ["2027-03-03", "2027-03-10", "2027-03-17", "2027-03-24"],
        ),
        ("biweekly", "2027-01-20", "2027-01-27", ["2027-02-03", "2027-02-17", "2027-03-03", "2027-03-17"]),
        # Month ends: from the 31st, the last day of each shorter month; 8 weeks hold two, four are kept.
        ("monthly", "2027-01-31", "2027-01-25", ["2027-01-31", "2027-02-28", "2027-03-31", "2027-04-30"]),
        ("monthly", "2027-12-31", "2028-02-01", ["2028-02-29", "2028-03-31", "2028-04-30", "2028-05-31"]),
    ],
    ids=["weekly", "biweekly", "monthly-from-31st", "monthly-leap-february"],
)
def test_schedule_keeps_eight_weeks_of_deliveries_for_each_interval(
    profile_factory, interval, first, today, expected
):
    profile = profile_factory(first_delivery_date=d(first), delivery_interval=interval)

    services.deliveries_reschedule(profile=profile, today=d(today))

    assert scheduled(profile, since=d(today)) == [d(day) for day in expected]


def test_schedule_rows_carry_the_category_price_and_address_of_the_time(profile_factory, category):
    profile = profile_factory(first_delivery_date=timezone.localdate() + datetime.timedelta(days=3))

    delivery = profile.deliveries.first()

    assert (delivery.bouquet_category, delivery.price, delivery.delivery_address) == (
        category,
        category.price,
        profile.delivery_address,
    )


def test_changing_the_interval_reshapes_only_future_scheduled_deliveries(profile_factory):
    today = d("2027-03-01")
    profile = profile_factory(first_delivery_date=d("2027-01-04"), delivery_interval="weekly")
    services.deliveries_reschedule(profile=profile, today=d("2027-01-04"))
    delivered = profile.deliveries.get(delivery_on=d("2027-01-04"))
    delivery_actions.delivery_complete(delivery_id=delivered.pk, now=on_its_day(delivered))
    services.deliveries_reschedule(profile=profile, today=d("2027-02-01"))  # the window a month on
    skipped_kept = profile.deliveries.get(delivery_on=d("2027-03-15"))  # stays on the biweekly schedule
    skipped_gone = profile.deliveries.get(delivery_on=d("2027-03-08"))  # leaves it
    Delivery.objects.filter(pk__in=[skipped_kept.pk, skipped_gone.pk]).update(status=Delivery.Status.SKIPPED)

    profile.delivery_interval = "biweekly"
    profile.first_delivery_date = d("2027-03-01")
    profile.save()
    services.deliveries_reschedule(profile=profile, today=today)

    assert scheduled(profile, since=today)[:3] == [d("2027-03-01"), d("2027-03-29"), d("2027-04-12")]
    assert profile.deliveries.get(pk=delivered.pk).status == Delivery.Status.DELIVERED
    assert profile.deliveries.get(pk=skipped_kept.pk).status == Delivery.Status.SKIPPED
    assert profile.deliveries.get(pk=skipped_gone.pk).status == Delivery.Status.CANCELLED
    assert profile.deliveries.filter(delivery_on__lt=today, status=Delivery.Status.SCHEDULED).exists()


def test_a_new_address_from_the_preferences_page_reaches_the_future_deliveries(customer_client, customer):
    data = {
        "bouquet_category": "romantic",
        "delivery_address": "Москва, ул. Арбат, 1",
        "next_delivery_date": customer.next_delivery_on().isoformat(),
        "delivery_interval": "weekly",
        "wishes": customer.wishes,
        "phone": "",
    }

    customer_client.post(reverse("accounts:preferences"), data)

    addresses = set(customer.deliveries.filter(status="scheduled").values_list("delivery_address", flat=True))
    assert addresses == {"Москва, ул. Арбат, 1"}


def test_the_daily_roll_moves_the_window_and_is_safe_to_run_twice(customer):
    call_command("deliveries_roll", stdout=io.StringIO())
    count = customer.deliveries.count()

    call_command("deliveries_roll", stdout=io.StringIO())

    assert customer.deliveries.count() == count
    assert customer.deliveries.filter(status="scheduled").count() == 8  # first in 3 days, weekly, 8 weeks


def test_the_daily_roll_leaves_alone_a_pause_the_customer_ended_meanwhile(customer, monkeypatch):
    today = timezone.localdate()
    delivery_actions.profile_pause(profile=customer, resume_on=today + datetime.timedelta(days=1))
    resume = delivery_actions.profile_resume

    def customer_resumes_first(*, profile, today):
        resume(profile=Profile.objects.get(pk=profile.pk))  # the customer's tab, a moment earlier
        return resume(profile=profile, today=today)

    monkeypatch.setattr(delivery_actions, "profile_resume", customer_resumes_first)

    counts = delivery_actions.deliveries_roll(today=today + datetime.timedelta(days=1))

    assert counts["resumed"] == 1
    assert customer.events.filter(action="resumed").count() == 1


# -- skip -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("days_ahead", "allowed"), [(2, True), (1, False), (0, False), (10, True)])
def test_skip_is_allowed_until_the_cut_off(client, profile_factory, settings, days_ahead, allowed):
    settings.DELIVERY_SKIP_CUTOFF_DAYS = 2
    profile = profile_factory(first_delivery_date=timezone.localdate() + datetime.timedelta(days=days_ahead))
    delivery = profile.deliveries.order_by("delivery_on").first()
    client.force_login(profile.user)

    response = client.post(reverse("accounts:delivery_skip", args=[delivery.pk]))

    assert response.status_code == HTTPStatus.FOUND
    assert response.url == f"{reverse('accounts:dashboard')}#delivery-{delivery.pk}"
    delivery.refresh_from_db()
    assert delivery.status == ("skipped" if allowed else "scheduled")
    expected = "пропущена" if allowed else "Пропустить эту доставку уже нельзя"
    assert expected in " ".join(texts(response))


def test_the_account_page_offers_skip_only_before_the_cut_off(client, profile_factory, settings):
    settings.DELIVERY_SKIP_CUTOFF_DAYS = 2
    profile = profile_factory(first_delivery_date=timezone.localdate() + datetime.timedelta(days=1))
    first, second = profile.deliveries.order_by("delivery_on")[:2]
    client.force_login(profile.user)

    text = page_text(client.get(reverse("accounts:dashboard")))

    assert reverse("accounts:delivery_skip", args=[first.pk]) not in text
    assert reverse("accounts:delivery_skip", args=[second.pk]) in text


def test_skip_needs_a_post(customer_client, customer):
    delivery = customer.deliveries.first()

    response = customer_client.get(reverse("accounts:delivery_skip", args=[delivery.pk]))

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED


def test_skip_needs_the_csrf_token(customer, settings):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(customer.user)
    delivery = customer.deliveries.first()

    response = client.post(reverse("accounts:delivery_skip", args=[delivery.pk]))

    assert response.status_code == HTTPStatus.FORBIDDEN
    delivery.refresh_from_db()
    assert delivery.status == "scheduled"


def test_a_customer_cannot_skip_another_customers_delivery(client, profile_factory):
    anna, boris = profile_factory(), profile_factory()
    delivery = boris.deliveries.first()
    client.force_login(anna.user)

    response = client.post(reverse("accounts:delivery_skip", args=[delivery.pk]))

    assert response.status_code == HTTPStatus.NOT_FOUND
    delivery.refresh_from_db()
    assert delivery.status == "scheduled"


def test_a_customer_pausing_changes_only_their_own_deliveries(client, profile_factory):
    anna, boris = profile_factory(), profile_factory()
    client.force_login(anna.user)

    client.post(reverse("accounts:pause"), {"resume_on": ""})

    boris.refresh_from_db()
    assert boris.account_status == "new"
    assert boris.deliveries.filter(status="scheduled").count() == 8


def test_anonymous_visitors_cannot_act_on_deliveries(client, customer):
    delivery = customer.deliveries.first()

    response = client.post(reverse("accounts:delivery_skip", args=[delivery.pk]))

    assert response.status_code == HTTPStatus.FOUND
    assert response.url.startswith("/login/")


# -- pause and resume ----------------------------------------------------------------------------


def test_pause_indefinitely_cancels_future_deliveries_and_resume_brings_them_back(customer_client, customer):
    today = timezone.localdate()
    before = scheduled(customer, since=today)

    response = customer_client.post(reverse("accounts:pause"), {"resume_on": ""})

    assert response.url == reverse("accounts:dashboard")
    assert "приостановлена" in " ".join(texts(response))
    customer.refresh_from_db()
    assert (customer.account_status, customer.paused_until) == ("paused", None)
    assert scheduled(customer, since=today) == []
    assert customer.next_delivery_on() is None

    response = customer_client.post(reverse("accounts:resume"))

    assert "возобновлена" in " ".join(texts(response))
    customer.refresh_from_db()
    assert customer.account_status == "active"
    assert scheduled(customer, since=today) == before


def test_pause_until_a_date_plans_deliveries_from_that_date_on(customer_client, customer):
    resume_on = timezone.localdate() + datetime.timedelta(days=20)

    customer_client.post(reverse("accounts:pause"), {"resume_on": resume_on.isoformat()})

    customer.refresh_from_db()
    assert (customer.account_status, customer.paused_until) == ("paused", resume_on)
    dates = scheduled(customer, since=timezone.localdate())
    assert dates and dates[0] >= resume_on
    assert dates == customer.planned_dates(
        start=resume_on, until=timezone.localdate() + datetime.timedelta(weeks=8), at_least=4
    )


@pytest.mark.parametrize("interval", ["weekly", "biweekly", "monthly"])
def test_schedule_after_a_pause_ends_continues_on_the_same_days(profile_factory, interval):
    profile = profile_factory(first_delivery_date=d("2027-01-31"), delivery_interval=interval)
    delivery_actions.profile_pause(profile=profile, resume_on=d("2027-03-10"), today=d("2027-02-01"))
    assert scheduled(profile, since=d("2027-02-01"))[0] >= d("2027-03-10")

    call_command("deliveries_roll", stdout=io.StringIO())  # real today: the resume date is long gone
    delivery_actions.deliveries_roll(today=d("2027-03-10"))

    profile.refresh_from_db()
    assert profile.account_status == "active"
    expected = profile.planned_dates(start=d("2027-03-10"), until=d("2027-05-05"), at_least=4)
    assert scheduled(profile, since=d("2027-03-10")) == expected
    assert all(day in profile.planned_dates(start=d("2027-01-31"), until=d("2027-12-31")) for day in expected)


def test_pause_with_a_past_resume_date_is_refused(customer_client, customer):
    response = customer_client.post(
        reverse("accounts:pause"), {"resume_on": timezone.localdate().isoformat()}
    )

    assert "должна быть в будущем" in " ".join(texts(response))
    customer.refresh_from_db()
    assert customer.account_status == "new"


def test_resume_of_a_subscription_that_is_not_paused_says_so(customer_client, customer):
    response = customer_client.post(reverse("accounts:resume"))

    assert "не приостановлена" in " ".join(texts(response))


# action: (what the subscription went through before, the second tab's answer)
TWO_TABS = {
    "profile_close": (None, "Подписка уже закрыта."),
    "profile_reopen": ("profile_close", "Подписка не закрыта."),
    "profile_pause": (None, "Подписка уже приостановлена."),
    "profile_resume": ("profile_pause", "Подписка не приостановлена."),
}


@pytest.mark.parametrize("action", TWO_TABS)
def test_two_tabs_doing_the_same_to_the_subscription_do_it_once_and_tell_the_second(customer, action):
    before, said = TWO_TABS[action]
    if before:
        getattr(delivery_actions, before)(profile=customer)
    # Each tab's view read the profile before the other's action committed.
    first_tab, second_tab = Profile.objects.get(pk=customer.pk), Profile.objects.get(pk=customer.pk)
    told = []

    def receiver(**kwargs) -> None:
        told.append(kwargs["action"])

    profile_changed.connect(receiver, weak=False)
    try:
        getattr(delivery_actions, action)(profile=first_tab)
        with pytest.raises(delivery_actions.DeliveryError) as refused:
            getattr(delivery_actions, action)(profile=second_tab)
    finally:
        profile_changed.disconnect(receiver)

    assert str(refused.value) == said
    assert len(told) == 1  # one change for amoCRM to mirror
    assert customer.events.filter(action=told[0]).count() == 1  # one line in the history
    assert second_tab.account_status == first_tab.account_status  # the second tab reads what is


def test_the_account_page_shows_the_pause_and_the_resume_button(customer_client, customer):
    assert 'action="/account/pause/"' in page_text(customer_client.get("/account/"))

    customer_client.post(reverse("accounts:pause"), {"resume_on": ""})
    text = page_text(customer_client.get("/account/"))

    assert 'action="/account/resume/"' in text
    assert "Доставок нет, пока подписка приостановлена." in text


# -- staff: mark delivered ----------------------------------------------------------------------


def mark_delivered(client, *deliveries):
    return client.post(
        ADMIN_DELIVERIES,
        {"action": "mark_delivered", "_selected_action": [str(x.pk) for x in deliveries]},
        follow=True,
    )


def test_marking_delivered_debits_the_price_once_even_if_clicked_twice(superuser_client, customer):
    delivery = due_today(customer.deliveries.order_by("delivery_on").first())

    first = mark_delivered(superuser_client, delivery)
    second = mark_delivered(superuser_client, delivery)

    customer.refresh_from_db()
    assert customer.account_sum == Decimal("5000.00") - delivery.price
    debits = LedgerEntry.objects.filter(profile=customer, reason="delivery")
    assert [(e.amount, e.delivery_id) for e in debits] == [(-delivery.price, delivery.pk)]
    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    assert delivery.delivered_at is not None
    assert "отмечена доставленной" in page_text(first)
    assert "ничего не списано повторно" in page_text(second)


def test_marking_delivered_refuses_a_price_above_the_balance_with_a_warning(
    superuser_client, profile_factory
):
    profile = profile_factory(account_sum=Decimal("100.00"))
    delivery = due_today(profile.deliveries.first())

    response = mark_delivered(superuser_client, delivery)

    assert "Пополните или исправьте баланс" in page_text(response)
    profile.refresh_from_db()
    assert profile.account_sum == Decimal("100.00")
    delivery.refresh_from_db()
    assert delivery.status == "scheduled"


def test_marking_delivered_refuses_a_delivery_dated_tomorrow(superuser_client, profile_factory):
    profile = profile_factory(first_delivery_date=timezone.localdate() + datetime.timedelta(days=1))
    delivery = profile.deliveries.order_by("delivery_on").first()

    response = mark_delivered(superuser_client, delivery)

    assert "её можно отметить доставленной с этого дня" in page_text(response)
    delivery.refresh_from_db()
    assert delivery.status == "scheduled"
    profile.refresh_from_db()
    assert profile.account_sum == Decimal("5000.00")
    assert not LedgerEntry.objects.filter(profile=profile, reason="delivery").exists()


def test_marking_delivered_goes_by_the_sites_day_not_the_servers(customer):
    delivery = customer.deliveries.order_by("delivery_on").first()
    day = delivery.delivery_on
    # 22:30 UTC the evening before is already 01:30 of the delivery's day in Moscow, the site's zone.
    late_evening_utc = datetime.datetime.combine(day, datetime.time(22, 30), tzinfo=datetime.UTC)

    with pytest.raises(delivery_actions.DeliveryError):
        delivery_actions.delivery_complete(
            delivery_id=delivery.pk, now=late_evening_utc - datetime.timedelta(days=1, hours=2)
        )
    assert delivery_actions.delivery_complete(
        delivery_id=delivery.pk, now=late_evening_utc - datetime.timedelta(days=1)
    )


def test_the_deliveries_list_filters_by_day_and_status(superuser_client, profile_factory):
    today = timezone.localdate()
    tomorrow_profile = profile_factory(first_delivery_date=today + datetime.timedelta(days=1))
    profile_factory(first_delivery_date=today + datetime.timedelta(days=20))

    response = superuser_client.get(ADMIN_DELIVERIES, {"day": "tomorrow", "status": "scheduled"})

    assert response.status_code == HTTPStatus.OK
    shown = list(response.context["cl"].queryset)
    assert [x.profile for x in shown] == [tomorrow_profile]
    for day in ["today", "week"]:
        assert superuser_client.get(ADMIN_DELIVERIES, {"day": day}).status_code == HTTPStatus.OK


@pytest.mark.parametrize("action", ["delivery_skip", "delivery_unskip", "delivery_move"])
def test_a_delivery_action_returns_to_the_card_that_changed(customer_client, customer, action):
    delivery = next(d for d in customer.upcoming_deliveries() if d.can_skip)  # a card the page shows
    if action == "delivery_unskip":
        customer_client.post(reverse("accounts:delivery_skip", args=[delivery.pk]))
    data = {"delivery_on": (delivery.delivery_on + datetime.timedelta(days=1)).isoformat()}

    response = customer_client.post(reverse(f"accounts:{action}", args=[delivery.pk]), data)

    assert response.url == f"/account/#delivery-{delivery.pk}"
    assert f'id="delivery-{delivery.pk}"' in page_text(customer_client.get(response.url))


def test_a_refusal_for_a_card_no_longer_shown_reads_as_an_error_at_the_top(customer_client, customer):
    """Another tab cancelled the delivery (a pause, a close): the skip's refusal has no card to sit
    on, so it goes to the top, styled by its level whatever card it was tagged for."""
    delivery = next(d for d in customer.upcoming_deliveries() if d.can_skip)
    Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.Status.CANCELLED)

    customer_client.post(reverse("accounts:delivery_skip", args=[delivery.pk]))
    page = customer_client.get(reverse("accounts:dashboard")).content.decode()

    top = page[page.index('<div class="messages"') :].split("</div>")[0]
    assert re.search(r'<p class="message message--error">[^<]+</p>', top), top


def test_each_delivery_form_on_the_account_page_carries_a_token_the_site_accepts(customer):
    """Item 11 (speed): the rows' forms share one CSRF token resolved once per page; a skip posted
    with the token its own form carries goes through."""
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(customer.user)
    delivery = customer.upcoming_deliveries()[-1]  # the last card: the others' forms come before it
    page = client.get(reverse("accounts:dashboard")).content.decode()
    skip_url = reverse("accounts:delivery_skip", args=[delivery.pk])
    form = page[page.index(f'action="{skip_url}"') :].split("</form>")[0]
    token = re.search(r'name="csrfmiddlewaretoken" value="(\w{64})"', form).group(1)

    response = client.post(skip_url, {"csrfmiddlewaretoken": token})

    assert response.status_code == HTTPStatus.FOUND
    delivery.refresh_from_db()
    assert delivery.status == "skipped"
