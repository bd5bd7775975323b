"""amoCRM blocks the account while customers keep changing things: how many calls reach it, and how
fast every change lands once the block is lifted (target: calls ≤ block ÷ cooldown + 2).

Run from the project root:

    .venv/bin/python -m benchmarks.amocrm_block [--customers 20] [--block 60] [--cooldown 6]

One throwaway database, the stand-in in this process (long-lived token, 7 requests/second), the
site under gunicorn and `manage.py db_worker --interval 0.5`, with AMOCRM_BREAKER_COOLDOWN set to
`--cooldown`. The customers sign up and their leads are created. Then the stand-in answers every
call with a 403 and nginx's HTML page (`blocked: "403"`) for `--block` seconds, while each customer
saves new wishes, spread over the block. The stand-in counts the calls it refused. The block is
then lifted and the clock runs until every lead holds its customer's new wishes; the leads are
counted (no duplicates). A 10-minute block at the default 300 s cooldown has the ratio of
`--block 60 --cooldown 30`; the default `--cooldown 6` probes five times as often, a harder test.
"""

from __future__ import annotations

import argparse
import time
import uuid

from tools.harness.crm import crm_env, crm_run, field_value
from tools.harness.database import add_run_arguments, database_kind
from tools.harness.processes import free_port, running, wait_until
from tools.harness.site import (
    manage,
    prepare,
    save_preferences,
    serving,
    signup,
    site_env,
    unique_email,
    worker_args,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20, help="customers changing during the block (20)")
    parser.add_argument("--block", type=float, default=60, help="seconds the account stays blocked (60)")
    parser.add_argument("--cooldown", type=int, default=6, help="AMOCRM_BREAKER_COOLDOWN, seconds (6)")
    add_run_arguments(parser, timeout=600)
    args = parser.parse_args()

    with crm_run(args.timeout, args.database_url) as (database_url, tmp, server, control):
        port = free_port()
        env = crm_env(site_env(database_url, port), server, control.token())
        env["AMOCRM_BREAKER_COOLDOWN"] = str(args.cooldown)
        prepare(env, timeout=args.timeout)
        manage(env, "amocrm_setup_fields", timeout=60)
        with (
            serving(env, port, tmp / "gunicorn.log") as (base_url, _),
            running(worker_args("0.5"), env, tmp / "worker.log"),
        ):
            customers = []
            for _ in range(args.customers):
                email = unique_email("block")
                customers.append((email, signup(base_url, email)[1]))
            leads = {
                email: wait_until(f"the lead of {email}", lambda e=email: control.lead_of(e), timeout=60)[
                    "id"
                ]
                for email, _ in customers
            }

            control.settings(blocked="403")
            started = time.monotonic()
            wanted = {}
            for number, (email, session) in enumerate(customers):
                wanted[email] = f"Пионы во время блокировки {number} ({uuid.uuid4().hex[:6]})"
                save_preferences(base_url, session, email, wishes=wanted[email])
                time.sleep(max(0.0, started + (number + 1) * args.block / args.customers - time.monotonic()))
            time.sleep(max(0.0, started + args.block - time.monotonic()))
            refused = control("GET", "state")["counts"]["blocked_calls"]
            control.settings(blocked=None)
            lifted = time.monotonic()

            def all_landed() -> bool:
                return all(
                    field_value(control("GET", f"leads/{leads[email]}"), "FA_WISHES") == wishes
                    for email, wishes in wanted.items()
                )

            wait_until(
                "every change in amoCRM after the block", all_landed, timeout=args.timeout, interval=0.25
            )
            drained = time.monotonic() - lifted
        lead_count = len(control.leads())

    bound = args.block / args.cooldown + 2
    print(
        f"\namoCRM blocked (403, HTML) for {args.block:.0f} s, {args.customers} customers changing, "
        f"{database_kind(args.database_url)}; AMOCRM_BREAKER_COOLDOWN={args.cooldown} s (a block waits 2×)"
    )
    print(
        f"calls amoCRM received during the block: {refused}  "
        f"(target ≤ {args.block:.0f} ÷ {args.cooldown} + 2 = {bound:.0f})"
    )
    print(f"block lifted → every change in amoCRM: {drained:.1f} s (probe due within {2 * args.cooldown} s)")
    print(f"leads in the stand-in: {lead_count} for {args.customers} customers (each change landed once)")


if __name__ == "__main__":
    main()
