"""allauth's rate limits hold across processes when the cache is Redis, and only then.

Two gunicorn servers (one worker each, so each is exactly one process) share a temporary SQLite
database and the Redis database at REDIS_TEST_URL; a second pair of servers uses the per-process
local-memory cache as the control. The same requests, alternated between the two servers of a
pair, are limited with Redis and not with local memory, so the Redis tests can fail (and did,
until both servers saw the same Host: see SITE_HOST).

Limits are read from ACCOUNT_RATE_LIMITS. The Redis database is flushed before and after each test;
the servers and the temporary database are removed at the end of the module, also on failure.
"""

import os
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path

import pytest
import requests
from django.conf import settings

from tools.harness.database import sqlite_url
from tools.harness.processes import HOST, free_port, spawn, stop_all, wait_http
from tools.harness.site import (
    PASSWORD,
    REQUEST_TIMEOUT,
    csrf_token,
    gunicorn_args,
    manage,
    signup_data,
    site_env,
)

# One process runs this module (`make test` spreads the suite over processes): its tests share one
# Redis database, emptied between them, and four gunicorn servers started once.
pytestmark = [pytest.mark.redis, pytest.mark.xdist_group("redis")]

REDIS_TEST_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/15")
# What a load balancer passes on to every web machine. The per-account key for failed logins is the
# email alone (accounts/adapters.py), so the host no longer matters to it; the servers still see one.
SITE_HOST = "flowers.example.ru"
INVALID_LOGIN = "Указанные вами адрес электронной почты и/или пароль неверны."
TOO_MANY_FAILED = "Слишком много неудачных попыток входа в систему. Повторите попытку позже."


def _allowed(action: str, per: str) -> int:
    """N of the `N/period/per` part of one allauth limit in our settings (`N/period` means per IP)."""
    for rate in settings.ACCOUNT_RATE_LIMITS[action].split(","):
        parts = rate.strip().split("/")
        if (parts[2] if len(parts) == 3 else "ip") == per:
            return int(parts[0])
    raise AssertionError(f"no per-{per} limit for {action!r} in ACCOUNT_RATE_LIMITS")


def _redis():
    import redis

    return redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=1, socket_timeout=2)


@dataclass
class Server:
    """One gunicorn process serving the site; a customer talks to it through `session`."""

    url: str
    process: subprocess.Popen
    log: Path

    def session(self) -> requests.Session:
        session = requests.Session()
        session.headers["Host"] = SITE_HOST
        return session

    def post(self, session: requests.Session, path: str, data: dict[str, str]) -> requests.Response:
        token = csrf_token(session, f"{self.url}{path}")
        return session.post(
            f"{self.url}{path}",
            data={"csrfmiddlewaretoken": token, **data},
            allow_redirects=False,
            timeout=REQUEST_TIMEOUT,
        )

    def log_in(self, email: str, password: str) -> requests.Response:
        return self.post(self.session(), "/login/", {"login": email, "password": password})

    def sign_up(self, data: dict[str, str]) -> requests.Response:
        return self.post(self.session(), "/signup/", data)


def _env(database_url: str, port: int, cache_url: str) -> dict[str, str]:
    return site_env(
        database_url,
        port,
        # DEBUG on only so templates name static files without `collectstatic` (the manifest
        # storage); allauth's rate limiter does not look at DEBUG.
        debug=True,
        SECRET_KEY="ratelimit-test-key",  # one key for all servers, as in production
        ALLOWED_HOSTS=f"{SITE_HOST},{HOST}",
        CACHE_URL=cache_url,
    )


def _start(database_url: str, cache_url: str, log: Path) -> Server:
    port = free_port()
    # One worker: the server is one process, with one local-memory cache in the control pair.
    process = spawn(gunicorn_args(port, workers=1), _env(database_url, port, cache_url), log=log)
    return Server(url=f"http://{HOST}:{port}", process=process, log=log)


def _wait_until_up(server: Server) -> None:
    wait_http(f"{server.url}/healthz", server.process, 60, server.log.read_text)


def _stop(servers: list[Server]) -> None:
    # SIGTERM, not SIGQUIT: the whole group is signalled, so a worker gets the signal from us and
    # again from its master. A second SIGQUIT can land inside the first one's handler, which holds
    # the thread pool's lock, and the worker hangs until SIGKILL (10 s per server).
    stop_all([server.process for server in servers])


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, tuple[Server, Server]]]:
    """Two servers on Redis ("shared") and two on local memory ("per_process"), one database."""
    try:
        _redis().ping()
    except Exception as error:
        pytest.skip(f"Redis at REDIS_TEST_URL={REDIS_TEST_URL} does not answer ({error})")
    with tempfile.TemporaryDirectory(prefix="flower-ratelimit-") as tmp:
        database_url = sqlite_url(Path(tmp) / "db.sqlite3")
        manage(_env(database_url, free_port(), "locmemcache://"), "migrate", "--noinput", timeout=60)
        caches = {"shared": REDIS_TEST_URL, "per_process": "locmemcache://"}
        started = {
            name: tuple(
                _start(database_url, cache_url, Path(tmp) / f"{name}-{number}.log") for number in (1, 2)
            )
            for name, cache_url in caches.items()
        }
        try:
            for pair in started.values():
                for server in pair:
                    _wait_until_up(server)
            yield started
        finally:
            _stop([server for pair in started.values() for server in pair])
            _redis().flushdb()


@pytest.fixture(autouse=True)
def _empty_redis(servers):
    _redis().flushdb()
    yield
    _redis().flushdb()


def _customer(server: Server) -> str:
    """Sign a new customer up through `server`; their email."""
    email = f"customer-{uuid.uuid4().hex[:8]}@example.ru"
    response = server.sign_up(signup_data(email))
    assert response.status_code == HTTPStatus.FOUND, response.text[:2000]
    return email


def _fail_logins_alternately(pair: tuple[Server, Server], email: str) -> None:
    for attempt in range(_allowed("login_failed", per="key")):
        response = pair[attempt % 2].log_in(email, "wrong-password")
        assert INVALID_LOGIN in response.text.replace("\xa0", " "), f"attempt {attempt + 1} was not refused"


def test_failed_logins_in_one_process_lock_the_account_in_the_other_with_redis(servers):
    first, second = pair = servers["shared"]
    email = _customer(first)

    _fail_logins_alternately(pair, email)

    for server in pair:
        response = server.log_in(email, PASSWORD)
        assert response.status_code == HTTPStatus.OK, f"{server.url} let the right password in"
        assert TOO_MANY_FAILED in response.text.replace("\xa0", " ")
    assert _redis().keys("*allauth:rl:allauth.account:login_failed*"), "the counters are not in Redis"


def test_failed_logins_are_counted_per_process_with_a_local_memory_cache(servers):
    pair = servers["per_process"]
    email = _customer(pair[0])

    _fail_logins_alternately(pair, email)

    for server in pair:
        response = server.log_in(email, PASSWORD)
        assert response.status_code == HTTPStatus.FOUND, f"{server.url} refused the right password"
        assert response.headers["Location"] == "/account/"


def _post_signups_alternately(pair: tuple[Server, Server], count: int) -> None:
    """Signup posts that fail validation (cheap: no password hash); each one counts."""
    for attempt in range(count):
        response = pair[attempt % 2].sign_up(signup_data("not-an-email", password2="other"))
        assert response.status_code == HTTPStatus.OK, f"signup {attempt + 1}: {response.status_code}"


def test_signups_in_one_process_use_up_the_ip_limit_in_the_other_with_redis(servers):
    pair = servers["shared"]

    _post_signups_alternately(pair, _allowed("signup", per="ip"))

    for server in pair:
        email = f"late-{uuid.uuid4().hex[:8]}@example.ru"
        assert server.sign_up(signup_data(email)).status_code == HTTPStatus.TOO_MANY_REQUESTS


def test_signups_are_counted_per_process_with_a_local_memory_cache(servers):
    pair = servers["per_process"]

    _post_signups_alternately(pair, _allowed("signup", per="ip"))

    for server in pair:
        email = f"late-{uuid.uuid4().hex[:8]}@example.ru"
        assert server.sign_up(signup_data(email)).status_code == HTTPStatus.FOUND
