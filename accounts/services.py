"""Writes to customers' profiles. Views and forms parse input; the rules live here."""

import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import BouquetCategory, Profile, User

# Where the referral landing page keeps the referrer's code until the visitor signs up.
REFERRAL_SESSION_KEY = "referral_code"

# Fields a customer may change from the site; account sum and status belong to staff (and the CRM).
CUSTOMER_EDITABLE_FIELDS = ("bouquet_category", "delivery_address", "delivery_interval", "wishes", "phone")


def referrer_find(*, referral_code: str | UUID | None) -> Profile | None:
    """The profile behind a referral code, or None for a missing, malformed or unknown one."""
    if not referral_code:
        return None
    try:
        code = UUID(str(referral_code))
    except ValueError:
        return None
    return Profile.objects.filter(referral_code=code).first()


@transaction.atomic
def profile_create(
    *,
    user: User,
    bouquet_category: BouquetCategory,
    delivery_address: str,
    first_delivery_date: datetime.date,
    delivery_interval: str,
    wishes: str,
    account_sum: Decimal,
    phone: str = "",
    referred_by: Profile | None = None,
) -> Profile:
    profile = Profile(
        user=user,
        bouquet_category=bouquet_category,
        delivery_address=delivery_address,
        first_delivery_date=first_delivery_date,
        delivery_interval=delivery_interval,
        wishes=wishes,
        account_sum=account_sum,
        phone=phone,
        referred_by=referred_by,
    )
    profile.full_clean()
    profile.save()
    return profile


@transaction.atomic
def profile_update_preferences(
    *, profile: Profile, data: dict[str, Any], next_delivery_date: datetime.date | None = None
) -> Profile:
    """Apply a customer's preference changes; save only what changed, with `update_fields`.

    A new next delivery date re-anchors the schedule: it becomes the first delivery date, so the
    following deliveries are counted from it by the interval.
    """
    unknown = set(data) - set(CUSTOMER_EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Customers cannot change: {', '.join(sorted(unknown))}")
    changed = [field for field, value in data.items() if getattr(profile, field) != value]
    for field in changed:
        setattr(profile, field, data[field])
    if next_delivery_date is not None and next_delivery_date != profile.next_delivery_on():
        profile.first_delivery_date = next_delivery_date
        changed.append("first_delivery_date")
    if not changed:
        return profile
    profile.full_clean()
    profile.save(update_fields=[*changed, "updated_at"])
    return profile


# Fields staff may change from outside the site (a back office): the customer's plus sum and status.
STAFF_EDITABLE_FIELDS = (*CUSTOMER_EDITABLE_FIELDS, "account_sum", "account_status")


@transaction.atomic
def profile_apply_staff_changes(
    *, profile: Profile, data: dict[str, Any], next_delivery_date: datetime.date | None = None
) -> tuple[list[str], dict[str, str]]:
    """Apply changes staff made outside the site, field by field; (fields changed, errors by field).

    An invalid value (a negative sum, an address too long) is left out and reported, the rest is
    saved. A new next delivery date re-anchors the schedule as `profile_update_preferences` does.
    `updated_at` is not touched: it stays the time of the last change made on the site, which is
    what the caller compares an outside change with.
    """
    unknown = set(data) - set(STAFF_EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Staff cannot change from outside: {', '.join(sorted(unknown))}")
    original = {field: getattr(profile, field) for field in [*data, "first_delivery_date"]}
    changed = [field for field, value in data.items() if getattr(profile, field) != value]
    for field in changed:
        setattr(profile, field, data[field])
    if next_delivery_date is not None and next_delivery_date != profile.next_delivery_on():
        profile.first_delivery_date = next_delivery_date
        changed.append("first_delivery_date")
    errors: dict[str, str] = {}
    while changed:
        others = [f.name for f in Profile._meta.fields if f.name not in changed]
        try:
            profile.full_clean(exclude=others, validate_unique=False)
            break
        except ValidationError as e:
            bad = [field for field in e.message_dict if field in changed] or list(changed)
            for field in bad:
                errors[field] = " ".join(e.message_dict.get(field) or e.messages)
                setattr(profile, field, original[field])
                changed.remove(field)
    if changed:
        profile.save(update_fields=changed)
    return changed, errors
