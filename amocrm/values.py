"""amoCRM's field values ↔ Python values: dates as Unix timestamps of the account's midnights (read
leniently: YYYY-MM-DD, RFC 3339, dd.mm.yyyy) and numerics as exact sums. Pure functions, re-exported
by amocrm.mapping, which applies them per field."""

import datetime
import re
import zoneinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.conf import settings

from amocrm.exceptions import AmoCRMMappingError

# The account's zone until it has been read: the one default (the site's, settings.TIME_ZONE).
DEFAULT_ZONE = zoneinfo.ZoneInfo(settings.TIME_ZONE)


def date_to_timestamp(day: datetime.date, zone: zoneinfo.ZoneInfo = DEFAULT_ZONE) -> int:
    """Midnight of `day` in the account's time zone as a Unix timestamp: amoCRM reads a `date` there
    (midnight UTC, or another zone's, shows the previous day)."""
    return int(datetime.datetime.combine(day, datetime.time.min, tzinfo=zone).timestamp())


def timestamp_to_date(value: Any, zone: zoneinfo.ZoneInfo = DEFAULT_ZONE) -> datetime.date:
    """A date from a Unix timestamp (int or digits), read in the account's time zone; lenient with
    the strings the API also accepts: YYYY-MM-DD, RFC 3339 (a moment with an offset is read in the
    account's zone: `…T21:00:00+00:00` is the next day in Moscow), and dd.mm.yyyy (as hooks and
    amoCRM's own screens write it)."""
    text = str(value).strip()
    try:
        if re.fullmatch(r"-?\d+(\.\d+)?", text):
            return datetime.datetime.fromtimestamp(int(float(text)), tz=zone).date()
        if day := re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?", text):
            return datetime.date(int(day[3]), int(day[2]), int(day[1]))
        if len(text) > 10:
            moment = datetime.datetime.fromisoformat(text)
            return moment.astimezone(zone).date() if moment.tzinfo else moment.date()
        return datetime.date.fromisoformat(text)
    except (ValueError, OverflowError, OSError) as e:
        raise AmoCRMMappingError(f"not a date: {text[:32]!r}") from e


def decimal_to_numeric(value: Decimal) -> str:
    """A numeric field value: the exact sum with a dot, "12.50"."""
    return f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):f}"


def numeric_to_decimal(value: Any) -> Decimal:
    text = str(value).strip().replace(" ", "").replace("\u00a0", "").replace(",", ".")
    try:
        number = Decimal(text)
    except InvalidOperation as e:
        raise AmoCRMMappingError(f"not a number: {text[:32]!r}") from e
    if not number.is_finite():
        raise AmoCRMMappingError(f"not a number: {text[:32]!r}")
    return number.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
