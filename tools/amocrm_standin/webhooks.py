"""Webhooks as amoCRM sends them: v2-shaped events, form-encoded with PHP's nested keys
(`leads[update][0][id]=…`), one POST per subscribed destination with the events it asked for.
"""

import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

from tools.amocrm_standin.shapes import Event


def php_pairs(value: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """PHP-style nested keys (`leads[update][0][id]`), as http_build_query flattens arrays."""
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        if value is None:
            return  # http_build_query leaves nulls out
        yield prefix, ("1" if value else "0") if isinstance(value, bool) else str(value)
        return
    for key, item in items:
        yield from php_pairs(item, f"{prefix}[{key}]" if prefix else str(key))


def php_encode(value: dict[str, Any]) -> str:
    # urlencode quotes with quote_plus: brackets become %5B/%5D and spaces "+", like http_build_query.
    return urlencode(list(php_pairs(value)))


def bodies(
    events: list[Event], hooks: list[dict[str, Any]], account: dict[str, Any]
) -> Iterator[tuple[str, str]]:
    """(destination, form body) for each hook, in `sort` order, that subscribed to any of `events`.
    The body is `account[…]` first, then `<entity>s[<action>][i][…]` (e.g. `leads[update]`,
    `contacts[update]`), as real deliveries are laid out."""
    for hook in sorted(hooks, key=lambda h: h["sort"]):
        entities: dict[str, dict[str, list]] = {}
        for setting, item in events:
            if setting in hook["settings"]:
                action, entity = setting.rsplit("_", 1)  # "update_lead" → leads[update]
                entities.setdefault(f"{entity}s", {}).setdefault(action, []).append(item)
        if entities:
            yield hook["destination"], php_encode({"account": account, **entities})


def post_each(
    events: list[Event],
    hooks: list[dict[str, Any]],
    *,
    account: dict[str, Any],
    timeout: float,
    log: Callable[[dict[str, Any]], None],
) -> list[dict[str, Any]]:
    """POST each destination its body, one after another; each outcome goes to `log` as it lands."""
    results = []
    for destination, body in bodies(events, hooks, account):
        record = post(destination, body, timeout)
        log(record)
        results.append(record)
    return results


def post(destination: str, body: str, timeout: float) -> dict[str, Any]:
    """One webhook POST: its destination, body, time and status (None and `error` when unanswered)."""
    record: dict[str, Any] = {"destination": destination, "body": body, "at": time.time()}
    request = urllib.request.Request(  # noqa: S310 - destinations are http(s) URLs checked on subscribe
        destination,
        data=body.encode(),
        method="POST",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "amoCRM-Webhooks/3.0",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - as above
            record["status"] = answer.status
    except urllib.error.HTTPError as e:
        record["status"] = e.code
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        record["status"] = None
        record["error"] = type(getattr(e, "reason", e)).__name__
    return record
