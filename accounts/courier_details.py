"""Courier details (who takes the bouquet, when, how to get in): the customer's usual answers on the
profile, and their changes for one delivery on that delivery (models.CourierDetails).

Not something the CRM mirrors nor the lead's history tells (a manager reads them in the couriers'
list), so no change event: like the reminders checkbox, a plain save of what changed. A delivery's
own details follow the cut-off as everything else about it: once it is on the couriers' list they
stay as they are.
"""

from typing import Any

from django.db import transaction
from django.utils.formats import date_format
from django.utils.translation import gettext

from accounts.delivery_actions import DeliveryError
from accounts.models import COURIER_FIELDS, CourierDetails, Delivery, Profile


def _save(target: CourierDetails, data: dict[str, Any]) -> list[str]:
    unknown = set(data) - set(COURIER_FIELDS)
    if unknown:
        raise ValueError(f"Not a courier detail: {', '.join(sorted(unknown))}")
    changed = [field for field, value in data.items() if getattr(target, field) != value]
    for field in changed:
        setattr(target, field, data[field])
    if changed:
        others = [f.name for f in type(target)._meta.fields if f.name not in changed]
        target.full_clean(exclude=others, validate_unique=False)
        target.save(update_fields=[*changed, "updated_at"])
    return changed


def profile_courier_details_set(*, profile: Profile, data: dict[str, Any]) -> Profile:
    """The customer's usual courier details; only what changed is saved."""
    _save(profile, data)
    return profile


@transaction.atomic
def delivery_courier_details_set(*, profile: Profile, delivery_id: int, data: dict[str, Any]) -> Delivery:
    """One delivery's own courier details (blank: the profile's). DeliveryError once the delivery is
    with the couriers (the cut-off) or not coming (skipped, cancelled, delivered)."""
    delivery = Delivery.objects.select_for_update().get(pk=delivery_id, profile=profile)
    if delivery.status != Delivery.Status.SCHEDULED or delivery.is_locked():
        raise DeliveryError(
            gettext("The delivery on %(day)s can no longer be changed: it is with the couriers.")
            % {"day": date_format(delivery.delivery_on, "j E")}
        )
    _save(delivery, data)
    return delivery
