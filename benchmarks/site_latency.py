"""Latency of signup and /account/ under gunicorn, as ratios to /healthz; SQL queries of /account/.

Run from the project root:

    .venv/bin/python -m benchmarks.site_latency [--requests 50] [--database-url URL]

What it does, all on loopback and bounded by --timeout (120 s by default):

1. Makes a throwaway database: a temporary SQLite file by default, or, with
   `--database-url postgres://postgres@127.0.0.1:5432/flower_bench`, that PostgreSQL database,
   which it creates (it refuses one that already exists) and drops at the end.
2. Runs `manage.py migrate` and `manage.py collectstatic --noinput` (into the git-ignored
   staticfiles/, the settings' STATIC_ROOT) with production-like settings: DEBUG=false, a random
   SECRET_KEY, ALLOWED_HOSTS=127.0.0.1, SITE_URL=http://127.0.0.1:<port>.
3. Starts gunicorn (`flower_account.wsgi`, 2 workers, no access log) on a free port of
   127.0.0.1, with the project's gunicorn.conf.py (how production serves the site; --bind and
   --workers on the command line win over it), waits for /healthz, sends a few
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

The database, the environment, gunicorn and the signup come from tools/harness, which the other
benchmarks share. No timing is asserted: the script reports figures. It fails only when the site misbehaves (a
signup that is not a 302 to /account/, an /account/ that is not a 200) or the time runs out.
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import requests

from tools.harness.database import add_run_arguments, database_kind, throwaway_database
from tools.harness.figures import load_average, request_table
from tools.harness.inprocess import django_setup, hash_time, queries_of
from tools.harness.processes import free_port, time_limit
from tools.harness.site import (
    GUNICORN_CONFIG,
    WORKERS,
    prepare,
    serving,
    signup,
    site_env,
    timed_get,
    unique_email,
)

WARMUP_REQUESTS = 5
SELECT_LIST_RE = re.compile(r"^SELECT (?!COUNT\()(.+?) FROM ")


# REQUESTS
# ------------------------------------------------------------------------------
def repeat(count: int, measure: Callable[[int], float]) -> list[float]:
    return [measure(number) for number in range(count)]


def measure_site(base_url: str, count: int) -> dict[str, list[float]]:
    health = requests.Session()
    # Warm-up, not counted: each worker imports its views and templates on first use.
    _, account_session = signup(base_url, unique_email("bench"))
    for _ in range(WARMUP_REQUESTS):
        timed_get(health, f"{base_url}/healthz")
        timed_get(account_session, f"{base_url}/account/")
        signup(base_url, unique_email("bench-warmup"))
    return {
        "GET /healthz": repeat(count, lambda _: timed_get(health, f"{base_url}/healthz")),
        "POST /signup/": repeat(count, lambda _: signup(base_url, unique_email("bench"))[0]),
        "GET /account/": repeat(count, lambda _: timed_get(account_session, f"{base_url}/account/")),
    }


# IN-PROCESS FIGURES: SQL QUERIES OF /account/, COST OF ONE PASSWORD HASH
# ------------------------------------------------------------------------------
def in_process_figures(env: dict[str, str]) -> tuple[list[str], float]:
    """The SQL of GET /account/ (second of two, as a customer with a profile) and the median time
    of hashing one password with the site's first hasher, on the benchmark's database."""
    django_setup(env)
    from django.db import connections

    from accounts.models import Profile

    try:
        profile = Profile.objects.select_related("user").order_by("pk").first()
        assert profile is not None, "no customer with a profile in the database"
        queries = [query["sql"] for query in queries_of(profile.user, "/account/")]
    finally:
        connections.close_all()
    return queries, hash_time()


# REPORT
# ------------------------------------------------------------------------------
def summarise_sql(sql: str, width: int = 300) -> str:
    """One line per query, the column list elided: what is read, joined and filtered."""
    sql = SELECT_LIST_RE.sub(r"SELECT … FROM ", " ".join(sql.split()), count=1)
    return sql if len(sql) <= width else sql[: width - 1] + "…"


def report(
    database: str, count: int, timings: dict[str, list[float]], queries: list[str], hash_time: float
) -> None:
    load = load_average()
    print(f"\nFlower Account, {database}, {count} requests each over loopback")
    print(f"gunicorn: {WORKERS} workers, with {GUNICORN_CONFIG.name}")
    print(f"machine: {os.cpu_count()} CPUs, load average {load} (other work skews the milliseconds)")
    request_table(timings, width=16)
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
    add_run_arguments(parser, timeout=120)
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
