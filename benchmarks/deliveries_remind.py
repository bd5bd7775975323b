"""How long `manage.py deliveries_remind` takes for a day's batch of reminders, and what a second run
(nothing due: every email already claimed) costs.

Run from the project root:

    .venv/bin/python -m benchmarks.deliveries_remind [--customers 1000] [--database-url URL]

One throwaway database (tools/harness's) and `migrate`; `--customers` customers are bulk-inserted
through the ORM (no signals, no password hashing), each with one scheduled delivery in three days,
a quarter of them with a balance below its price (so they get the low-balance email too). The
command runs with the integration off and DELIVERY_REMINDER_HOUR=0 (everything due now); each email
becomes a row of the outbox (docs/email.md), and no worker runs to send it: the figures are the
database work and the rendering of plain text + HTML, not an SMTP server. Wall time is the
subprocess's, Django start-up included; the second run's time is that floor, so (first - second) /
emails is the cost of one email. No timing is asserted.
"""

from __future__ import annotations

import argparse
import re
import time
from datetime import timedelta
from decimal import Decimal

from tools.harness.crm import no_crm_env
from tools.harness.database import database_kind, throwaway_database
from tools.harness.inprocess import bulk_customers, django_setup
from tools.harness.processes import free_port
from tools.harness.site import manage, prepare, site_env


def insert_customers(env: dict[str, str], count: int) -> None:
    django_setup(env)
    from django.db import connections, transaction
    from django.utils import timezone

    from accounts.models import Delivery

    day = timezone.localdate() + timedelta(days=3)
    with transaction.atomic():
        profiles = bulk_customers(
            "remind", count, day, lambda n: Decimal("1000.00") if n % 4 == 0 else Decimal("5000.00")
        )
        Delivery.objects.bulk_create(
            [
                Delivery(
                    profile=profile,
                    delivery_on=day,
                    bouquet_category=profile.bouquet_category,
                    price=profile.bouquet_category.price,
                    delivery_address=profile.delivery_address,
                )
                for profile in profiles
            ]
        )
    connections.close_all()


def timed(env: dict[str, str], *args: str) -> tuple[float, str]:
    started = time.perf_counter()
    output = manage(env, "deliveries_remind", *args, timeout=1800)
    return time.perf_counter() - started, output.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1000, help="customers with a delivery due (1000)")
    parser.add_argument("--database-url", default=None, help="a PostgreSQL URL to create and drop (SQLite)")
    args = parser.parse_args()

    with throwaway_database(args.database_url) as url:
        env = no_crm_env(
            site_env(
                url,
                free_port(),
                EMAIL_URL="memorymail://",
                DELIVERY_REMINDER_DAYS="3",
                DELIVERY_REMINDER_HOUR="0",
                LOG_LEVEL="WARNING",
            )
        )
        prepare(env, static=False)
        insert_customers(env, args.customers)
        first, first_out = timed(env)
        second, second_out = timed(env)

    emails = sum(int(n) for n in re.findall(r"(\d+) of \d+ (?:reminder|low-balance)", first_out))
    print(f"\ndeliveries_remind, {args.customers} customers, {database_kind(args.database_url)}:")
    print(f"first run:  {first:6.2f} s  {first_out}")
    print(f"second run: {second:6.2f} s  {second_out}")
    if emails:
        print(f"per email (first - second) / {emails}: {(first - second) / emails * 1000:.1f} ms")


if __name__ == "__main__":
    main()
