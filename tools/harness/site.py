"""The site for a run: its environment, `manage.py`, gunicorn or runserver, and a customer over HTTP."""

from __future__ import annotations

import datetime
import os
import re
import secrets
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import requests

from tools.harness.processes import BASE_DIR, HOST, PYTHON, HarnessError, running, wait_http

GUNICORN = str(Path(PYTHON).with_name("gunicorn"))
GUNICORN_CONFIG = BASE_DIR / "gunicorn.conf.py"
WORKERS = 2
REQUEST_TIMEOUT = 15  # seconds, for one HTTP request
PASSWORD = "Peony-garden-2031"  # noqa: S105 - every customer a run makes has it
CSRF_INPUT_RE = re.compile(r'name="csrfmiddlewaretoken"\s+value="([^"]+)"')


# ENVIRONMENT AND MANAGE.PY
# ------------------------------------------------------------------------------
def site_env(
    database_url: str, port: int, *, debug: bool = False, count_rate_limits: bool = False, **extra: str
) -> dict[str, str]:
    """The site's environment on HOST:port, production-like unless `debug`; `extra` wins.

    Unless `count_rate_limits`, the cache keeps nothing: allauth counts its rate limits there
    ("signup": "20/m/ip") and runs sign many people up from 127.0.0.1 (/readyz fails, though)."""
    env = {
        **os.environ,
        "DEBUG": "true" if debug else "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": HOST,
        "SITE_URL": f"http://{HOST}:{port}",
        "DATABASE_URL": database_url,
        "EMAIL_URL": "consolemail://",
        "LOG_LEVEL": "WARNING",
        "GUNICORN_ACCESS_LOG": "false",
        "PYTHONUNBUFFERED": "1",
    }
    if not count_rate_limits:
        env["CACHE_URL"] = "dummycache://"
    return {**env, **extra}


def manage_args(*args: str) -> list[str]:
    return [PYTHON, "manage.py", *args]


def manage(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    """`manage.py ARGS` to completion; its stdout, or HarnessError with everything it printed."""
    try:
        result = subprocess.run(  # noqa: S603 - our own manage.py
            manage_args(*args),
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as e:
        raise HarnessError(f"manage.py {' '.join(args)} took more than {timeout:.0f} s") from e
    if result.returncode != 0:
        raise HarnessError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def prepare(env: dict[str, str], timeout: float = 120, *, static: bool = True) -> None:
    """`migrate`, then (unless static=False; DEBUG off needs it) `collectstatic` into STATIC_ROOT."""
    manage(env, "migrate", "--noinput", timeout=timeout)
    if static:
        manage(env, "collectstatic", "--noinput", timeout=timeout)


def worker_command(interval: str | None = "1") -> list[str]:
    """`db_worker`'s arguments: `interval` seconds between polls (1 is django-tasks-db's and the
    Procfile's), or with `interval=None` `--batch`: it runs the queued tasks and exits."""
    mode = ["--batch"] if interval is None else ["--interval", interval]
    return ["db_worker", "--no-reload", "--no-startup-delay", *mode]


def worker_args(interval: str = "1") -> list[str]:
    """The task worker as a process to spawn; see worker_command."""
    return manage_args(*worker_command(interval))


# SERVERS
# ------------------------------------------------------------------------------
def gunicorn_args(port: int, workers: int | None = WORKERS) -> list[str]:
    """gunicorn as production runs it (gunicorn.conf.py); `workers=None` leaves their number to it."""
    args = [GUNICORN, "-c", str(GUNICORN_CONFIG), "flower_account.wsgi", "--bind", f"{HOST}:{port}"]
    return args if workers is None else [*args, "--workers", str(workers)]


def runserver_args(port: int) -> list[str]:
    return manage_args("runserver", "--noreload", f"{HOST}:{port}")


@contextmanager
def serving(
    env: dict[str, str], port: int, log: Path, *, workers: int | None = WORKERS, stop_timeout: float = 10
) -> Iterator[tuple[str, subprocess.Popen]]:
    """gunicorn once it answers /healthz: its base URL and process; always stopped."""
    base_url = f"http://{HOST}:{port}"
    with running(gunicorn_args(port, workers), env, log, stop_timeout=stop_timeout) as process:
        wait_http(f"{base_url}/healthz", process, 30, lambda: log.read_text(errors="replace"))
        yield base_url, process


# A CUSTOMER OVER HTTP
# ------------------------------------------------------------------------------
def unique_email(label: str) -> str:
    return f"{label}-{secrets.token_hex(4)}@example.com"


def signup_data(email: str, password: str = PASSWORD, **changes: str) -> dict[str, str]:
    """The signup form, filled in as one customer would (the browser tests assert these values)."""
    return {
        "first_name": "Анна",
        "phone": "+7 900 123-45-67",
        "email": email,
        "password1": password,
        "password2": password,
        "bouquet_category": "luxe",
        "delivery_address": "Москва, Тверская ул., д. 7, кв. 12",
        "first_delivery_date": (datetime.date.today() + datetime.timedelta(days=10)).isoformat(),  # noqa: DTZ011
        "delivery_interval": "weekly",
        "wishes": "Пионы и эвкалипт, без лилий.",
        "account_sum": "5000",
        "consent": "on",  # the separate consent to processing of personal data (152-FZ)
        **changes,
    }


def csrf_token(session: requests.Session, url: str) -> str:
    """GET `url` in `session` (which keeps the CSRF cookie); the form's csrfmiddlewaretoken."""
    page = session.get(url, timeout=REQUEST_TIMEOUT)
    match = CSRF_INPUT_RE.search(page.text)
    if page.status_code != 200 or not match:
        raise HarnessError(f"GET {urlsplit(url).path} answered {page.status_code} without a CSRF token")
    return match.group(1)


def timed_get(session: requests.Session, url: str) -> float:
    """Seconds for one GET that must answer 200 (a redirect or an error fails the run)."""
    started = time.perf_counter()
    response = session.get(url, allow_redirects=False, timeout=REQUEST_TIMEOUT)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise HarnessError(f"GET {url} answered {response.status_code}")
    return elapsed


def _expect_account(response: requests.Response, what: str) -> None:
    location = response.headers.get("Location")
    if response.status_code != 302 or location != "/account/":
        raise HarnessError(f"{what} answered {response.status_code} {location!r}:\n{response.text[:2000]}")


def signup(base_url: str, email: str, password: str = PASSWORD) -> tuple[float, requests.Session]:
    """Sign a customer up through the site's form in a new session; the time of the POST alone."""
    session = requests.Session()
    data = {"csrfmiddlewaretoken": csrf_token(session, f"{base_url}/signup/"), **signup_data(email, password)}
    started = time.perf_counter()
    response = session.post(f"{base_url}/signup/", data=data, allow_redirects=False, timeout=REQUEST_TIMEOUT)
    elapsed = time.perf_counter() - started
    _expect_account(response, f"the signup of {email}")
    return elapsed, session


def preferences_data(email: str, **changes: str) -> dict[str, str]:
    """The preferences form as `email` signed up (signup_data), with `changes`."""
    signed_up = signup_data(email)
    return {
        "bouquet_category": signed_up["bouquet_category"],
        "delivery_address": signed_up["delivery_address"],
        "next_delivery_date": signed_up["first_delivery_date"],
        "delivery_interval": signed_up["delivery_interval"],
        "wishes": signed_up["wishes"],
        "phone": signed_up["phone"],  # once given, the phone is required (couriers call it)
        **changes,
    }


def save_preferences(base_url: str, session: requests.Session, email: str, **changes: str) -> float:
    """POST /account/preferences/ in the customer's session; the time of the POST alone."""
    data = {"csrfmiddlewaretoken": csrf_token(session, f"{base_url}/account/preferences/")}
    data.update(preferences_data(email, **changes))
    started = time.perf_counter()
    response = session.post(
        f"{base_url}/account/preferences/", data=data, allow_redirects=False, timeout=REQUEST_TIMEOUT
    )
    elapsed = time.perf_counter() - started
    _expect_account(response, f"the preferences of {email}")
    return elapsed


def log_in(base_url: str, email: str, password: str = PASSWORD) -> requests.Session:
    """A session logged in as `email` through /login/."""
    session = requests.Session()
    data = {
        "csrfmiddlewaretoken": csrf_token(session, f"{base_url}/login/"),
        "login": email,
        "password": password,
    }
    response = session.post(f"{base_url}/login/", data=data, allow_redirects=False, timeout=REQUEST_TIMEOUT)
    _expect_account(response, f"the login of {email}")
    return session
