"""Phone numbers: parsed by Google's libphonenumber (the `phonenumbers` package), stored as E.164.

Hand-written rules let `+٧٩٠٠…`, `+７９００…` and `+7 (900) 123-45-67 ((((` through, and could
not know which digit counts each country allows; libphonenumber's metadata is kept current with
every numbering plan. A profile stores `+79001234567`; people see `+7 900 123-45-67`.
"""

import re

import phonenumbers
from django.conf import settings
from django.utils.translation import gettext_lazy as _

INVALID_MESSAGE = _("Enter a valid phone number, for example +7 900 123-45-67 or 8 900 123-45-67.")

# How people write a number around its digits: an optional "+", spaces, dots, dashes and one pair
# of brackets. `\d` is any script's digit: libphonenumber turns them into ASCII ones.
_SHAPE = re.compile(r"\+?[\d\s.\-]*(?:\([\d\s.\-]+\)[\d\s.\-]*)?")


_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def is_e164(value: str) -> bool:
    """Already stored form: a "+", then ASCII digits only."""
    return _E164.fullmatch(value) is not None


class InvalidPhone(ValueError):
    """Not a phone number libphonenumber accepts as valid."""


def to_e164(value: str) -> str:
    """`+7 (900) 123-45-67`, `8 900 123 45 67`, `+７９００１２３４５６７` → `+79001234567`; a number
    without a country code is read in PHONENUMBER_DEFAULT_REGION."""
    value = value.strip()
    if not value or not _SHAPE.fullmatch(value):
        raise InvalidPhone("not shaped like a phone number")
    try:
        number = phonenumbers.parse(value, settings.PHONENUMBER_DEFAULT_REGION)
    except phonenumbers.NumberParseException as e:
        raise InvalidPhone(str(e)) from e
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone("not a valid number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def formatted(value: str) -> str:
    """`+79001234567` → `+7 900 123-45-67`, for people; anything that does not parse, as it is."""
    number = _parsed(value)
    if number is None:
        return value
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def dialled_locally(value: str) -> str:
    """`+79001234567` → `8 (900) 123-45-67` for a number of PHONENUMBER_DEFAULT_REGION (what a
    courier's phone dials, and no "+" a spreadsheet would read as a formula); others international."""
    number = _parsed(value)
    if number is None:
        return value
    if phonenumbers.region_code_for_number(number) == settings.PHONENUMBER_DEFAULT_REGION:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _parsed(value: str) -> phonenumbers.PhoneNumber | None:
    if not value:
        return None
    try:
        return phonenumbers.parse(value, settings.PHONENUMBER_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return None
