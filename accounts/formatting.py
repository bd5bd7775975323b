"""Money, moments and days, one way everywhere: "2 500,00 ₽" (a no-break space between thousands
and before the sign), "4 декабря 2026, 14:05" in the site's time zone, "—" for nothing; and the
customer pages' days, "15 декабря" and "15 декабря 2026"."""

import datetime
from decimal import Decimal, InvalidOperation

from django.utils import timezone
from django.utils.dates import MONTHS_ALT
from django.utils.formats import date_format, number_format

NOTHING = "—"


def rubles(value: object, *, signed: bool = False) -> str:
    """`signed`: a plus before a credit (a minus is always shown, as "−", the typographic one)."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return NOTHING
    if not amount.is_finite():  # None never gets here: Decimal("None") raises
        return NOTHING
    text = number_format(abs(amount), decimal_pos=2, use_l10n=True, force_grouping=True)
    sign = "−" if amount < 0 else ("+" if signed else "")
    return f"{sign}{text}\u00a0₽"


def moment(value: datetime.datetime | None) -> str:
    """A stored time as staff read it: local, to the minute."""
    if value is None:
        return NOTHING
    return date_format(timezone.localtime(value), "DATETIME_FORMAT")


def day_month(day: datetime.date, *, year: bool = False) -> str:
    """ "15 декабря" ("15 декабря 2026" with `year`): what the "j E" ("j E Y") format prints, without
    building a formatter for each date (the account page spells a dozen on every visit)."""
    text = f"{day.day} {MONTHS_ALT[day.month]}"
    return f"{text} {day.year}" if year else text
