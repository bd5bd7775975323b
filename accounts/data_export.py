""" "My data" (152-FZ art. 14): everything the site holds about one customer, as one JSON document.

Built from the customer's own rows only, each reached through their user: another customer's data
never appears (a referrer or a referred friend is a count or a yes/no, never an address). Staff
who confirmed a payment are not named: that is the operator's data, not the customer's.
"""

import datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.utils import timezone

from accounts.models import Profile

FORMAT_VERSION = 1


def _plain(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _rows(queryset, fields: list[str]) -> list[dict[str, Any]]:
    return [{field: _plain(value) for field, value in row.items()} for row in queryset.values(*fields)]


def customer_data_export(*, user: AbstractBaseUser) -> dict[str, Any]:
    """Everything about `user`: account, preferences, deliveries, invoices and payments, the ledger,
    the account's history and the consents, with their dates (docs/personal-data.md lists the fields)."""
    data: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "exported_at": _plain(timezone.now()),
        "account": {
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "date_joined": _plain(user.date_joined),
            "last_login": _plain(user.last_login),
        },
        "consents": [
            {
                "document": record.text.kind,
                "version": record.text.version,
                "text_sha256": record.text.sha256,
                "action": record.action,
                "at": _plain(record.created_at),
                "ip_address": record.ip_address,
                "user_agent": record.user_agent,
            }
            for record in user.consents.select_related("text").order_by("created_at", "pk")
        ],
    }
    profile = Profile.objects.filter(user=user).select_related("bouquet_category").first()
    if profile is None:
        return data  # staff made in the admin have no subscription
    data["subscription"] = {
        "bouquet_category": profile.bouquet_category.name,
        "delivery_address": profile.delivery_address,
        "phone": profile.phone,
        "first_delivery_date": _plain(profile.first_delivery_date),
        "delivery_interval": profile.delivery_interval,
        "wishes": profile.wishes,
        "account_sum": _plain(profile.account_sum),
        "account_status": profile.account_status,
        "paused_until": _plain(profile.paused_until),
        "wants_reminders": profile.wants_reminders,
        "referral_link": profile.referral_url,
        "came_by_referral": profile.referred_by_id is not None,
        "friends_referred": profile.referrals.count(),
        "created_at": _plain(profile.created_at),
        "updated_at": _plain(profile.updated_at),
    }
    data["deliveries"] = [
        {**row, "bouquet_category": row.pop("bouquet_category__name")}
        for row in _rows(
            profile.deliveries.order_by("delivery_on"),
            [
                "delivery_on",
                "bouquet_category__name",
                "price",
                "delivery_address",
                "status",
                "delivered_at",
                "moved_from",
                "reminded_at",
            ],
        )
    ]
    data["invoices"] = _rows(
        profile.invoices.order_by("created_at", "pk"),
        ["id", "amount", "status", "source", "paid_at", "created_at"],
    )
    data["ledger"] = _rows(
        profile.ledger_entries.order_by("created_at", "pk"),
        ["amount", "reason", "note", "invoice_id", "created_at"],
    )
    data["history"] = _rows(profile.events.order_by("created_at", "pk"), ["action", "details", "created_at"])
    return data
