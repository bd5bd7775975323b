"""Date values amoCRM hands us (issue 24 item 14): an RFC 3339 moment with an offset is read in the
account's time zone, and dd.mm.yyyy (as hooks and amoCRM's screens write dates) parses."""

import datetime
import zoneinfo

import pytest
from django.utils import timezone

from amocrm import mapping
from amocrm.exceptions import AmoCRMMappingError
from amocrm.models import CustomField
from tests.amocrm.helpers import body, cf, deliver, lead

MOSCOW = zoneinfo.ZoneInfo("Europe/Moscow")


@pytest.mark.parametrize(
    ("value", "day"),
    [
        ("2026-12-05T21:00:00+00:00", datetime.date(2026, 12, 6)),  # midnight in Moscow
        ("2026-12-05T21:00:00Z", datetime.date(2026, 12, 6)),
        ("2026-12-06T00:00:00+03:00", datetime.date(2026, 12, 6)),
        ("2026-12-05T20:59:59+00:00", datetime.date(2026, 12, 5)),
        ("2026-12-06", datetime.date(2026, 12, 6)),
        ("06.12.2026", datetime.date(2026, 12, 6)),
        ("6.1.2027", datetime.date(2027, 1, 6)),
        ("06.12.2026 00:00", datetime.date(2026, 12, 6)),
    ],
)
def test_date_strings_are_read_as_the_day_in_the_accounts_zone(value, day):
    assert mapping.timestamp_to_date(value, MOSCOW) == day


def test_an_offset_moment_is_read_in_another_accounts_zone_too():
    zone = zoneinfo.ZoneInfo("Asia/Novosibirsk")  # UTC+7

    assert mapping.timestamp_to_date("2026-12-05T17:00:00+00:00", zone) == datetime.date(2026, 12, 6)


@pytest.mark.parametrize("value", ["31.02.2026", "2026-12-05 garbage", "12/06/2026", "06.12.26"])
def test_impossible_or_unknown_date_strings_are_mapping_errors(value):
    with pytest.raises(AmoCRMMappingError):
        mapping.timestamp_to_date(value, MOSCOW)


@pytest.mark.django_db
@pytest.mark.usefixtures("webhook_settings")
def test_a_hook_with_a_dd_mm_yyyy_delivery_date_moves_the_delivery(client, linked):
    day = timezone.localdate() + datetime.timedelta(days=20)

    deliver(client, body(update=[lead(cf(CustomField.Key.DELIVERY_DATE, day.strftime("%d.%m.%Y")))]))

    linked.refresh_from_db()
    assert linked.next_delivery_on() == day
