"""flower_account.prepared: a queryset's SQL built once, run with each call's values, gives what the
queryset itself gives; and the session engine built on it keeps Django's behaviour."""

import datetime
import threading
from decimal import Decimal

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.db.models.sql.compiler import SQLCompiler
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import payments
from accounts.models import Delivery, Profile
from accounts.views import DashboardView
from flower_account import prepared
from flower_account.sessions import SESSION_READ, SessionStore


def _compiles(monkeypatch) -> list[str]:
    """The SQL Django compiles from now on (one entry per SQLCompiler.as_sql call)."""
    seen, original = [], SQLCompiler.as_sql

    def as_sql(self, *args, **kwargs):
        sql, params = original(self, *args, **kwargs)
        seen.append(sql)
        return sql, params

    monkeypatch.setattr(SQLCompiler, "as_sql", as_sql)
    return seen


def _dashboard_queryset(user_id: int):
    return (
        Profile.objects.select_related("bouquet_category")
        .with_referral_stats()
        .with_awaiting_sum()
        .get(user_id=user_id)
    )


def test_a_prepared_profile_is_the_querysets_profile_with_its_category_and_counts(profile_factory):
    first = profile_factory()
    second = profile_factory(paid=False, account_sum=Decimal("3000"))
    payments.invoice_issue(profile=first, amount=Decimal("700"))
    for profile in (first, second, first):
        expected = _dashboard_queryset(profile.user_id)
        with CaptureQueriesContext(connection) as queries:
            got = DashboardView.profiles.first(user_id=profile.user_id)
            category = got.bouquet_category  # select_related: no query of its own
        assert len(queries) == 1
        assert (got.pk, got.account_sum, category.price) == (
            expected.pk,
            expected.account_sum,
            category.price,
        )
        assert (got.referral_count, got.rewards_count, got.awaiting_sum) == (
            expected.referral_count,
            expected.rewards_count,
            expected.awaiting_sum,
        )
    assert DashboardView.profiles.first(user_id=first.user_id).awaiting_sum == Decimal("700.00")
    assert DashboardView.profiles.first(user_id=second.user_id).awaiting_sum == Decimal("3000.00")


def test_the_sql_is_built_once_and_each_call_runs_it_with_its_own_values(customer, monkeypatch):
    read = prepared.PreparedQuery(
        lambda profile_id, today: Delivery.objects.filter(
            profile_id=profile_id, delivery_on__gte=today
        ).order_by("delivery_on"),
        profile_id=prepared.ID,
        today=prepared.DAY,
    )
    days = list(customer.deliveries.order_by("delivery_on").values_list("delivery_on", flat=True))
    assert len(days) >= 3
    compiled = _compiles(monkeypatch)
    for today in (days[0], days[1], days[-1] + datetime.timedelta(days=1)):
        assert [d.delivery_on for d in read.all(profile_id=customer.pk, today=today)] == [
            day for day in days if day >= today
        ]
    assert read.all(profile_id=customer.pk + 1000, today=days[0]) == []
    assert len(compiled) == 1  # the first call's


def test_upcoming_deliveries_match_the_plain_query_for_each_limit_and_status(customer):
    today = timezone.localdate()
    skipped = customer.upcoming_deliveries(limit=2)[1]
    Delivery.objects.filter(pk=skipped.pk).update(status=Delivery.Status.SKIPPED)
    for include_skipped, limit in ((False, 1), (False, None), (True, 52), (True, 3)):
        statuses = [Delivery.Status.SCHEDULED] + ([Delivery.Status.SKIPPED] if include_skipped else [])
        expected = Delivery.objects.filter(profile=customer, delivery_on__gte=today, status__in=statuses)
        expected = list(expected.order_by("delivery_on")[: limit or 4].values_list("pk", flat=True))
        got = customer.upcoming_deliveries(limit=limit, include_skipped=include_skipped)
        assert [d.pk for d in got] == expected
    assert skipped.pk not in [d.pk for d in customer.upcoming_deliveries(limit=52)]


def test_a_marker_that_is_not_exactly_one_parameter_is_refused_when_built(customer):
    twice = prepared.PreparedQuery(lambda pk: Delivery.objects.filter(pk=pk, profile_id=pk), pk=prepared.ID)
    with pytest.raises(ValueError, match="is 2 of the parameters"):
        twice.all(pk=customer.pk)
    with pytest.raises(TypeError, match="expected values for"):
        DashboardView.profiles.all(pk=customer.user_id)


# serialized_rollback: the categories the migrations made are there again for the tests after it.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_threads_share_the_built_sql_and_each_reads_with_its_own_connection(profile_factory):
    profiles = [profile_factory() for _ in range(4)]
    found, errors = {}, []

    def read(profile):
        try:
            for _ in range(5):
                found[profile.pk] = DashboardView.profiles.first(user_id=profile.user_id).pk
        except Exception as error:  # the assertion below shows it
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=read, args=(profile,)) for profile in profiles]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert found == {profile.pk: profile.pk for profile in profiles}


def test_the_session_engine_loads_a_live_session_and_drops_an_expired_or_unknown_key(db):
    store = SessionStore()
    store["seen"] = "yes"
    store.create()
    assert SessionStore(store.session_key)["seen"] == "yes"

    Session.objects.filter(session_key=store.session_key).update(
        expire_date=timezone.now() - datetime.timedelta(seconds=1)
    )
    expired = SessionStore(store.session_key)
    assert expired.load() == {}
    assert expired.session_key is None

    unknown = SessionStore("x" * 32)
    assert unknown.load() == {} and unknown.session_key is None
    assert SESSION_READ.first(key="y" * 32, now=timezone.now()) is None


def test_a_signed_in_page_reads_its_session_through_the_engine(customer_client, settings, monkeypatch):
    assert settings.SESSION_ENGINE == "flower_account.sessions"
    keys, read = [], SESSION_READ.first

    def spying(*, key, now):
        keys.append(key)
        return read(key=key, now=now)

    monkeypatch.setattr(SESSION_READ, "first", spying)
    assert customer_client.get("/account/").status_code == 200
    assert keys == [customer_client.cookies[settings.SESSION_COOKIE_NAME].value]
    customer_client.session.flush()
    assert customer_client.get("/account/").status_code == 302  # signed out: to the login page
    assert len(keys) == 2


def test_the_user_manager_reads_a_user_by_pk_through_prepared_sql(user_factory, monkeypatch):
    user = user_factory()
    User = type(user)
    assert User.objects.get(pk=user.pk) == user  # built here
    compiled = _compiles(monkeypatch)
    for _ in range(3):
        got = User.objects.get(pk=user.pk)
        assert (got.pk, got.email, got.password) == (user.pk, user.email, user.password)
    assert compiled == []
    with pytest.raises(User.DoesNotExist, match="User matching query does not exist"):
        User.objects.get(pk=user.pk + 1000)
    # Any other lookup is Django's own.
    assert User.objects.get(email=user.email) == user
    assert User.objects.get(pk=str(user.pk)) == user
    assert len(compiled) == 2


def test_a_value_of_another_kind_than_its_marker_is_refused_not_compared_as_text(customer):
    read = prepared.PreparedQuery(
        lambda profile_id, today: Delivery.objects.filter(profile_id=profile_id, delivery_on__gte=today),
        profile_id=prepared.ID,
        today=prepared.DAY,
    )
    now = timezone.now()
    with pytest.raises(TypeError, match="today="):
        read.all(profile_id=customer.pk, today=now)  # a datetime where a day is compared
    with pytest.raises(TypeError, match="profile_id="):
        read.all(profile_id=str(customer.pk), today=now.date())
    with pytest.raises(TypeError, match="now="):
        SESSION_READ.first(key="k" * 32, now=now.replace(tzinfo=None))  # a naive time
    assert customer.upcoming_deliveries(limit=0) == []
