"""amoCRM's webhook under gunicorn: response time against /healthz, and webhook → visible on /account/.

Run from the project root:

    .venv/bin/python -m benchmarks.webhook_latency [--posts 200] [--rounds 20] [--database-url URL]
    .venv/bin/python -m benchmarks.webhook_latency --write-body FILE   # a body for load.py, then exit

One throwaway database (tools/harness's: a temporary SQLite file, or the named PostgreSQL
database, created and dropped), `migrate` + `collectstatic`, the amoCRM stand-in in this process
(the endpoint never calls amoCRM; the stand-in is there so the worker's sync, if it sent anything,
would land somewhere we can count), our fields set up with `manage.py amocrm_setup_fields` against
it, then `--customers` customers created through the ORM, each linked to a lead (LeadSync synced,
`synced_values` = what the site would have sent) and any queued sync task dropped. gunicorn runs with
AMOCRM_WEBHOOK_SECRET and AMOCRM_ACCOUNT_SUBDOMAIN=flowers set.

(a) Without the worker: after warm-up, `--posts` webhook POSTs alternating with as many
    GET /healthz. Each body is one `leads[update]` item shaped as amoCRM sends it (name, status,
    price, timestamps, the sum and address custom fields, the account block), for the customers'
    leads in turn, each with a distinct `last_modified`, so none is a duplicate. Every POST must
    answer 200 and store one new event. Prints median, p95 and worst of each and the ratios.
(b) With `manage.py db_worker --no-reload --interval 1` running (once it has applied the backlog
    of (a)): `--rounds` times, a random 0–1 s apart, a webhook raises one customer's account sum
    and that customer's logged-in session polls GET /account/ every 20 ms until the new sum is on
    the page. Clock from before the POST to the page showing it. Also counts the requests the
    stand-in received meanwhile (no echo: 0 expected).

Everything is on 127.0.0.1, bounded by --timeout, and every process started is stopped and the
database removed, also on a failure. No timing is asserted.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
import uuid
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import requests

from tools.amocrm_standin import php_encode
from tools.harness.crm import crm_env, crm_run
from tools.harness.database import add_run_arguments, database_kind
from tools.harness.figures import load_average, percentile
from tools.harness.inprocess import create_customer, django_setup
from tools.harness.processes import free_port, running, wait_until
from tools.harness.site import (
    REQUEST_TIMEOUT,
    log_in,
    manage,
    prepare,
    serving,
    site_env,
    timed_get,
    worker_args,
)

SECRET = "bench-hook-" + uuid.uuid4().hex
SUBDOMAIN = "flowers"
ACCOUNT = {"subdomain": SUBDOMAIN, "id": "31000001", "_links": {"self": "https://flowers.amocrm.ru"}}
FIRST_LEAD = 40000001
WARMUP = 10
SEQ = "__SEQ__"  # load.py replaces it with a number unique to each request


def lead_body(lead_id: int, stamp: int | str, total: str, sum_field: int, address_field: int) -> str:
    """One `leads[update]` item as amoCRM posts it (cf. tests/amocrm/fixtures/webhook_leads_body.txt)."""
    item = {
        "id": lead_id,
        "name": "Подписка на цветы — bench@example.ru",
        "status_id": 60000003,
        # The budget as the site sets it (the sum rounded half up): a budget that differs makes the
        # site PATCH its own back, one request per webhook (seen with a truncated budget).
        "price": int(Decimal(total).quantize(Decimal("1"), rounding=ROUND_HALF_UP)),
        "responsible_user_id": 8000002,
        "last_modified": stamp,
        "modified_user_id": 8000002,
        "created_at": 1763800000,
        "updated_at": stamp,
        "pipeline_id": 7000001,
        "account_id": ACCOUNT["id"],
        "custom_fields": [
            {"id": sum_field, "name": "Сумма счёта", "values": [{"value": total}]},
            {
                "id": address_field,
                "name": "Адрес доставки",
                "values": [{"value": "Москва, ул. Цветочная, д. 1, кв. 2"}],
            },
        ],
    }
    return php_encode({"leads": {"update": [item]}, "account": ACCOUNT})


# IN-PROCESS SET-UP (the benchmark's own Django, on the benchmark's database)
# ------------------------------------------------------------------------------
def create_linked_customers(count: int) -> tuple[list[tuple[str, int]], int, int]:
    """(email, lead id) per customer, and the field ids of the account sum and the address."""
    from django.db import connections
    from django_tasks_db.models import DBTaskResult

    from amocrm import mapping
    from amocrm.models import CustomField, LeadSync
    from amocrm.services.fields import field_map_load

    try:
        fields = field_map_load()
        run_id = uuid.uuid4().hex[:8]
        customers = []
        for number in range(count):
            profile = create_customer(f"hook-{run_id}-{number}@example.ru")
            lead_id = FIRST_LEAD + number
            LeadSync.objects.filter(profile=profile).update(
                lead_id=lead_id,
                status=LeadSync.Status.SYNCED,
                synced_values=mapping.lead_state(profile, fields),
                pending_since=None,
                next_attempt_at=None,
            )
            customers.append((profile.user.email, lead_id))
        DBTaskResult.objects.all().delete()  # the sync tasks the saves queued: the leads "exist"
        ids = dict(CustomField.objects.values_list("key", "field_id"))
        return customers, ids[CustomField.Key.ACCOUNT_SUM], ids[CustomField.Key.DELIVERY_ADDRESS]
    finally:
        connections.close_all()


def event_counts() -> dict[str, int]:
    from django.db import connections
    from django.db.models import Count

    from amocrm.models import WebhookEvent

    try:
        rows = WebhookEvent.objects.values_list("status").annotate(n=Count("pk"))
        return {status: n for status, n in rows}
    finally:
        connections.close_all()


def shown_sum(total: Decimal) -> str:
    """The sum as templates/accounts/dashboard.html renders it (floatformat:"2g", Russian)."""
    from django.template.defaultfilters import floatformat
    from django.utils import translation

    with translation.override("ru"):
        return str(floatformat(total, "2g"))


# TIMING
# ------------------------------------------------------------------------------
def post_hook(session: requests.Session, url: str, body: str) -> float:
    started = time.perf_counter()
    response = session.post(
        url,
        data=body.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        allow_redirects=False,
        timeout=REQUEST_TIMEOUT,
    )
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"the webhook answered {response.status_code}: {response.text[:500]}")
    return elapsed


def page_text(session: requests.Session, url: str) -> str:
    response = session.get(url, allow_redirects=False, timeout=REQUEST_TIMEOUT)
    if response.status_code != 200:
        raise SystemExit(f"GET {url} answered {response.status_code}")
    return response.text


def summarise(log: list[dict]) -> str:
    """The stand-in's request log as counts by method and path (no echo: none)."""
    counts: dict[str, int] = {}
    for entry in log:
        key = f"{entry.get('method')} {str(entry.get('path')).split('?')[0]}"
        counts[key] = counts.get(key, 0) + 1
    return f"{len(log)}" + (f" ({', '.join(f'{k} ×{n}' for k, n in sorted(counts.items()))})" if log else "")


def line(name: str, values: list[float], floor: float | None = None) -> str:
    median = statistics.median(values)
    ratio = f"  ×/healthz median {median / floor:.2f}" if floor else ""
    return (
        f"{name:<22} median {median * 1000:7.2f} ms  p95 {percentile(values, 0.95) * 1000:7.2f} ms  "
        f"worst {max(values) * 1000:7.2f} ms{ratio}"
    )


# MAIN
# ------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=200, help="timed webhook POSTs and /healthz GETs (200)")
    parser.add_argument("--rounds", type=int, default=20, help="webhook → /account/ rounds (20)")
    parser.add_argument("--customers", type=int, default=10, help="customers with a linked lead (10)")
    add_run_arguments(parser, timeout=300)
    parser.add_argument("--write-body", metavar="FILE", help="write a body for load.py (with __SEQ__), exit")
    args = parser.parse_args()
    if args.write_body:
        # Lead 40000001 is unknown in load.py's database: each event is stored and queued, then
        # ignored by a worker (none runs there); the request path is the one measured here.
        Path(args.write_body).write_text(lead_body(FIRST_LEAD, SEQ, "5000.00", 600001, 600003))
        return
    if not 1 <= args.customers <= 100 or args.posts < 1 or args.rounds < 1:
        parser.error("--customers must be 1–100, --posts and --rounds at least 1")

    with crm_run(args.timeout, args.database_url) as (database_url, tmp, server, control):
        port = free_port()
        env = {
            **crm_env(site_env(database_url, port), server, control.token()),
            "AMOCRM_WEBHOOK_SECRET": SECRET,
            "AMOCRM_ACCOUNT_SUBDOMAIN": SUBDOMAIN,
            "AMOCRM_ACCOUNT_ID": "",
        }
        prepare(env, timeout=args.timeout)
        manage(env, "amocrm_setup_fields", timeout=60)
        django_setup(env)
        customers, sum_field, address_field = create_linked_customers(args.customers)
        stamp = int(time.time())  # last_modified: one second later for every body sent
        hooks, health, hook_times, health_times, propagation, round_posts = (
            requests.Session(),
            requests.Session(),
            [],
            [],
            [],
            [],
        )
        with serving(env, port, tmp / "gunicorn.log") as (base_url, _):
            hook_url = f"{base_url}/amocrm/webhook/{SECRET}/"

            def next_body(number: int, total: str) -> str:
                nonlocal stamp
                stamp += 1
                _, lead_id = customers[number % len(customers)]
                return lead_body(lead_id, stamp, total, sum_field, address_field)

            # (a) the endpoint against /healthz, alternating, no worker
            for number in range(WARMUP):
                post_hook(hooks, hook_url, next_body(number, f"{5000 + number}.00"))
                timed_get(health, f"{base_url}/healthz")
            for number in range(args.posts):
                hook_times.append(post_hook(hooks, hook_url, next_body(number, f"{6000 + number}.00")))
                health_times.append(timed_get(health, f"{base_url}/healthz"))
            stored = event_counts()
            expected = WARMUP + args.posts
            if sum(stored.values()) != expected:
                raise SystemExit(f"expected {expected} stored events, found {stored}")

            # (b) webhook → new sum on /account/, with the worker
            requests_before = len(control.requests())
            with running(worker_args(interval="1"), env, tmp / "worker.log"):
                backlog_started = time.perf_counter()
                wait_until(
                    "the worker to apply the backlog of (a)",
                    lambda: not event_counts().get("received"),
                    timeout=120,
                    interval=0.2,
                )
                backlog = time.perf_counter() - backlog_started
                applied = event_counts()
                after_backlog = len(control.requests())
                sessions = [log_in(base_url, email) for email, _ in customers]
                for number in range(args.rounds):
                    time.sleep(random.random())
                    who = number % len(customers)
                    total = Decimal(20000 + number * 137) + Decimal("0.50")
                    text = shown_sum(total)
                    account = f"{base_url}/account/"
                    if text in page_text(sessions[who], account):
                        raise SystemExit(f"{text} is on the page before the webhook")
                    started = time.perf_counter()
                    round_posts.append(post_hook(hooks, hook_url, next_body(who, f"{total}")))
                    wait_until(
                        f"round {number}'s sum on /account/",
                        lambda s=sessions[who], t=text, u=account: t in page_text(s, u),
                        timeout=30,
                        interval=0.02,
                    )
                    propagation.append(time.perf_counter() - started)
            log = control.requests()
            echo_backlog = summarise(log[requests_before:after_backlog])
            echo_rounds = summarise(log[after_backlog:])
            final = event_counts()
        from django.db import connections

        connections.close_all()

    database = database_kind(args.database_url)
    load = load_average()
    print(f"\namoCRM webhook, {database}, gunicorn with gunicorn.conf.py, loopback")
    print(f"machine: {os.cpu_count()} CPUs, load average {load} (other work skews the milliseconds)")
    print(f"(a) {args.posts} webhook POSTs alternating with {args.posts} GET /healthz (no worker running)")
    floor = statistics.median(health_times)
    print(line("GET /healthz", health_times))
    print(line("POST webhook", hook_times, floor))
    print(
        f"    worst ÷ worst {max(hook_times) / max(health_times):.2f}, "
        f"p95 ÷ p95 {percentile(hook_times, 0.95) / percentile(health_times, 0.95):.2f}; "
        f"events stored: {sum(stored.values())} of {expected} POSTs (no duplicates)"
    )
    print(f"    the worker applied that backlog in {backlog:.1f} s: {applied}")
    print(f"(b) webhook raising a sum → new sum on /account/, db_worker --interval 1, {args.rounds} rounds")
    print(line("POST webhook", round_posts))
    print(
        f"    webhook → visible on /account/: median {statistics.median(propagation):.2f} s, "
        f"worst {max(propagation):.2f} s, best {min(propagation):.2f} s"
    )
    print(f"    events: {final}")
    print(f"    requests amoCRM (the stand-in) received while the backlog was applied: {echo_backlog}")
    print(f"    requests amoCRM (the stand-in) received during the {args.rounds} rounds: {echo_rounds}")


if __name__ == "__main__":
    main()
