"""Latency of signup and /account/ under gunicorn, as ratios to /healthz; SQL queries of /account/.

Run from the project root:

    .venv/bin/python benchmarks/site_latency.py [--requests 50] [--database-url URL]

What it does, all on loopback and bounded by --timeout (120 s by default):

1. Makes a throwaway database: a temporary SQLite file by default, or, with
   `--database-url postgres://postgres@127.0.0.1:5432/flower_bench`, that PostgreSQL database,
   which it creates (it refuses one that already exists) and drops at the end.
2. Runs `manage.py migrate` and `manage.py collectstatic --noinput` (into the git-ignored
   staticfiles/, the settings' STATIC_ROOT) with production-like settings: DEBUG=false, a random
   SECRET_KEY, ALLOWED_HOSTS=127.0.0.1, SITE_URL=http://127.0.0.1:<port>.
3. Starts gunicorn (`flower_account.wsgi`, 2 workers, no access log) on a free port of
   127.0.0.1, with the project's gunicorn.conf.py when there is one (how production serves the site;
   --bind and --workers on the command line win over it), waits for /healthz, sends a few
   warm-up requests, then times with `requests`:
   - GET /healthz (one SELECT 1: the floor of a request through the whole middleware stack);
   - a signup POST, each in a new session (GET /signup/ first for the CSRF cookie and token; only
     the POST is timed) with a unique email; each must answer 302 to /account/;
   - GET /account/ in one logged-in session (the one that signed up first).
   It prints the median and p95 of each and the ratios of the medians to /healthz's. The ratios
   are the figures to compare between machines; the milliseconds only describe this one.
4. Counts the SQL queries of GET /account/ in-process, with Django's test Client and
   CaptureQueriesContext on the same database: force_login a user that has a profile, GET twice,
   report the second (the first may still be warming caches). It also times one Argon2 password
   hash in-process, the part of a signup that dominates its time.
5. Always stops gunicorn and removes what it made (the temporary file or the PostgreSQL database).

CACHE_URL is set to `dummycache://` for the server and for step 4. allauth counts its rate limits
("signup": "20/m/ip" in settings.ACCOUNT_RATE_LIMITS) in the configured cache, so 50 signups from
127.0.0.1 within a minute would otherwise be refused with 429; with the dummy cache nothing is
counted. The site's settings are not changed: CACHE_URL is one of its environment variables.

No timing is asserted: the script reports figures. It fails only when the site misbehaves (a
signup that is not a 302 to /account/, an /account/ that is not a 200) or the time runs out.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
GUNICORN_CONFIG = BASE_DIR / "gunicorn.conf.py"
WORKERS = 2
HOST = "127.0.0.1"
WARMUP_REQUESTS = 5
REQUEST_TIMEOUT = 15  # seconds, for one HTTP request
SELECT_LIST_RE = re.compile(r"^SELECT (?!COUNT\()(.+?) FROM ")
CSRF_INPUT_RE = re.compile(r'name="csrfmiddlewaretoken"\s+value="([^"]+)"')
PASSWORD = "Peonies-and-tulips-2024"  # of the customers made through the ORM (create_customer)


class BenchmarkTimeout(Exception):
    pass


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Raise BenchmarkTimeout (turned into SystemExit) when the run takes longer than `seconds`."""

    def out_of_time(signum, frame):
        raise BenchmarkTimeout(f"the benchmark took longer than {seconds} s")

    signal.signal(signal.SIGALRM, out_of_time)
    signal.signal(signal.SIGTERM, out_of_time)
    signal.alarm(seconds)
    try:
        yield
    except BenchmarkTimeout as error:
        raise SystemExit(str(error)) from None
    finally:
        signal.alarm(0)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


# DATABASE
# ------------------------------------------------------------------------------
def is_postgres(url: str) -> bool:
    return urlsplit(url).scheme in {"postgres", "postgresql", "pgsql", "psql"}


def database_kind(url: str | None) -> str:
    """How the report names the database: the --database-url given, or the temporary SQLite file."""
    return "PostgreSQL" if url else "SQLite"


def postgres_admin_url(url: str) -> tuple[str, str]:
    """The URL of the server's `postgres` database, and the name of the database in `url`."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name:
        raise SystemExit(f"No database name in {url!r}")
    return urlunsplit(("postgresql", parts.netloc, "/postgres", parts.query, "")), name


@contextmanager
def throwaway_database(url: str | None) -> Iterator[str]:
    """Yield a DATABASE_URL for an empty database that is removed afterwards."""
    if url is None:
        with tempfile.TemporaryDirectory(prefix="flower-bench-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        return
    if not is_postgres(url):
        raise SystemExit("--database-url must be a PostgreSQL URL (SQLite is the default)")
    import psycopg
    from psycopg import sql

    admin_url, name = postgres_admin_url(url)
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            raise SystemExit(f"Database {name!r} already exists; drop it or name another one.")
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield url
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def django_setup(env: dict[str, str]) -> None:
    """Django in this process, with the benchmark's environment (and so on its database)."""
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "flower_account.settings"
    if str(BASE_DIR) not in sys.path:
        sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()


def create_customer(email: str, password: str = PASSWORD):
    """A customer (user + profile) through the ORM with the site's settings (Argon2 and all);
    the profile. Needs django_setup() first."""
    from django.utils import timezone

    from accounts import services
    from accounts.models import BouquetCategory, User

    user = User.objects.create_user(email=email, password=password)
    return services.profile_create(
        user=user,
        bouquet_category=BouquetCategory.objects.order_by("pk").first(),
        delivery_address="Москва, ул. Цветочная, д. 1, кв. 2",
        first_delivery_date=timezone.localdate() + timedelta(days=7),
        delivery_interval="biweekly",
        wishes="Больше зелени.",
        account_sum=Decimal("5000"),
    )


# SERVER
# ------------------------------------------------------------------------------
def site_env(database_url: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": HOST,
        "SITE_URL": f"http://{HOST}:{port}",
        "DATABASE_URL": database_url,
        # allauth's rate limiter counts in the cache; the dummy cache counts nothing (see above).
        "CACHE_URL": "dummycache://",
        "EMAIL_URL": "consolemail://",
        "LOG_LEVEL": "WARNING",
        "GUNICORN_ACCESS_LOG": "false",
        "PYTHONUNBUFFERED": "1",
    }


def manage(env: dict[str, str], *args: str, timeout: float) -> str:
    """`manage.py <args>` to completion; its output (exits on a failure)."""
    result = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def prepare(env: dict[str, str], timeout: float, *, static: bool = True) -> None:
    """`migrate`, then (unless static=False) `collectstatic`, on the benchmark's database."""
    manage(env, "migrate", "--noinput", timeout=timeout)
    if static:
        manage(env, "collectstatic", "--noinput", timeout=timeout)


def stop(process: subprocess.Popen, timeout: float = 10) -> None:
    """Terminate, wait `timeout` seconds, then kill."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@contextmanager
def gunicorn(
    env: dict[str, str], port: int, log_path: Path, *, workers: int | None = WORKERS, stop_timeout: float = 10
) -> Iterator[subprocess.Popen]:
    """gunicorn on HOST:port with gunicorn.conf.py when there is one; `workers=None` leaves the
    number of workers to it. Always stopped."""
    with log_path.open("w") as log:
        config = ["--config", str(GUNICORN_CONFIG)] if GUNICORN_CONFIG.exists() else []
        command = [GUNICORN, *config, "flower_account.wsgi", "--bind", f"{HOST}:{port}"]
        if workers is not None:
            command += ["--workers", str(workers)]
        process = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            stop(process, stop_timeout)


def wait_for_healthz(base_url: str, process: subprocess.Popen, log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            if requests.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"gunicorn did not answer /healthz within {timeout:.0f} s:\n{log_path.read_text()}")


@contextmanager
def serving(
    env: dict[str, str], port: int, log_path: Path, **options: Any
) -> Iterator[tuple[str, subprocess.Popen]]:
    """gunicorn (options as for gunicorn()) once it answers /healthz: its base URL and process."""
    base_url = f"http://{HOST}:{port}"
    with gunicorn(env, port, log_path, **options) as process:
        wait_for_healthz(base_url, process, log_path, timeout=30)
        yield base_url, process


# REQUESTS
# ------------------------------------------------------------------------------
def csrf_token(session: requests.Session, url: str) -> str:
    """GET `url` in `session` (which keeps the CSRF cookie); the form's csrfmiddlewaretoken."""
    page = session.get(url, timeout=REQUEST_TIMEOUT)
    assert page.status_code == 200, f"GET {urlsplit(url).path} answered {page.status_code}"
    match = CSRF_INPUT_RE.search(page.text)
    assert match, f"no csrfmiddlewaretoken in {urlsplit(url).path}"
    return match.group(1)


def signup_data(email: str, password: str) -> dict[str, str]:
    return {
        "email": email,
        "password1": password,
        "password2": password,
        "bouquet_category": "seasonal",
        "delivery_address": "Москва, ул. Цветочная, д. 1, кв. 2",
        "first_delivery_date": (date.today() + timedelta(days=7)).isoformat(),  # noqa: DTZ011
        "delivery_interval": "biweekly",
        "wishes": "Больше зелени, без лилий.",
        "account_sum": "5000",
    }


def signup_email(run_id: str, number: int) -> str:
    return f"bench-{run_id}-{number}@example.com"


def signup(base_url: str, run_id: str, number: int) -> tuple[float, requests.Session]:
    """Sign a new customer up in a fresh session; return the time of the POST alone."""
    session = requests.Session()
    data = {
        "csrfmiddlewaretoken": csrf_token(session, f"{base_url}/signup/"),
        **signup_data(signup_email(run_id, number), f"Tulip-{secrets.token_urlsafe(12)}"),
    }
    started = time.perf_counter()
    response = session.post(f"{base_url}/signup/", data=data, allow_redirects=False, timeout=REQUEST_TIMEOUT)
    elapsed = time.perf_counter() - started
    location = response.headers.get("Location")
    assert response.status_code == 302 and location == "/account/", (
        f"signup answered {response.status_code} {location!r}:\n{response.text[:2000]}"
    )
    return elapsed, session


def log_in(base_url: str, email: str, password: str = PASSWORD) -> requests.Session:
    """A session logged in as `email` through /login/."""
    session = requests.Session()
    response = session.post(
        f"{base_url}/login/",
        data={
            "csrfmiddlewaretoken": csrf_token(session, f"{base_url}/login/"),
            "login": email,
            "password": password,
        },
        allow_redirects=False,
        timeout=REQUEST_TIMEOUT,
    )
    assert response.status_code == 302 and response.headers["Location"] == "/account/", (
        f"login of {email} answered {response.status_code}"
    )
    return session


def timed_get(session: requests.Session, url: str) -> float:
    started = time.perf_counter()
    response = session.get(url, allow_redirects=False, timeout=REQUEST_TIMEOUT)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, f"GET {url} answered {response.status_code}"
    return elapsed


def repeat(count: int, measure: Callable[[int], float]) -> list[float]:
    return [measure(number) for number in range(count)]


def measure_site(base_url: str, count: int) -> dict[str, list[float]]:
    run_id = uuid.uuid4().hex[:8]
    health = requests.Session()
    # Warm-up, not counted: each worker imports its views and templates on first use.
    _, account_session = signup(base_url, run_id, 0)
    for number in range(WARMUP_REQUESTS):
        timed_get(health, f"{base_url}/healthz")
        timed_get(account_session, f"{base_url}/account/")
        signup(base_url, f"{run_id}-warmup", number)
    return {
        "GET /healthz": repeat(count, lambda _: timed_get(health, f"{base_url}/healthz")),
        "POST /signup/": repeat(count, lambda n: signup(base_url, run_id, n + 1)[0]),
        "GET /account/": repeat(count, lambda _: timed_get(account_session, f"{base_url}/account/")),
    }


# IN-PROCESS FIGURES: SQL QUERIES OF /account/, COST OF ONE PASSWORD HASH
# ------------------------------------------------------------------------------
def in_process_figures(env: dict[str, str]) -> tuple[list[str], float]:
    """The SQL of GET /account/ (second of two, as a customer with a profile) and the median time
    of hashing one password with the site's first hasher, on the benchmark's database."""
    django_setup(env)
    from django.contrib.auth.hashers import make_password
    from django.db import connection, connections
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    from accounts.models import Profile

    setup_test_environment()  # the test Client as the tests use it (in-memory email, template signals)
    try:
        profile = Profile.objects.select_related("user").order_by("pk").first()
        assert profile is not None, "no customer with a profile in the database"
        client = Client(HTTP_HOST=HOST)
        client.force_login(profile.user)
        assert client.get("/account/").status_code == 200
        with CaptureQueriesContext(connection) as captured:
            response = client.get("/account/")
        assert response.status_code == 200, f"GET /account/ answered {response.status_code}"
        queries = [query["sql"] for query in captured.captured_queries]
    finally:
        connections.close_all()
    hash_times = []
    for _ in range(5):
        started = time.perf_counter()
        make_password(secrets.token_urlsafe(12))
        hash_times.append(time.perf_counter() - started)
    return queries, statistics.median(hash_times)


# REPORT
# ------------------------------------------------------------------------------
def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:.1f} ms, p95 {percentile(values, 0.95) * 1000:.1f} ms"


def load_average() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def summarise_sql(sql: str, width: int = 300) -> str:
    """One line per query, the column list elided: what is read, joined and filtered."""
    sql = SELECT_LIST_RE.sub(r"SELECT … FROM ", " ".join(sql.split()), count=1)
    return sql if len(sql) <= width else sql[: width - 1] + "…"


def report(
    database: str, count: int, timings: dict[str, list[float]], queries: list[str], hash_time: float
) -> None:
    load = load_average()
    config = f"with {GUNICORN_CONFIG.name}" if GUNICORN_CONFIG.exists() else "gunicorn's defaults"
    print(f"\nFlower Account, {database}, {count} requests each over loopback")
    print(f"gunicorn: {WORKERS} workers, {config}")
    print(f"machine: {os.cpu_count()} CPUs, load average {load} (other work skews the milliseconds)")
    print(f"{'request':<16}{'median ms':>11}{'p95 ms':>9}{'× /healthz':>12}")
    floor = statistics.median(timings["GET /healthz"])
    for name, values in timings.items():
        median = statistics.median(values)
        print(
            f"{name:<16}{median * 1000:>11.1f}{percentile(values, 0.95) * 1000:>9.1f}{median / floor:>12.1f}"
        )
    print(
        f"Ratios are of medians. Hashing one password with Argon2 (the first of PASSWORD_HASHERS) takes "
        f"{hash_time * 1000:.0f} ms in-process here: that hash dominates a signup."
    )
    print(f"\nSQL queries for GET /account/ (logged in, second request): {len(queries)} (target ≤ 6)")
    for number, sql in enumerate(queries, 1):
        print(f"  {number}. {summarise_sql(sql)}")


# MAIN
# ------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50, help="timed requests of each kind (50)")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL database to create, use and drop (default: a temporary SQLite file)",
    )
    parser.add_argument("--timeout", type=int, default=120, help="seconds for the whole run (120)")
    args = parser.parse_args()
    if args.requests < 1:
        parser.error("--requests must be at least 1")

    with (
        time_limit(args.timeout),
        throwaway_database(args.database_url) as database_url,
        tempfile.TemporaryDirectory() as tmp,
    ):
        port = free_port()
        env = site_env(database_url, port)
        prepare(env, timeout=args.timeout)
        with serving(env, port, Path(tmp) / "gunicorn.log") as (base_url, _):
            timings = measure_site(base_url, args.requests)
        queries, hash_time = in_process_figures(env)
        report(database_kind(args.database_url), args.requests, timings, queries, hash_time)


if __name__ == "__main__":
    main()
