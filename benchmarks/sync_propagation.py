"""From a preference save to the lead updated in amoCRM, with the worker running (target median ≤ 2 s).

Run from the project root:

    .venv/bin/python benchmarks/sync_propagation.py [--saves 20] [--interval 1] [--database-url URL]

One throwaway database (site_latency.py's), `migrate` + `collectstatic`, the amoCRM stand-in in
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
from datetime import date, timedelta

from _harness import (
    REQUEST_TIMEOUT,
    background,
    crm_env,
    crm_run,
    csrf_token,
    database_kind,
    field_value,
    free_port,
    manage,
    ms,
    prepare,
    serving,
    signup,
    signup_email,
    site_env,
    wait_until,
)


def preferences(wishes: str) -> dict[str, str]:
    return {
        "bouquet_category": "seasonal",
        "delivery_address": "Москва, ул. Цветочная, д. 1, кв. 2",
        "next_delivery_date": (date.today() + timedelta(days=7)).isoformat(),  # noqa: DTZ011
        "delivery_interval": "biweekly",
        "wishes": wishes,
        "phone": "",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=20, help="timed preference saves (20)")
    parser.add_argument("--interval", default="1", help="db_worker --interval, seconds (1, the default)")
    parser.add_argument("--database-url", help="a PostgreSQL database to create, use and drop")
    parser.add_argument("--timeout", type=int, default=240, help="seconds for the whole run (240)")
    args = parser.parse_args()

    with crm_run(args.timeout, args.database_url) as (database_url, tmp, server, control):
        port = free_port()
        env = crm_env(site_env(database_url, port), server, control.token(), rate_limit=7)
        prepare(env, timeout=args.timeout)
        manage(env, "amocrm_setup_fields", timeout=60)
        worker_args = ("db_worker", "--no-reload", "--no-startup-delay", "--interval", args.interval)
        post_times, propagation = [], []
        with (
            serving(env, port, tmp / "gunicorn.log") as (base_url, _),
            background(env, tmp / "worker.log", *worker_args),
        ):
            run_id = uuid.uuid4().hex[:8]
            _, session = signup(base_url, run_id, 0)
            email = signup_email(run_id, 0)
            lead = wait_until(
                "the customer's lead",
                lambda: next((le for le in control.leads() if field_value(le, "FA_EMAIL") == email), None),
                timeout=30,
            )
            for number in range(args.saves):
                time.sleep(random.random())
                token = csrf_token(session, f"{base_url}/account/preferences/")
                wishes = f"Пионы, раунд {number} ({uuid.uuid4().hex[:6]})"
                started = time.perf_counter()
                response = session.post(
                    f"{base_url}/account/preferences/",
                    data={"csrfmiddlewaretoken": token, **preferences(wishes)},
                    allow_redirects=False,
                    timeout=REQUEST_TIMEOUT,
                )
                post_times.append(time.perf_counter() - started)
                assert response.status_code == 302, f"preferences answered {response.status_code}"
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
