"""Where the time of GET /account/ goes: cProfile of the page in-process, for a customer with a history.

Run from the project root:

    .venv/bin/python -m benchmarks.account_profile [--customer year|new] [--requests 200] [--top 25]

What it does, bounded by --timeout (180 s by default):

1. Makes a throwaway SQLite file and runs `migrate` and `collectstatic` with the production-like
   settings of tools/harness (DEBUG=false, so Django's cached template loader, as in production).
2. In this process, on that database, makes the customer: with `--customer year` (the default) as
   a year of use leaves one: weekly deliveries, the signup invoice paid, a second one awaiting,
   six past bouquets delivered (ledger debits), a staff correction, a skip, a move, three friends
   who signed up through the link: the four upcoming rows show every action, and the history has
   more than one page; with `--customer new` one just signed up, as site_latency's.
3. With Django's test Client (no sockets, no gunicorn), after a warm-up, times --requests GETs of
   /account/ and of /healthz without the profiler, by the wall clock and by the thread's CPU time
   (which other work on a shared machine skews least); their ratio is not site_latency's, which
   has the server, a database connection per request and the client on top. Then it profiles
   --requests GETs of /account/ with cProfile.
4. Prints the shares of a request spent in the parts that matter (rendering, building SQL, running
   it, the view's own work), how often the costly template calls run per request (translations,
   dates, `{% url %}`, templates, SQL queries), the Python calls a request (deterministic, unlike
   the milliseconds) and the top functions by cumulative and by own time.

No timing is asserted; the profiler inflates every figure, so read the shares, not the milliseconds.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import io
import pstats
import statistics
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from tools.harness.database import sqlite_url
from tools.harness.figures import load_average
from tools.harness.inprocess import create_customer, django_setup
from tools.harness.processes import HOST, HarnessError, free_port, time_limit
from tools.harness.site import prepare, site_env

# (label, file suffix, function name): inclusive ("cumulative") time of each, as a share of a request.
# They overlap (SQL is built inside the view, the view inside the middleware): each is read alone.
PARTS = [
    ("the whole request (test Client → response)", "django/test/client.py", "request"),
    ("the view's context (DashboardView.get_context_data)", "accounts/views.py", "get_context_data"),
    ("rendering the template", "django/template/response.py", "render"),
    ("building SQL (SQLCompiler.as_sql, outermost)", "django/db/models/sql/compiler.py", "as_sql"),
    ("running SQL (the sqlite3 cursor)", "django/db/backends/sqlite3/base.py", "execute"),
    ("turning rows into objects (ModelIterable)", "django/db/models/query.py", "__iter__", "ModelIterable"),
    ("the session (SessionStore.load)", "django/contrib/sessions/backends/db.py", "load"),
    ("the user (auth.get_user)", "django/contrib/auth/__init__.py", "get_user"),
    ("the history page (history.page_get)", "accounts/history.py", "page_get"),
    ("what the balance covers (coverage.profile_coverage)", "accounts/coverage.py", "profile_coverage"),
]
# Calls counted per request: what the template does row by row.
COUNTED = [
    ("translations (trans_real.gettext)", "django/utils/translation/trans_real.py", "gettext"),
    ("`date` filters", "django/template/defaultfilters.py", "date"),
    ("`{% url %}` tags", "django/template/defaulttags.py", "render", "URLNode"),
    ("reverse()", "django/urls/base.py", "reverse"),
    ("`{% csrf_token %}` tags", "django/template/defaulttags.py", "render", "CsrfTokenNode"),
    ("templates rendered (Template._render)", "django/template/base.py", "_render"),
    ("SQL queries", "django/db/backends/sqlite3/base.py", "execute"),
]


# THE CUSTOMER
# ------------------------------------------------------------------------------
def customer_with_history():
    """A customer after a year: see the module docstring (step 2). The profile."""
    from django.utils import timezone

    from accounts import delivery_actions, ledger, payments, services
    from accounts.models import Delivery, LedgerEntry, Profile, User

    today = timezone.localdate()
    profile = create_customer("year@example.com")
    Profile.objects.filter(pk=profile.pk).update(
        delivery_interval="weekly",
        first_delivery_date=today - datetime.timedelta(days=49),
        phone="+79001234567",
    )
    profile.refresh_from_db()
    services.deliveries_reschedule(profile=profile)
    payments.invoice_pay(
        invoice=profile.invoices.get(), amount=Decimal("20000"), source="staff", confirmed_by="bench"
    )
    for weeks in range(7, 1, -1):
        past = Delivery.objects.create(
            profile=profile,
            delivery_on=today - datetime.timedelta(weeks=weeks),
            bouquet_category=profile.bouquet_category,
            price=profile.bouquet_category.price,
            delivery_address=profile.delivery_address,
        )
        delivery_actions.delivery_complete(delivery_id=past.pk)
    ledger.ledger_post(profile=profile, amount=Decimal("150.00"), reason=LedgerEntry.Reason.STAFF)
    payments.invoice_issue(profile=profile, amount=Decimal("3000"))
    open_rows = [d for d in profile.upcoming_deliveries(today=today, limit=10) if d.can_skip(today=today)]
    if len(open_rows) < 3:
        raise HarnessError("the customer has fewer than three deliveries open to changes")
    delivery_actions.delivery_skip(profile=profile, delivery_id=open_rows[0].pk)
    first, last = delivery_actions.move_window(today=today)
    taken = set(profile.deliveries.values_list("delivery_on", flat=True))
    free = next(
        first + datetime.timedelta(days=n)
        for n in range(60)
        if first + datetime.timedelta(days=n) not in taken
    )
    delivery_actions.delivery_move(profile=profile, delivery_id=open_rows[1].pk, new_date=min(free, last))
    for n in range(3):
        user = User.objects.create_user(email=f"friend-{n}@example.com", password=None)
        Profile.objects.create(
            user=user,
            bouquet_category=profile.bouquet_category,
            delivery_address=f"Москва, ул. Садовая, д. {n + 1}",
            first_delivery_date=today + datetime.timedelta(days=7),
            delivery_interval="weekly",
            referred_by=profile,
        )
    return Profile.objects.select_related("user").get(pk=profile.pk)


# MEASURING
# ------------------------------------------------------------------------------
def timed(client, path: str, count: int, clock: Callable[[], float] = time.perf_counter) -> list[float]:
    times = []
    for _ in range(count):
        started = clock()
        response = client.get(path)
        times.append(clock() - started)
        if response.status_code != 200:
            raise HarnessError(f"GET {path} answered {response.status_code}")
    return times


def find(stats: pstats.Stats, suffix: str, name: str, owner: str = "") -> list[tuple]:
    """The profiler's rows for function `name` in a file ending in `suffix` (an `owner` class: the
    function's first line must come after `class <owner>` in that file)."""
    rows = []
    for (path, line, function), row in stats.stats.items():
        if function != name or not path.endswith(suffix):
            continue
        if owner and _class_of(path, line) != owner:
            continue
        rows.append(row)
    return rows


def _class_of(path: str, line: int) -> str:
    owner = ""
    for number, text in enumerate(Path(path).read_text().splitlines(), 1):
        if number > line:
            break
        if text.startswith("class "):
            owner = text[6:].split("(")[0].split(":")[0]
    return owner


def report(
    stats: pstats.Stats, count: int, plain: dict[str, list[float]], cpu: dict[str, list[float]], top: int
) -> None:
    total = sum(row[3] for row in find(stats, "django/test/client.py", "request"))
    print(
        f"\nIn-process, without the profiler, {count} requests each (machine load average {load_average()}):"
    )
    for label, times in (("wall clock", plain), ("CPU time of the thread", cpu)):
        account, health = (statistics.median(times[path]) * 1000 for path in ("/account/", "/healthz"))
        ratio = account / health
        print(
            f"  {label}: GET /account/ median {account:.2f} ms, GET /healthz {health:.2f} ms (÷ {ratio:.1f})"
        )
    print("(no sockets or server here, so not site_latency's ratio)\n")
    print(f"With cProfile, {count} requests, {total / count * 1000:.1f} ms a request (inflated):")
    for label, suffix, name, *owner in PARTS:
        rows = find(stats, suffix, name, *owner)
        cumulative = sum(row[3] for row in rows)
        print(f"  {cumulative / total * 100:5.1f} %  {label}")
    print("\nCalls a request:")
    for label, suffix, name, *owner in COUNTED:
        calls = sum(row[1] for row in find(stats, suffix, name, *owner))
        print(f"  {calls / count:7.1f}  {label}")
    print(f"  {stats.total_calls / count:7.0f}  Python function calls in all")
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        stats.stream = out
        stats.sort_stats(order).print_stats(top)
        print(f"\nTop {top} by {order} time:")
        print(out.getvalue().split("\n\n", 2)[-1].rstrip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="requests timed, then profiled (200)")
    parser.add_argument("--top", type=int, default=25, help="functions listed by each order (25)")
    parser.add_argument(
        "--customer",
        choices=["year", "new"],
        default="year",
        help="year: the customer of step 2 (default); new: just signed up, as site_latency's",
    )
    parser.add_argument("--timeout", type=int, default=180, help="seconds for the whole run (180)")
    args = parser.parse_args()
    with time_limit(args.timeout), tempfile.TemporaryDirectory(prefix="flower-db-") as tmp:
        env = site_env(sqlite_url(Path(tmp) / "run.sqlite3"), free_port())
        prepare(env, timeout=args.timeout)
        django_setup(env)
        from django.db import connections
        from django.test import Client

        try:
            profile = (
                customer_with_history() if args.customer == "year" else create_customer("new@example.com")
            )
            # No setup_test_environment(): its template instrumentation copies every context.
            client = Client(HTTP_HOST=HOST)
            client.force_login(profile.user)
            timed(client, "/account/", 20)  # warm-up: imports, the template cache, the URL resolver
            plain = {path: timed(client, path, args.requests) for path in ("/account/", "/healthz")}
            # CPU time of this thread: what other work on a shared machine skews least.
            cpu = {
                path: timed(client, path, args.requests, time.thread_time)
                for path in ("/account/", "/healthz")
            }
            profiler = cProfile.Profile()
            profiler.runcall(timed, client, "/account/", args.requests)
        finally:
            connections.close_all()
        report(pstats.Stats(profiler), args.requests, plain, cpu, args.top)


if __name__ == "__main__":
    main()
