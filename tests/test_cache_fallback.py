"""Sign-in and signup keep working while the Redis cache is down or hung (flower_account.cache).

Redis is faked in-process: a port nobody listens on (refused), and a socket that accepts connections
and never answers (hung). Rate limits keep counting meanwhile, in the process's memory.
"""

import socket
import threading
import time
from collections.abc import Iterator
from http import HTTPStatus

import pytest
from django.core.cache import caches
from django.urls import reverse

from flower_account import cache as cache_module
from flower_account.cache import FallbackRedisCache
from tests.accounts.helpers import page_text

TOO_MANY_FAILED = "Слишком много неудачных попыток входа в систему. Повторите попытку позже."
TIMEOUT = 0.25  # CACHE_SOCKET_TIMEOUT's default


@pytest.fixture(autouse=True)
def _no_fallback_left_over(monkeypatch):
    """The fallback memory, clock and owed deletes are the process's, one set per Redis URL: each
    test starts without any, and a port a later test is given again finds nothing of this one."""
    monkeypatch.setattr(cache_module, "_fallbacks", {})
    yield
    for fallback in cache_module._fallbacks.values():
        fallback.memory.clear()


def refused_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"  # closed again: connecting is refused


@pytest.fixture
def hung_url() -> Iterator[str]:
    """A Redis that accepts connections and never answers; yields its URL."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.05)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    stop.set()
    thread.join(timeout=2)
    for connection in accepted:
        connection.close()
    server.close()


def redis_cache(url: str) -> FallbackRedisCache:
    options = {"socket_connect_timeout": TIMEOUT, "socket_timeout": TIMEOUT}
    return FallbackRedisCache(url, {"OPTIONS": options})


@pytest.fixture
def site_cache(settings):
    """Point the site's cache at `url` (as CACHE_URL=redis://… does)."""

    def use(url: str) -> None:
        settings.CACHES = {
            "default": {
                "BACKEND": "flower_account.cache.FallbackRedisCache",
                "LOCATION": url,
                "OPTIONS": {"socket_connect_timeout": TIMEOUT, "socket_timeout": TIMEOUT},
            }
        }

    return use


def test_a_refused_redis_stores_in_the_process_memory_instead():
    cache = redis_cache(refused_url())

    cache.set("key", "value")

    assert cache.get("key") == "value"
    assert cache.is_falling_back


def test_a_hung_redis_costs_one_timeout_and_then_is_left_alone(hung_url):
    cache = redis_cache(hung_url)

    started = time.monotonic()
    cache.set("key", "value")  # waits for the hung Redis once
    first = time.monotonic() - started
    started = time.monotonic()
    for _ in range(20):
        assert cache.get("key") == "value"
    later = time.monotonic() - started

    # A generous bound: redis-py's default would have waited 5 s per call.
    assert first < 2 and later < 1
    assert cache.is_falling_back


def test_every_thread_counts_in_one_memory_while_redis_is_down(site_cache):
    # Django gives each thread its own cache object (gunicorn runs 4 threads a process): the
    # fallback memory is the process's, or each thread had its own rate limits during an outage.
    site_cache(refused_url())
    caches["default"].set("attempts", 3)
    seen = []

    other = threading.Thread(target=lambda: seen.append(caches["default"].get("attempts")))
    other.start()
    other.join(timeout=5)

    assert seen == [3]


def test_a_hung_redis_is_left_alone_by_every_thread_once_one_timed_out(hung_url):
    first, second = redis_cache(hung_url), redis_cache(hung_url)  # two threads' cache objects

    first.get("key")  # waits for the hung Redis once

    assert second.is_falling_back


def test_signup_works_and_logs_in_while_redis_is_down(client, db, site_cache, signup_data):
    site_cache(refused_url())

    response = client.post(reverse("account_signup"), signup_data())

    assert response.status_code == HTTPStatus.FOUND
    assert "_auth_user_id" in client.session


def test_login_works_while_redis_hangs(client, customer, password, site_cache, hung_url):
    site_cache(hung_url)

    response = client.post(reverse("account_login"), {"login": customer.user.email, "password": password})

    assert response.status_code == HTTPStatus.FOUND
    assert "_auth_user_id" in client.session


def test_failed_logins_are_still_counted_while_redis_is_down(
    client, customer, password, site_cache, settings
):
    site_cache(refused_url())
    allowed = int(
        next(r for r in settings.ACCOUNT_RATE_LIMITS["login_failed"].split(",") if r.endswith("/key")).split(
            "/"
        )[0]
    )
    for _ in range(allowed):
        client.post(reverse("account_login"), {"login": customer.user.email, "password": "wrong-password"})

    response = client.post(reverse("account_login"), {"login": customer.user.email, "password": password})

    assert TOO_MANY_FAILED in page_text(response)
    assert "_auth_user_id" not in client.session


def test_readyz_says_the_cache_is_down_while_redis_is_down(client, db, site_cache):
    site_cache(refused_url())

    response = client.get("/readyz")

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json() == {"status": "error", "failing": ["cache"]}


@pytest.fixture
def private_redis(tmp_path):
    from tools.harness.services import RedisServer

    try:
        server = RedisServer(tmp_path / "redis").start()
    except Exception as error:  # noqa: BLE001 - no redis-server on this machine
        pytest.skip(f"no private redis-server: {error}")
    yield server
    server.stop()


def test_a_lock_taken_while_redis_hung_does_not_outlive_the_hang(private_redis, monkeypatch):
    import redis

    monkeypatch.setattr("flower_account.cache.FALLBACK_FOR", 0)  # try Redis again at once
    cache = redis_cache(private_redis.url)
    raw = redis.Redis.from_url(private_redis.url, socket_timeout=5)
    lock = "allauth:rl:login:127.0.0.1:lock"
    cache.get("warm")  # a connection in the pool, as a serving process has: the command is sent

    private_redis.freeze()
    assert cache.add(lock, True, timeout=10)  # times out on Redis, taken in the process's memory
    private_redis.thaw()
    raw.ping()  # Redis is awake and has run what waited for it, the `add` included

    cache.get("anything")  # the first call that reaches Redis again

    assert not raw.exists(cache.make_and_validate_key(lock))


def test_a_lock_released_while_falling_back_is_released_in_redis_too(private_redis, monkeypatch):
    import types

    import redis

    clock = types.SimpleNamespace(now=1000.0)
    monkeypatch.setattr("flower_account.cache.time", types.SimpleNamespace(monotonic=lambda: clock.now))
    cache = redis_cache(private_redis.url)
    raw = redis.Redis.from_url(private_redis.url, socket_timeout=5)
    lock = "allauth:rl:signup:127.0.0.1:lock"
    assert cache.add(lock, True, timeout=10)  # taken in Redis; then Redis hangs

    private_redis.freeze()
    cache.get("history")  # times out: the process falls back to its memory
    cache.delete(lock)  # released in memory only: Redis is not asked while falling back
    private_redis.thaw()
    clock.now += 60  # the fallback is over

    cache.get("anything")  # the first call that reaches Redis again

    assert not raw.exists(cache.make_and_validate_key(lock))
