"""Redis as the cache, with this process's memory standing in while Redis is down or hung.

allauth counts sign-in and signup attempts in the cache. With Redis stopped every login and signup
POST answered 500; with Redis hung each waited redis-py's default 5 s and the site fell from 19.4 to
2.9 answers a second. Here a call that fails (refused, or no answer within CACHE_SOCKET_TIMEOUT)
goes to a local-memory cache instead, and Redis is left alone for FALLBACK_FOR seconds, so a hung
Redis costs one request per process at most one timeout every FALLBACK_FOR seconds. Meanwhile the
rate limits go on counting, per process (weaker than shared, never "not at all"); /readyz says the
cache is down (`is_falling_back`).

Django makes one cache object per thread (gunicorn's gthread runs several), so the memory, the
"left alone until" clock and the deletes owed to Redis belong to the process, one set per LOCATION
(`_Fallback`), not to the object: otherwise each thread counted its own rate limits in an outage.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

FALLBACK_FOR = 5.0  # seconds Redis is not asked again after a failure


@dataclass
class _Fallback:
    """One Redis location's stand-in, shared by the process's threads."""

    memory: LocMemCache
    redis_again_at: float = 0.0  # time.monotonic() after which Redis is tried again
    # Deletes Redis still owes once it answers again. allauth's lock is an `add` (10 s) and a
    # `delete`: an `add` that timed out is run by a hung Redis when it wakes up, and a `delete` made
    # in memory leaves a lock taken in Redis before; either answered 429 on that key for up to 10 s
    # after Redis came back.
    owed_deletes: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def owe(self, key: str) -> None:
        with self.lock:
            self.owed_deletes.add(key)

    def take_owed(self) -> list[str]:
        with self.lock:
            owed, self.owed_deletes = list(self.owed_deletes), set()
        return owed


_fallbacks: dict[str, _Fallback] = {}
_fallbacks_lock = threading.Lock()


def _fallback_for(location: str, timeout: Any) -> _Fallback:
    with _fallbacks_lock:
        if location not in _fallbacks:
            _fallbacks[location] = _Fallback(LocMemCache(f"redis-fallback:{location}", {"TIMEOUT": timeout}))
        return _fallbacks[location]


class FallbackRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._fallback = _fallback_for(str(server), params.get("TIMEOUT", 300))

    @property
    def is_falling_back(self) -> bool:
        """Whether calls go to this process's memory now (Redis failed less than FALLBACK_FOR ago)."""
        return time.monotonic() < self._fallback.redis_again_at

    def _either(self, name: str, *args: Any, **kwargs: Any) -> Any:
        key = args[0] if args else kwargs.get("key")
        fallback = self._fallback
        if not self.is_falling_back:
            method: Callable[..., Any] = getattr(super(), name)
            owed = fallback.take_owed()
            try:
                if owed:
                    super().delete_many(owed)
                    owed = []
                return method(*args, **kwargs)
            except (RedisError, OSError) as error:
                for owed_key in owed:  # still owed if the delete itself failed
                    fallback.owe(owed_key)
                if name == "delete" or (name == "add" and isinstance(error, RedisTimeoutError)):
                    fallback.owe(key)
                fallback.redis_again_at = time.monotonic() + FALLBACK_FOR
                logger.warning(
                    "cache.redis_unavailable error=%s fallback_s=%.0f", type(error).__name__, FALLBACK_FOR
                )
        elif name == "delete":
            fallback.owe(key)
        return getattr(fallback.memory, name)(*args, **kwargs)

    def add(self, *args: Any, **kwargs: Any) -> bool:
        return self._either("add", *args, **kwargs)

    def get(self, *args: Any, **kwargs: Any) -> Any:
        return self._either("get", *args, **kwargs)

    def set(self, *args: Any, **kwargs: Any) -> None:
        return self._either("set", *args, **kwargs)

    def touch(self, *args: Any, **kwargs: Any) -> bool:
        return self._either("touch", *args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> bool:
        return self._either("delete", *args, **kwargs)

    def get_many(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return self._either("get_many", *args, **kwargs)

    def has_key(self, *args: Any, **kwargs: Any) -> bool:
        return self._either("has_key", *args, **kwargs)

    def incr(self, *args: Any, **kwargs: Any) -> int:
        return self._either("incr", *args, **kwargs)

    def set_many(self, *args: Any, **kwargs: Any) -> list[str]:
        return self._either("set_many", *args, **kwargs)

    def delete_many(self, *args: Any, **kwargs: Any) -> None:
        return self._either("delete_many", *args, **kwargs)

    def clear(self) -> None:
        return self._either("clear")
