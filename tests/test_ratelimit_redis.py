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
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from http import HTTPStatus
from pathlib import Path

import pytest
import requests
from django.conf import settings

pytestmark = pytest.mark.redis

REDIS_TEST_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/15")
BASE_DIR = Path(__file__).resolve().parent.parent
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
HOST = "127.0.0.1"
# What a load balancer passes on to every web machine. allauth's per-account key for failed logins
# includes the host (the site's domain), so the servers must see the same one, as in production.
SITE_HOST = "flowers.example.ru"
PASSWORD = "Tulips-and-peonies-42"
INVALID_LOGIN = "Указанные вами адрес электронной почты и/или пароль неверны."
TOO_MANY_FAILED = "Слишком много неудачных попыток входа в систему. Повторите попытку позже."
CSRF_INPUT_RE = re.compile(r'name="csrfmiddlewaretoken"\s+value="([^"]+)"')
TIMEOUT = 15  # seconds, for one request


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


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


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

    def page(self, session: requests.Session, path: str) -> str:
        response = session.get(f"{self.url}{path}", timeout=TIMEOUT)
        assert response.status_code == HTTPStatus.OK, f"GET {path}: {response.status_code}"
        return CSRF_INPUT_RE.search(response.text).group(1)

    def post(self, session: requests.Session, path: str, data: dict[str, str]) -> requests.Response:
        token = self.page(session, path)
        return session.post(
            f"{self.url}{path}",
            data={"csrfmiddlewaretoken": token, **data},
            allow_redirects=False,
            timeout=TIMEOUT,
        )

    def log_in(self, email: str, password: str) -> requests.Response:
        return self.post(self.session(), "/login/", {"login": email, "password": password})

    def sign_up(self, data: dict[str, str]) -> requests.Response:
        return self.post(self.session(), "/signup/", data)


def _start(env: dict[str, str], log: Path) -> Server:
    port = _free_port()
    with log.open("w") as out:
        process = subprocess.Popen(  # noqa: S603 (our own gunicorn, fixed arguments)
            # One worker: the server is one process, with one local-memory cache in the control pair.
            [GUNICORN, "-c", "gunicorn.conf.py", "flower_account.wsgi", "--bind", f"{HOST}:{port}"]
            + ["--workers", "1"],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Server(url=f"http://{HOST}:{port}", process=process, log=log)


def _wait_until_up(server: Server, deadline: float) -> None:
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"gunicorn exited with {server.process.returncode}:\n{server.log.read_text()}")
        try:
            if requests.get(f"{server.url}/healthz", timeout=5).status_code == HTTPStatus.OK:
                return
        except requests.RequestException:  # refused, or a timeout while it boots under load
            pass
        time.sleep(0.1)
    pytest.fail(f"gunicorn did not answer /healthz in time:\n{server.log.read_text()}")


def _stop(servers: list[Server]) -> None:
    for server in servers:
        server.process.send_signal(signal.SIGQUIT)  # gunicorn's quick shutdown
    for server in servers:
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=5)


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, tuple[Server, Server]]]:
    """Two servers on Redis ("shared") and two on local memory ("per_process"), one database."""
    try:
        _redis().ping()
    except Exception as error:
        pytest.skip(f"Redis at REDIS_TEST_URL={REDIS_TEST_URL} does not answer ({error})")
    with tempfile.TemporaryDirectory(prefix="flower-ratelimit-") as tmp:
        base_env = {
            **os.environ,
            # DEBUG on only so templates name static files without `collectstatic` (the manifest
            # storage); allauth's rate limiter does not look at DEBUG.
            "DEBUG": "true",
            "SECRET_KEY": "ratelimit-test-key",  # one key for all servers, as in production
            "ALLOWED_HOSTS": f"{SITE_HOST},{HOST}",
            "DATABASE_URL": f"sqlite:///{Path(tmp) / 'db.sqlite3'}",
            "EMAIL_URL": "consolemail://",
            "LOG_LEVEL": "WARNING",
            "GUNICORN_ACCESS_LOG": "false",
        }
        migrate = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=BASE_DIR,
            env={**base_env, "CACHE_URL": "locmemcache://"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert migrate.returncode == 0, f"migrate failed:\n{migrate.stdout}\n{migrate.stderr}"
        caches = {"shared": REDIS_TEST_URL, "per_process": "locmemcache://"}
        started = {
            name: tuple(
                _start({**base_env, "CACHE_URL": cache_url}, Path(tmp) / f"{name}-{number}.log")
                for number in (1, 2)
            )
            for name, cache_url in caches.items()
        }
        try:
            deadline = time.monotonic() + 60
            for pair in started.values():
                for server in pair:
                    _wait_until_up(server, deadline)
            yield started
        finally:
            _stop([server for pair in started.values() for server in pair])
            _redis().flushdb()


@pytest.fixture(autouse=True)
def _empty_redis(servers):
    _redis().flushdb()
    yield
    _redis().flushdb()


def _signup_data(email: str, **overrides: str) -> dict[str, str]:
    return {
        "email": email,
        "password1": PASSWORD,
        "password2": PASSWORD,
        "bouquet_category": "romantic",
        "delivery_address": "Москва, ул. Тверская, 7, кв. 12",
        "first_delivery_date": (date.today() + timedelta(days=10)).isoformat(),  # noqa: DTZ011
        "delivery_interval": "biweekly",
        "wishes": "",
        "account_sum": "3000",
        **overrides,
    }


def _customer(server: Server) -> str:
    """Sign a new customer up through `server`; their email."""
    email = f"customer-{uuid.uuid4().hex[:8]}@example.ru"
    response = server.sign_up(_signup_data(email))
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
        response = pair[attempt % 2].sign_up(_signup_data("not-an-email", password2="other"))
        assert response.status_code == HTTPStatus.OK, f"signup {attempt + 1}: {response.status_code}"


def test_signups_in_one_process_use_up_the_ip_limit_in_the_other_with_redis(servers):
    pair = servers["shared"]

    _post_signups_alternately(pair, _allowed("signup", per="ip"))

    for server in pair:
        email = f"late-{uuid.uuid4().hex[:8]}@example.ru"
        assert server.sign_up(_signup_data(email)).status_code == HTTPStatus.TOO_MANY_REQUESTS


def test_signups_are_counted_per_process_with_a_local_memory_cache(servers):
    pair = servers["per_process"]

    _post_signups_alternately(pair, _allowed("signup", per="ip"))

    for server in pair:
        email = f"late-{uuid.uuid4().hex[:8]}@example.ru"
        assert server.sign_up(_signup_data(email)).status_code == HTTPStatus.FOUND
