"""From a preference save to the lead updated in amoCRM, with the worker running (target median ≤ 2 s).

Run from the project root:

    .venv/bin/python -m benchmarks.sync_propagation [--saves 20] [--interval 1] [--database-url URL]

One throwaway database (tools/harness's), `migrate` + `collectstatic`, the amoCRM stand-in in
this process at amoCRM's 7 requests/second (our limiter at AMOCRM_RATE_LIMIT=7 too), our fields set
up through `manage.py amocrm_setup_fields`, gunicorn with the integration on, and
`manage.py db_worker --no-reload --interval <interval>` beside it (1 s is django-tasks-db's default
and the Procfile's). One customer signs up through the site; once the lead exists, each of the
`--saves` rounds POSTs /account/preferences/ with new wishes and polls the stand-in's control API
(every 20 ms) until the lead's wishes field holds them. The clock starts before the POST and stops
when the stand-in shows the value. Rounds are spaced by a random 0–1 s, so saves land at every
point of the worker's polling cycle. No timing is asserted.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid

from tools.harness.crm import crm_env, crm_run, field_value
from tools.harness.database import add_run_arguments, database_kind
from tools.harness.figures import ms
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
    parser.add_argument("--saves", type=int, default=20, help="timed preference saves (20)")
    parser.add_argument("--interval", default="1", help="db_worker --interval, seconds (1, the default)")
    add_run_arguments(parser, timeout=240)
    args = parser.parse_args()

    with crm_run(args.timeout, args.database_url) as (database_url, tmp, server, control):
        port = free_port()
        env = crm_env(site_env(database_url, port), server, control.token())
        prepare(env, timeout=args.timeout)
        manage(env, "amocrm_setup_fields", timeout=60)
        post_times, propagation = [], []
        with (
            serving(env, port, tmp / "gunicorn.log") as (base_url, _),
            running(worker_args(args.interval), env, tmp / "worker.log"),
        ):
            email = unique_email("bench")
            _, session = signup(base_url, email)
            lead = wait_until("the customer's lead", lambda: control.lead_of(email), timeout=30)
            for number in range(args.saves):
                time.sleep(random.random())
                wishes = f"Пионы, раунд {number} ({uuid.uuid4().hex[:6]})"
                post_times.append(save_preferences(base_url, session, email, wishes=wishes))
                started = time.perf_counter() - post_times[-1]  # when the POST left, as before
                wait_until(
                    f"save {number} to reach the lead",
                    lambda w=wishes: field_value(control("GET", f"leads/{lead['id']}"), "FA_WISHES") == w,
                    timeout=30,
                    interval=0.02,
                )
                propagation.append(time.perf_counter() - started)
        patches = [r for r in control.requests() if r["method"] == "PATCH"]

    database = database_kind(args.database_url)
    print(f"\nPreference save → lead updated in the stand-in, {database}, {args.saves} saves")
    print(f"db_worker --interval {args.interval}; stand-in and our limiter at 7 requests/second")
    print(f"POST /account/preferences/: {ms(post_times)}")
    print(
        f"save → lead updated: median {statistics.median(propagation):.2f} s, "
        f"worst {max(propagation):.2f} s, best {min(propagation):.2f} s  (target median ≤ 2 s)"
    )
    print(f"PATCH requests the stand-in received: {len(patches)} (one per save)")


if __name__ == "__main__":
    main()
