"""A bulk resync of 1,000 profiles through the stand-in at amoCRM's 7 requests/second: requests and time.

Run from the project root:

    .venv/bin/python -m benchmarks.sync_bulk_resync [--profiles 1000] [--contacts 500] [--database-url URL]
    .venv/bin/python -m benchmarks.sync_bulk_resync --profiles 10000 --first-sync-only

One throwaway database (tools/harness's) and `migrate`; the amoCRM stand-in in this process at
its real limit (7 requests/second, 429 above it) and our deployment-wide limiter at
AMOCRM_RATE_LIMIT=7. Our fields are set up first (`manage.py amocrm_setup_fields`, counted on its
own: a one-off step whose ids the resync reads from our database). The profiles are bulk-inserted
through the ORM (no signals, no password hashing: their sync state is "never recorded", which
`amocrm_resync` selects). The account already holds `--contacts` contacts, a fifth of them our
customers' (their emails in upper case: matching ignores case), added before counting starts.
Then the runs, each counted from the stand-in's request log:

1. `manage.py amocrm_resync --now`: every profile is new to amoCRM (a first sync, an import).
   The account's contacts are listed once (250 a page) and matched by email here, then one
   leads/complex call per 50 leads links the known contacts by id and creates the rest.
2. The same command again: everything is synced, nothing is sent.
3. `manage.py amocrm_resync --all --now`: every profile has its lead: one PATCH per 50 leads.
4. The same through the worker: `manage.py amocrm_resync --all` (queued) + `manage.py db_worker
   --batch`.

Wall time is the subprocess's (Django start-up included) and the span between the first and the
last request the stand-in received. With a long-lived token no token request is made; the field
ids come from our database, so a resync makes no field look-up. No timing is asserted.
"""

from __future__ import annotations

import argparse
import collections
import math
import time
from collections.abc import Sequence
from datetime import date, timedelta

import requests

from tools.harness.crm import Control, crm_env, crm_run, no_crm_env
from tools.harness.database import add_run_arguments, database_kind
from tools.harness.inprocess import bulk_customers, django_setup
from tools.harness.processes import free_port
from tools.harness.site import manage, prepare, site_env, worker_command


def insert_profiles(env: dict[str, str], count: int) -> None:
    """`count` customers with profiles, straight into the database (the integration off here)."""
    django_setup(no_crm_env(env))
    from django.db import connections, transaction

    with transaction.atomic():
        bulk_customers("bulk", count, date.today() + timedelta(days=7))  # noqa: DTZ011
    connections.close_all()


def add_contacts(base_url: str, token: str, count: int, matching: int) -> None:
    """`count` contacts already in the account, the first `matching` of them our customers' (their
    emails, in other case: matching is case-insensitive); the rest other people's."""
    contacts = [
        {
            "name": f"Контакт {n}",
            "custom_fields_values": [
                {
                    "field_code": "EMAIL",
                    "values": [
                        {
                            "value": f"BULK-{n}@example.com" if n < matching else f"someone-{n}@example.net",
                            "enum_code": "WORK",
                        }
                    ],
                }
            ],
        }
        for n in range(count)
    ]
    for start in range(0, count, 250):
        response = requests.post(
            f"{base_url}/api/v4/contacts",
            json=contacts[start : start + 250],
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        response.raise_for_status()
        time.sleep(0.2)  # under the stand-in's 7 requests/second


def counted(control: Control, since: int, started: float, finished: float, output: str) -> dict:
    calls = control.requests()[since:]
    kinds = collections.Counter(f"{r['method']} {r['path']}" for r in calls)
    statuses = collections.Counter(r["status"] for r in calls)
    span = calls[-1]["at"] - calls[0]["at"] if calls else 0.0
    return {
        "requests": len(calls),
        "kinds": dict(kinds),
        "statuses": dict(statuses),
        "wall": finished - started,
        "span": span,
        "output": output.strip(),
    }


def timed(control: Control, env: dict[str, str], *commands: Sequence[str]) -> dict:
    since = len(control.requests())
    started = time.monotonic()
    output = "\n".join(manage(env, *command, timeout=600) for command in commands)
    return counted(control, since, started, time.monotonic(), output)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=1000, help="profiles to resync (1000)")
    parser.add_argument(
        "--contacts",
        type=int,
        default=500,
        help="contacts already in the account, a fifth of them ours (500)",
    )
    parser.add_argument(
        "--first-sync-only", action="store_true", help="skip runs 3 and 4 (for 10,000 profiles)"
    )
    add_run_arguments(parser, timeout=600)
    args = parser.parse_args()

    with crm_run(args.timeout, args.database_url) as (database_url, _, server, control):
        env = crm_env(site_env(database_url, free_port()), server, control.token())
        prepare(env, timeout=args.timeout, static=False)
        setup = timed(control, env, ("amocrm_setup_fields",))
        insert_profiles(env, args.profiles)
        matching = min(args.contacts // 5, args.profiles)
        add_contacts(server.base_url, control.token(), args.contacts, matching)
        new = timed(control, env, ("amocrm_resync", "--now"))
        again = timed(control, env, ("amocrm_resync", "--now"))
        runs = [
            ("1. no lead yet      (amocrm_resync --now)", new),
            ("2. the same again   (amocrm_resync --now)", again),
        ]
        if not args.first_sync_only:
            runs.append(
                (
                    "3. leads exist      (amocrm_resync --all --now)",
                    timed(control, env, ("amocrm_resync", "--all", "--now")),
                )
            )
            queued = timed(
                control,
                env,
                ("amocrm_resync", "--all"),
                worker_command(None),
            )
            runs.append(("4. leads exist, via the worker (amocrm_resync --all; db_worker --batch)", queued))
        leads = len(control.leads())
        contacts = len(control("GET", "contacts")["contacts"])
        too_fast = sum(1 for r in control.requests() if r["status"] == 429)

    database = database_kind(args.database_url)
    print(f"\nBulk resync of {args.profiles} profiles, {database}; stand-in and our limiter at 7 req/s")
    print(f"one-off field setup (amocrm_setup_fields): {setup['requests']} requests, {setup['wall']:.1f} s")
    print(
        f"the account already holds {args.contacts} contacts, {matching} of them our customers' "
        f"(target for run 1: ≤ 25 + {math.ceil(args.contacts / 250)} requests per 1,000 profiles, ≤ 30 s)"
    )
    for title, figures in runs:
        print(f"\n{title}")
        print(
            f"   {figures['requests']} HTTP requests; wall {figures['wall']:.1f} s "
            f"(first → last request {figures['span']:.1f} s); statuses {figures['statuses']}"
        )
        for kind, number in sorted(figures["kinds"].items()):
            print(f"     {number:>5}  {kind}")
        print(f"   command: {figures['output'].splitlines()[-1] if figures['output'] else '-'}")
    print(
        f"\nstand-in now holds {leads} leads and {contacts} contacts "
        f"({args.contacts} before + {args.profiles - matching} new: no duplicates if equal); "
        f"429 answers overall: {too_fast}"
    )


if __name__ == "__main__":
    main()
