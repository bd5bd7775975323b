"""The admin index (the staff's control room) with 10,000 customers and 100,000 deliveries, under
gunicorn, against /healthz in the same run; its SQL queries.

Run from the project root:

    .venv/bin/python -m benchmarks.admin_index [--requests 20] [--customers 10000] [--database-url URL]

What it does, all on loopback and bounded by --timeout (300 s by default):

1. Makes a throwaway database (a temporary SQLite file, or the PostgreSQL database --database-url
   names, created and dropped), migrates it with production-like settings (tools/harness).
2. Fills it in-process with bulk_create: --customers users with profiles (created_at spread over
   the last 100 days), an invoice each (a tenth awaiting payment), ten deliveries each (weekly,
   five weeks back and five ahead, so today and tomorrow hold a seventh of the customers each),
   a lead sync row each (a tenth pending, a
   hundredth failed), 10,000 webhook events over the last ten days, a reconcile cursor and an open
   breaker, and one staff user. No signals run (bulk_create sends none): no work is queued.
3. Starts gunicorn, logs the staff user in through /login/, warms up, then times
   --requests GETs of /admin/ and of /healthz (one SELECT 1 through the middleware), and prints
   their medians, p95 and the ratio of the medians: the ratio is the figure to compare between
   machines, the milliseconds only describe this one.
4. Counts the SQL queries of GET /admin/ in-process (Django's test Client, the second of two) and
   prints the three slowest, which says whether a figure needs an index.

No timing is asserted; it fails only when the site misbehaves or the time runs out.
"""

from __future__ import annotations

import argparse
import datetime
import os
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import requests

from tools.harness.database import add_run_arguments, database_kind, throwaway_database
from tools.harness.figures import load_average, request_table
from tools.harness.inprocess import django_setup, queries_of
from tools.harness.processes import free_port, time_limit
from tools.harness.site import (
    PASSWORD,
    WORKERS,
    log_in,
    prepare,
    serving,
    site_env,
    timed_get,
)

STAFF_EMAIL = "staff@example.com"
DELIVERIES_EACH = 10
WEBHOOK_EVENTS = 10_000
BATCH = 2_000
WARMUP_REQUESTS = 5


# DATA
# ------------------------------------------------------------------------------
def fill(customers: int) -> None:
    """The shop after a while: customers, their deliveries and sync rows, webhook traffic."""
    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from django.utils import timezone

    from accounts.models import BouquetCategory, Delivery, Invoice, Profile, User
    from amocrm.models import CircuitBreaker, LeadSync, ReconcileCursor, WebhookEvent

    now = timezone.now()
    today = timezone.localdate()
    category = BouquetCategory.objects.order_by("pk").first()
    with transaction.atomic():
        User.objects.create_user(email=STAFF_EMAIL, password=PASSWORD, is_staff=True, is_superuser=True)
        unusable = make_password(None)  # customers never log in here: no hash to pay per row
        users = User.objects.bulk_create(
            [User(email=f"customer{n}@example.com", password=unusable) for n in range(customers)],
            batch_size=BATCH,
        )
        profiles = Profile.objects.bulk_create(
            [
                Profile(
                    user=user,
                    bouquet_category=category,
                    delivery_address=f"Москва, ул. Цветочная, д. {n % 200}, кв. {n % 90}",
                    first_delivery_date=today - datetime.timedelta(days=35 - n % 7),
                    account_sum=Decimal("5000"),
                    account_status=Profile.AccountStatus.ACTIVE,
                )
                for n, user in enumerate(users)
            ],
            batch_size=BATCH,
        )
        # created_at is auto_now_add: spread it afterwards, one UPDATE per day.
        for day in range(100):
            ids = [p.pk for p in profiles[day::100]]
            Profile.objects.filter(pk__in=ids).update(created_at=now - datetime.timedelta(days=day))
        Delivery.objects.bulk_create(
            [
                Delivery(
                    profile=profile,
                    delivery_on=profile.first_delivery_date + datetime.timedelta(weeks=week),
                    bouquet_category=category,
                    price=category.price,
                    delivery_address=profile.delivery_address,
                    status=Delivery.Status.DELIVERED if week < 5 else Delivery.Status.SCHEDULED,
                )
                for profile in profiles
                for week in range(DELIVERIES_EACH)
            ],
            batch_size=BATCH,
        )
        # Each customer's signup invoice: a tenth still awaiting payment, the rest paid.
        Invoice.objects.bulk_create(
            [
                Invoice(
                    profile=profile,
                    amount=Decimal("5000"),
                    status=Invoice.Status.AWAITING if n % 10 == 3 else Invoice.Status.PAID,
                    paid_at=None if n % 10 == 3 else now,
                )
                for n, profile in enumerate(profiles)
            ],
            batch_size=BATCH,
        )
        LeadSync.objects.bulk_create(
            [
                LeadSync(
                    profile=profile,
                    lead_id=None if n % 10 == 0 else 30_000_000 + n,
                    status=(
                        LeadSync.Status.PENDING
                        if n % 10 == 0
                        else LeadSync.Status.FAILED
                        if n % 100 == 1
                        else LeadSync.Status.SYNCED
                    ),
                    pending_since=now - datetime.timedelta(minutes=n % 60) if n % 10 == 0 else None,
                )
                for n, profile in enumerate(profiles)
            ],
            batch_size=BATCH,
        )
        events = WebhookEvent.objects.bulk_create(
            [
                WebhookEvent(
                    dedupe_key=f"lead:update:{n}",
                    action="update",
                    lead_id=30_000_000 + n % max(customers, 1),
                    status=WebhookEvent.Status.FAILED if n % 50 == 0 else WebhookEvent.Status.PROCESSED,
                )
                for n in range(WEBHOOK_EVENTS)
            ],
            batch_size=BATCH,
        )
        for hour in range(240):
            ids = [e.pk for e in events[hour::240]]
            WebhookEvent.objects.filter(pk__in=ids).update(received_at=now - datetime.timedelta(hours=hour))
        ReconcileCursor.objects.create(entity="leads", last_finished_at=now, last_read=40, last_drifts=2)
        CircuitBreaker.objects.create(
            name="amocrm", is_open=True, reason=CircuitBreaker.Reason.BLOCKED, opened_at=now, retry_at=now
        )


def index_queries() -> list[tuple[float, str]]:
    """The SQL of GET /admin/ (second of two) with each query's time, in-process."""
    from accounts.models import User

    queries = queries_of(User.objects.get(email=STAFF_EMAIL), "/admin/")
    return [(float(q["time"]), " ".join(q["sql"].split())) for q in queries]


# REQUESTS
# ------------------------------------------------------------------------------
def measure(base_url: str, count: int) -> dict[str, list[float]]:
    # Staff log in where customers do (the admin's own login redirects there).
    staff, health = log_in(base_url, STAFF_EMAIL), requests.Session()
    for _ in range(WARMUP_REQUESTS):
        timed_get(health, f"{base_url}/healthz")
        timed_get(staff, f"{base_url}/admin/")
    timings: dict[str, list[float]] = {"GET /healthz": [], "GET /admin/": []}
    for _ in range(count):  # interleaved, so a burst of other work on the machine hits both
        timings["GET /healthz"].append(timed_get(health, f"{base_url}/healthz"))
        timings["GET /admin/"].append(timed_get(staff, f"{base_url}/admin/"))
    return timings


# MAIN
# ------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20, help="timed requests of each kind (20)")
    parser.add_argument(
        "--customers", type=int, default=10_000, help="customers, ten deliveries each (10000)"
    )
    add_run_arguments(parser, timeout=300)
    args = parser.parse_args()
    if args.requests < 1 or args.customers < 1:
        parser.error("--requests and --customers must be at least 1")

    with (
        time_limit(args.timeout),
        throwaway_database(args.database_url) as database_url,
        tempfile.TemporaryDirectory() as tmp,
    ):
        port = free_port()
        env = site_env(database_url, port)
        prepare(env, timeout=args.timeout)
        django_setup(env)
        started = time.perf_counter()
        fill(args.customers)
        filled_in = time.perf_counter() - started
        queries = index_queries()
        from django.db import connections

        connections.close_all()
        with serving(env, port, Path(tmp) / "gunicorn.log") as (base_url, _):
            timings = measure(base_url, args.requests)

    print(f"\nFlower Account admin index, {database_kind(args.database_url)}, {args.requests} requests each")
    print(
        f"data: {args.customers} customers, {args.customers * DELIVERIES_EACH} deliveries, "
        f"{WEBHOOK_EVENTS} webhook events (bulk_create in {filled_in:.1f} s)"
    )
    print(f"gunicorn: {WORKERS} workers; machine: {os.cpu_count()} CPUs, load average {load_average()}")
    request_table(timings, width=14)
    print(f"SQL queries of GET /admin/ (second request, in-process): {len(queries)} (target ≤ 12); slowest:")
    for seconds, sql in sorted(queries, reverse=True)[:3]:
        print(f"  {seconds * 1000:6.1f} ms  {sql[:150]}")


if __name__ == "__main__":
    main()
