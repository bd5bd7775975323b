"""The connected account as amoCRM describes it: read from GET /api/v4/account on connect and daily
(with the token refresh), never typed in by staff. Its id recognises webhooks (a subdomain can be
renamed, the id cannot), and its time zone is the one every `date` field is written and read in.
"""

import logging
import zoneinfo

from django.db import transaction
from django.utils import timezone

from amocrm.client import AmoCRMClient
from amocrm.exceptions import AmoCRMError
from amocrm.models import AmoCRMAccount

logger = logging.getLogger(__name__)

# Most Russian accounts keep Moscow time; used until the account has been read.
DEFAULT_TIMEZONE = "Europe/Moscow"


def account_current() -> AmoCRMAccount | None:
    return AmoCRMAccount.objects.order_by("-checked_at").first()


def account_zone() -> zoneinfo.ZoneInfo:
    """The account's time zone (Moscow until it has been read)."""
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
            "subdomain": str(body.get("subdomain") or "")[:64],
            "name": str(body.get("name") or "")[:255],
            "currency": str(body.get("currency") or "")[:8],
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
    AmoCRMAccount.objects.update(subdomain=subdomain[:64])
