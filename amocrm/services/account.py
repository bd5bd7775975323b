"""The connected account as amoCRM describes it: read from GET /api/v4/account on connect and daily
(with the token refresh), never typed in by staff. Its id recognises webhooks (a subdomain can be
renamed, the id cannot), and its time zone is the one every `date` field is written and read in.
"""

import logging
import zoneinfo
from typing import Any

from django.db import transaction
from django.utils import timezone

from amocrm.client import AmoCRMClient
from amocrm.exceptions import AmoCRMError
from amocrm.models import AmoCRMAccount

logger = logging.getLogger(__name__)

# Used until the account has been read: one default, the model's (the site's own zone).
DEFAULT_TIMEZONE = AmoCRMAccount._meta.get_field("timezone").default


def _fit(name: str, value: Any) -> str:
    """A value of the account's answer, cut to its column."""
    return str(value or "")[: AmoCRMAccount._meta.get_field(name).max_length]


def account_current() -> AmoCRMAccount | None:
    return AmoCRMAccount.objects.order_by("-checked_at").first()


def account_zone() -> zoneinfo.ZoneInfo:
    """The account's time zone (DEFAULT_TIMEZONE until it has been read)."""
    account = account_current()
    return _zone(account.timezone if account else DEFAULT_TIMEZONE)


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(DEFAULT_TIMEZONE)


def account_refresh(*, client: AmoCRMClient) -> AmoCRMAccount:
    """Read the account and store it (one connected account: any other row is replaced). The call
    is made outside any transaction: the rate limiter's and the breaker's rows must not wait on it."""
    body = client.account_get()
    with transaction.atomic():
        return _account_store(body)


def _account_store(body: dict) -> AmoCRMAccount:
    try:
        account_id = int(body["id"])
    except (KeyError, TypeError, ValueError) as e:
        raise AmoCRMError("amoCRM's account answer has no id", path="/api/v4/account") from e
    settings_block = (body.get("_embedded") or {}).get("datetime_settings") or {}
    zone_name = str(settings_block.get("timezone") or DEFAULT_TIMEZONE)
    if _zone(zone_name).key != zone_name:
        logger.warning("amocrm.account_unknown_timezone timezone=%s", zone_name[:64])
        zone_name = DEFAULT_TIMEZONE
    AmoCRMAccount.objects.exclude(account_id=account_id).delete()
    account, _ = AmoCRMAccount.objects.update_or_create(
        account_id=account_id,
        defaults={
            "subdomain": _fit("subdomain", body.get("subdomain")),
            "name": _fit("name", body.get("name")),
            "currency": _fit("currency", body.get("currency")),
            "timezone": zone_name,
            "checked_at": timezone.now(),
        },
    )
    logger.info(
        "amocrm.account_read account_id=%s subdomain=%s timezone=%s",
        account.account_id,
        account.subdomain,
        account.timezone,
    )
    return account


def account_renamed(*, subdomain: str) -> None:
    """amoCRM told us the account's new subdomain (after a failed refresh): remember it."""
    AmoCRMAccount.objects.update(subdomain=_fit("subdomain", subdomain))
