"""The cost of a password hash: signup against /healthz, and logins per second under 20 clients.

Run from the project root:

    .venv/bin/python -m benchmarks.login_cost [--hasher both|owasp|django] [--clients 20]

It compares the site's hasher (accounts.hashers: Argon2id, OWASP's m=19 MiB, t=2, p=1) with
Django's default Argon2 parameters (m=100 MiB, t=2, p=8), the "before". The "before" runs the site
with benchmarks.django_argon2_settings, the site's settings with Django's own Argon2PasswordHasher
first: a settings module only this benchmark names, so the site has no switch for it.

What it does, all on loopback and bounded by --timeout (300 s by default):

1. Makes a throwaway database (a temporary SQLite file, or --database-url's PostgreSQL database,
   created and dropped) and runs `migrate` and `collectstatic` with production-like settings
   (tools/harness: DEBUG=false, a random SECRET_KEY, CACHE_URL=dummycache:// so allauth's rate
   limits count nothing and one address may sign up and log in as often as it likes).
2. For each hasher: starts gunicorn with gunicorn.conf.py (2 workers, gthread, as production),
   warms it up, then times
   - GET /healthz, --requests times in one session: the floor;
   - a signup POST, --signups times, each in a new session (the CSRF GET is not timed), whose
     customers then log in;
   - a login storm: --clients threads, each logging its customer in (GET /login/ for the CSRF token,
     then the POST, which must answer 302 to /account/) in a fresh session, again and again for
     --seconds; logins per second = completed logins ÷ the time they took.
3. Prints, per hasher, the medians, signup ÷ /healthz, logins/s, and one hash timed in-process.

No timing is asserted; a request that misbehaves (a signup or login not answered 302 to /account/)
fails the run. The machine's load is printed: other work on it skews every figure.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from tools.harness.database import add_run_arguments, database_kind, throwaway_database
from tools.harness.figures import load_average, percentile
from tools.harness.inprocess import hash_time
from tools.harness.processes import HarnessError, free_port, time_limit
from tools.harness.site import (
    WORKERS,
    log_in,
    prepare,
    serving,
    signup,
    site_env,
    timed_get,
    unique_email,
)

# What --hasher names: the settings module the site runs with, and the hasher it puts first.
HASHERS = {
    "django": ("benchmarks.django_argon2_settings", "django.contrib.auth.hashers.Argon2PasswordHasher"),
    "owasp": ("flower_account.settings", "accounts.hashers.OwaspArgon2PasswordHasher"),
}
WARMUP_REQUESTS = 5


@dataclass
class Figures:
    hasher: str
    healthz: list[float]
    signups: list[float]
    logins: int
    storm_seconds: float
    hash_seconds: float

    @property
    def signup_ratio(self) -> float:
        """Median signup ÷ median /healthz: the figure to compare between machines."""
        return statistics.median(self.signups) / statistics.median(self.healthz)

    @property
    def logins_per_second(self) -> float:
        return self.logins / self.storm_seconds


def login_storm(base_url: str, emails: list[str], seconds: float) -> tuple[int, float]:
    """One thread per email logs in again and again until `seconds` pass: (logins, elapsed)."""
    deadline = time.perf_counter() + seconds
    counts = [0] * len(emails)
    errors: list[BaseException] = []

    def client(number: int, email: str) -> None:
        try:
            while time.perf_counter() < deadline:
                log_in(base_url, email)
                counts[number] += 1
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=client, args=(n, e), daemon=True) for n, e in enumerate(emails)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise HarnessError(f"a login failed during the storm: {errors[0]}")
    return sum(counts), elapsed


def measure(name: str, database_url: str, args: argparse.Namespace, tmp: Path) -> Figures:
    settings_module, hasher_path = HASHERS[name]
    port = free_port()
    env = site_env(database_url, port, DJANGO_SETTINGS_MODULE=settings_module)
    with serving(env, port, tmp / f"gunicorn-{name}.log") as (base_url, _):
        health = requests.Session()
        for _ in range(WARMUP_REQUESTS):
            timed_get(health, f"{base_url}/healthz")
            signup(base_url, unique_email("warmup"))
        healthz = [timed_get(health, f"{base_url}/healthz") for _ in range(args.requests)]
        emails = [unique_email(f"login-{name}") for _ in range(max(args.signups, args.clients))]
        signups = [signup(base_url, email)[0] for email in emails]
        logins, seconds = login_storm(base_url, emails[: args.clients], args.seconds)
    return Figures(name, healthz, signups, logins, seconds, hash_time(hasher_path))


def report(database: str, args: argparse.Namespace, results: list[Figures]) -> None:
    print(
        f"\nFlower Account, password hashing cost, {database}, gunicorn {WORKERS} workers (gunicorn.conf.py)"
    )
    print(f"machine: {os.cpu_count()} CPUs, load average {load_average()} (other work skews the figures)")
    print(
        f"{'hasher':<8}{'/healthz ms':>12}{'signup ms':>11}{'p95':>8}{'signup ÷ /healthz':>19}"
        f"{'logins/s':>10}{'hash ms':>9}"
    )
    for figures in results:
        floor, signup_median = statistics.median(figures.healthz), statistics.median(figures.signups)
        print(
            f"{figures.hasher:<8}{floor * 1000:>12.1f}{signup_median * 1000:>11.1f}"
            f"{percentile(figures.signups, 0.95) * 1000:>8.1f}{figures.signup_ratio:>19.1f}"
            f"{figures.logins_per_second:>10.1f}{figures.hash_seconds * 1000:>9.1f}"
        )
    print(
        f"{args.requests} × /healthz, {max(args.signups, args.clients)} signups, then {args.clients} clients "
        f"logging in for {args.seconds:.0f} s (each login: GET /login/ + POST). django = Django's "
        f"Argon2 defaults (m=100 MiB, t=2, p=8); owasp = the site's (m=19 MiB, t=2, p=1)."
    )
    if len(results) == 2:
        before, after = results
        print(
            f"owasp vs django: signup ÷ /healthz {after.signup_ratio:.1f} vs {before.signup_ratio:.1f}, "
            f"logins/s × {after.logins_per_second / before.logins_per_second:.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hasher", choices=["both", "django", "owasp"], default="both", help="(both)")
    parser.add_argument("--requests", type=int, default=50, help="timed GET /healthz (50)")
    parser.add_argument("--signups", type=int, default=20, help="timed signups, at least --clients (20)")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients logging in (20)")
    parser.add_argument("--seconds", type=float, default=10, help="length of each login storm (10)")
    add_run_arguments(parser, timeout=300)
    args = parser.parse_args()
    if min(args.requests, args.signups, args.clients) < 1 or args.seconds <= 0:
        parser.error("--requests, --signups, --clients and --seconds must be positive")
    names = ["django", "owasp"] if args.hasher == "both" else [args.hasher]

    with (
        time_limit(args.timeout),
        throwaway_database(args.database_url, many_writers=True) as database_url,
        tempfile.TemporaryDirectory() as tmp,
    ):
        prepare(site_env(database_url, free_port()), timeout=args.timeout)
        results = [measure(name, database_url, args, Path(tmp)) for name in names]
    report(database_kind(args.database_url), args, results)


if __name__ == "__main__":
    main()
