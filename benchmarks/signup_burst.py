"""A burst of signups through the worker into the amoCRM stand-in at 7 requests/second: how long until
every lead is there, how many requests it took, leads lost or doubled (issue 23, item 6).

Run from the project root:

    .venv/bin/python -m benchmarks.signup_burst [--signups 1000] [--workers 2] [--rate 0] [--database-url URL]

One throwaway database (tools/harness's: a temporary SQLite file with many writers, or the named
PostgreSQL database, created and dropped), `migrate`, the amoCRM stand-in in this process at
amoCRM's limit (7 requests/second, 429 above it), our fields set up (`manage.py
amocrm_setup_fields`), and `--workers` task workers (`manage.py db_worker`, polling every second as
the Procfile's) with our deployment-wide limiter at AMOCRM_RATE_LIMIT=7 and the lead history notes
on (each signup's note is one more item to send).

Signups are made in this process, each in its own transaction through the site's services, as
the signup form's `save` makes them (a user, `profile_create`: the outbox row, the signup's note,
and the sync task enqueued after commit), with no password hash: the hash is the web server's
cost, not the sync's. `--rate N` paces them at N a second; 0 (the default) makes them as fast as
this process can. The clock starts at the first signup and stops when the stand-in holds a lead
for each of them (polled every 0.2 s).

Before the burst, one lone signup warms the workers up; after it, another lone signup is timed
from its commit to its lead (a worker polls every second, so about a second is the floor).

Prints the signups, the time to make them, the time until all were in amoCRM, the requests the
stand-in received by kind (and 429s), and leads lost or doubled (by the lead's email field). No
timing is asserted.
"""

from __future__ import annotations

import argparse
import collections
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from tools.harness.crm import Control, crm_env, field_value, standin
from tools.harness.database import add_run_arguments, database_kind, throwaway_database
from tools.harness.figures import load_average
from tools.harness.inprocess import django_setup
from tools.harness.processes import HarnessError, running, time_limit, wait_until
from tools.harness.site import manage, prepare, site_env, unique_email, worker_args

POLL = 0.2  # seconds between looks at the stand-in


@contextmanager
def burst_run(timeout: int, database_url: str | None) -> Iterator[tuple[str, Path, Control]]:
    """crm_run's parts, with a database several processes write at once (the signups, the workers)."""
    with (
        time_limit(timeout),
        throwaway_database(database_url, many_writers=True) as url,
        tempfile.TemporaryDirectory() as tmp,
        standin() as server,
    ):
        yield url, Path(tmp), Control(server)


def sign_up(email: str) -> None:
    """One signup as the form's save makes it (its transaction; the sync enqueued on commit)."""
    import datetime
    from decimal import Decimal

    from django.db import transaction
    from django.utils import timezone

    from accounts import services
    from accounts.models import BouquetCategory, User

    with transaction.atomic():
        user = User.objects.create_user(email=email, password=None)  # no hash: not what is measured
        services.profile_create(
            user=user,
            bouquet_category=BouquetCategory.objects.get(slug="luxe"),
            delivery_address="Москва, Тверская ул., д. 7, кв. 12",
            first_delivery_date=timezone.localdate() + datetime.timedelta(days=10),
            delivery_interval="weekly",
            wishes="Пионы и эвкалипт, без лилий.",
            invoice_amount=Decimal("5000"),
        )


def leads_count(control: Control) -> int:
    return control("GET", "state")["counts"]["leads"]


def notes_count(control: Control) -> int:
    return control("GET", "state")["counts"]["notes"]


def lone_signup(control: Control, label: str, timeout: float, logs) -> float:
    """Seconds from a lone signup's commit to its lead in the stand-in."""
    before = leads_count(control)
    sign_up(unique_email(label))
    started = time.perf_counter()
    wait_until(f"the lead of the {label} signup", lambda: leads_count(control) > before, timeout, POLL, logs)
    return time.perf_counter() - started


def make_signups(emails: list[str], rate: float) -> float:
    """Sign them all up, at `rate` a second (0: as fast as this process can); the seconds it took."""
    started = time.perf_counter()
    for number, email in enumerate(emails):
        if rate:
            time.sleep(max(0.0, started + number / rate - time.perf_counter()))
        sign_up(email)
    return time.perf_counter() - started


def wait_for_leads(control: Control, expected: int, timeout: float, logs) -> None:
    wait_until("every lead of the burst", lambda: leads_count(control) >= expected, timeout, POLL, logs)


def request_kinds(requests: list[dict]) -> collections.Counter:
    """The stand-in's request log by kind: a contact search, the contact listing, a leads/complex, …"""
    kinds: collections.Counter = collections.Counter()
    for request in requests:
        kind = f"{request['method']} {request['path']}"
        if request["path"] == "/api/v4/contacts" and request["method"] == "GET":
            kind += " (search)" if "query" in request["query"] else " (listing)"
        if request["status"] == 429:
            kind = "429 " + kind
        kinds[kind] += 1
    return kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signups", type=int, default=1000, help="signups in the burst (1000)")
    parser.add_argument("--workers", type=int, default=2, help="db_worker processes (2)")
    parser.add_argument("--rate", type=float, default=0, help="signups a second; 0: as fast as possible")
    parser.add_argument(
        "--backlog", action="store_true", help="make every signup first, then start the workers (a backlog)"
    )
    add_run_arguments(parser, timeout=900)
    args = parser.parse_args()

    with burst_run(args.timeout, args.database_url) as (database_url, tmp, control):
        env = {
            **crm_env(site_env(database_url, 0), control.standin, control.token()),
            "AMOCRM_LEAD_NOTES": "true",
        }
        prepare(env, timeout=300, static=False)
        manage(env, "amocrm_setup_fields", timeout=60)
        django_setup(env)
        logs = [tmp / f"worker{n}.log" for n in range(args.workers)]

        def worker_logs() -> str:
            return "\n".join(log.read_text(errors="replace")[-3000:] for log in logs if log.exists())

        with ExitStack() as workers:

            def start_workers() -> None:
                for log in logs:
                    workers.enter_context(running(worker_args("1"), env, log))

            if not args.backlog:
                start_workers()
                lone_signup(control, "warmup", 60, worker_logs)
            control("DELETE", "requests")
            expected = leads_count(control) + args.signups
            notes = notes_count(control) + args.signups  # one per signup
            emails = [unique_email(f"burst{n}") for n in range(args.signups)]
            started = time.perf_counter()
            made = make_signups(emails, args.rate)
            in_at_last = leads_count(control) - (expected - args.signups)
            if args.backlog:
                started = time.perf_counter()  # the backlog waits for the workers, which start now
                start_workers()
            wait_for_leads(control, expected, args.timeout, worker_logs)
            all_in = time.perf_counter() - started
            # The last batch's notes go right after its leads: count their requests too.
            wait_until(
                "every note of the burst", lambda: notes_count(control) >= notes, 60, POLL, worker_logs
            )
            requests = control.requests()
            lone = lone_signup(control, "lone", 60, worker_logs)
        leads = control.leads()

    ours = collections.Counter(field_value(lead, "FA_EMAIL") for lead in leads)
    lost = sum(1 for email in emails if ours[email] == 0)
    doubled = sum(ours[email] - 1 for email in emails if ours[email] > 1)
    kinds = request_kinds(requests)
    mode, since = ("backlog", "the workers started") if args.backlog else ("workers running", "the first")
    print(
        f"\nSignup burst ({mode}), {database_kind(args.database_url)}, {args.workers} db_worker(s), "
        f"stand-in and limiter at 7 requests/s, lead notes on; load average {load_average()}"
    )
    print(
        f"signups:                         {args.signups} (made in {made:.1f} s, {args.signups / made:.1f}/s)"
    )
    print(f"time until all were in amoCRM:   {all_in:.1f} s after {since} ({args.signups / all_in:.1f}/s)")
    if not args.backlog:
        print(
            f"when the last signup was made:   {in_at_last} in amoCRM, the rest {all_in - made:.1f} s later"
        )
    print(f"requests the stand-in received:  {len(requests)} ({len(requests) / all_in:.1f}/s)")
    for kind, number in sorted(kinds.items(), key=lambda item: -item[1]):
        print(f"    {number:>6}  {kind}")
    print(f"leads lost / doubled:            {lost} / {doubled}")
    print(f"a lone signup after the burst:   {lone:.2f} s from its commit to its lead")


if __name__ == "__main__":
    try:
        main()
    except HarnessError as e:
        raise SystemExit(str(e)) from None
