import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accounts import schedule
from accounts.schedule import add_months, nth_delivery_on, upcoming_deliveries


def d(text: str) -> datetime.date:
    return datetime.date.fromisoformat(text)


def test_weekly_deliveries_are_seven_days_apart():
    dates = upcoming_deliveries(d("2026-03-02"), "weekly", today=d("2026-03-02"), limit=4)

    assert dates == [d("2026-03-02"), d("2026-03-09"), d("2026-03-16"), d("2026-03-23")]


def test_biweekly_deliveries_are_fourteen_days_apart():
    dates = upcoming_deliveries(d("2026-03-02"), "biweekly", today=d("2026-03-02"), limit=4)

    assert dates == [d("2026-03-02"), d("2026-03-16"), d("2026-03-30"), d("2026-04-13")]


def test_monthly_deliveries_keep_the_day_of_the_month():
    dates = upcoming_deliveries(d("2026-03-15"), "monthly", today=d("2026-03-01"), limit=4)

    assert dates == [d("2026-03-15"), d("2026-04-15"), d("2026-05-15"), d("2026-06-15")]


def test_today_itself_counts_as_a_delivery_day():
    dates = upcoming_deliveries(d("2026-01-05"), "weekly", today=d("2026-01-19"), limit=2)

    assert dates == [d("2026-01-19"), d("2026-01-26")]


def test_the_day_after_a_delivery_skips_to_the_next_one():
    dates = upcoming_deliveries(d("2026-01-05"), "weekly", today=d("2026-01-20"), limit=1)

    assert dates == [d("2026-01-26")]


def test_a_first_date_in_the_future_comes_first():
    dates = upcoming_deliveries(d("2026-06-10"), "biweekly", today=d("2026-01-01"), limit=2)

    assert dates == [d("2026-06-10"), d("2026-06-24")]


def test_monthly_from_the_31st_falls_on_the_last_day_of_shorter_months():
    dates = upcoming_deliveries(d("2027-01-31"), "monthly", today=d("2027-01-31"), limit=5)

    assert dates == [d("2027-01-31"), d("2027-02-28"), d("2027-03-31"), d("2027-04-30"), d("2027-05-31")]


def test_monthly_from_the_31st_falls_on_february_29_in_a_leap_year():
    dates = upcoming_deliveries(d("2028-01-31"), "monthly", today=d("2028-02-01"), limit=3)

    assert dates == [d("2028-02-29"), d("2028-03-31"), d("2028-04-30")]


def test_monthly_from_february_29_falls_on_the_28th_in_ordinary_years():
    dates = upcoming_deliveries(d("2028-02-29"), "monthly", today=d("2029-02-01"), limit=2)

    assert dates == [d("2029-02-28"), d("2029-03-29")]


def test_monthly_crosses_the_new_year():
    dates = upcoming_deliveries(d("2026-11-30"), "monthly", today=d("2026-12-01"), limit=3)

    assert dates == [d("2026-12-30"), d("2027-01-30"), d("2027-02-28")]


def test_weekly_crosses_february_29():
    dates = upcoming_deliveries(d("2028-02-22"), "weekly", today=d("2028-02-23"), limit=2)

    assert dates == [d("2028-02-29"), d("2028-03-07")]


@pytest.mark.parametrize(
    ("interval", "expected"),
    [
        ("weekly", ["2026-06-01", "2026-06-08"]),
        ("biweekly", ["2026-06-01", "2026-06-15"]),
        ("monthly", ["2026-06-06", "2026-07-06"]),
    ],
)
def test_a_first_date_years_in_the_past(interval, expected):
    # 2020-01-06 and 2026-06-01 are both Mondays, 2338 days (334 weeks, an even number) apart.
    dates = upcoming_deliveries(d("2020-01-06"), interval, today=d("2026-06-01"), limit=2)

    assert dates == [d(day) for day in expected]


def test_limit_zero_gives_no_dates():
    assert upcoming_deliveries(d("2026-01-01"), "weekly", today=d("2026-01-01"), limit=0) == []


def test_an_unknown_interval_is_an_error():
    with pytest.raises((ValueError, KeyError)):
        upcoming_deliveries(d("2026-01-01"), "daily", today=d("2026-01-01"), limit=1)


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        ("2026-01-31", 1, "2026-02-28"),
        ("2028-01-31", 1, "2028-02-29"),
        ("2026-01-31", 2, "2026-03-31"),
        ("2026-12-15", 1, "2027-01-15"),
        ("2026-05-31", 13, "2027-06-30"),
        ("2026-03-10", 0, "2026-03-10"),
    ],
)
def test_add_months(day, months, expected):
    assert add_months(d(day), months) == d(expected)


def _brute_force(
    first: datetime.date, interval: str, today: datetime.date, limit: int
) -> list[datetime.date]:
    dates, n = [], 0
    while len(dates) < limit:
        day = nth_delivery_on(first, interval, n)
        if day >= today:
            dates.append(day)
        n += 1
    return dates


@given(
    first=st.dates(min_value=datetime.date(2000, 1, 1), max_value=datetime.date(2040, 12, 31)),
    today=st.dates(min_value=datetime.date(2000, 1, 1), max_value=datetime.date(2040, 12, 31)),
    interval=st.sampled_from([schedule.WEEKLY, schedule.BIWEEKLY, schedule.MONTHLY]),
    limit=st.integers(min_value=1, max_value=6),
)
def test_upcoming_deliveries_match_a_walk_from_the_first_date(first, today, interval, limit):
    dates = upcoming_deliveries(first, interval, today=today, limit=limit)

    assert len(dates) == limit
    assert all(day >= today for day in dates)
    assert all(earlier < later for earlier, later in zip(dates, dates[1:], strict=False))
    assert dates == _brute_force(first, interval, today, limit)
