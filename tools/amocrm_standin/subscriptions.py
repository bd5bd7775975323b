"""The account's webhook subscriptions: subscribe, list, unsubscribe, and amoCRM switching a hook off
after too many failed deliveries (docs/amocrm-api.md §8). A mixin of models.Account, whose `reset`
makes the state it reads (`webhooks`, `hook_failures`) under its `lock`; no HTTP here.
"""

import threading
import time
from typing import Any

from tools.amocrm_standin.constants import ACCOUNT_ID, API_USER_ID, HOOK_OFF_FAILURES, HOOK_OFF_WINDOW


def _now() -> int:
    return int(time.time())


class Subscriptions:
    """Webhook subscriptions by destination, on the account that mixes this in."""

    lock: threading.RLock
    webhooks: dict[str, dict[str, Any]]
    hook_failures: dict[str, list[float]]  # destination → times of failed deliveries

    def _next(self, kind: str) -> int:
        raise NotImplementedError  # the account's id counter

    def webhooks_list(self, destination: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(h) for h in self.webhooks.values() if destination in (None, h["destination"])]

    def webhooks_active(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(h) for h in self.webhooks.values() if not h["disabled"]]

    def webhook_subscribe(self, data: dict[str, Any]) -> dict[str, Any]:
        """Subscribe (or re-subscribe) `data["destination"]`; the body is checked already."""
        destination = data["destination"]
        with self.lock:
            hook = self.webhooks.get(destination)
            now = _now()
            if hook is None:
                hook = {"id": self._next("hook"), "destination": destination, "created_at": now}
                hook.update({"account_id": ACCOUNT_ID, "created_by": API_USER_ID, "disabled": False})
                self.webhooks[destination] = hook
            # Subscribing again switches a hook amoCRM turned off back on (what amoCRM does here is
            # unverified: docs/amocrm-api.md §8), and its count of failures starts again.
            hook.update({"updated_at": now, "sort": data.get("sort", 10), "settings": list(data["settings"])})
            hook["disabled"] = False
            self.hook_failures.pop(destination, None)
            return dict(hook)

    def webhook_delivered(self, destination: str, *, ok: bool, at: float) -> None:
        """Count a failed delivery; more than HOOK_OFF_FAILURES in HOOK_OFF_WINDOW switch the hook off."""
        if ok:
            return
        with self.lock:
            hook = self.webhooks.get(destination)
            if hook is None:
                return
            recent = [t for t in self.hook_failures.get(destination, []) if t > at - HOOK_OFF_WINDOW]
            recent.append(at)
            self.hook_failures[destination] = recent
            if len(recent) > HOOK_OFF_FAILURES:
                hook["disabled"] = True

    def webhook_unsubscribe(self, destination: str) -> None:
        with self.lock:
            self.webhooks.pop(destination, None)
            self.hook_failures.pop(destination, None)
