"""Signup latency with amoCRM answering in 3 s versus with the CRM disabled (target ratio ≤ 1.10).

Run from the project root:

    .venv/bin/python -m benchmarks.sync_signup_latency [--signups 30] [--database-url URL]

One throwaway database (tools/harness's: a temporary SQLite file, or the named PostgreSQL
database, created and dropped), `migrate` + `collectstatic`, the amoCRM stand-in in this process
(7 requests/second, our fields set up through `manage.py amocrm_setup_fields`, then told to answer
every API call after 3 s), and two gunicorns on the same database with the harness's
production-like environment: one with the integration on (AMOCRM_BASE_URL = the stand-in, a
long-lived token), one with it off. After warm-up signups on both, the timed signups alternate
between the two servers (so load from other jobs hits both alike); only the POST is timed, as in
site_latency.py. It prints the median and p95 of each and the ratio of the medians.

It also checks that no request reached the stand-in during the signups (a signup only records the
pending sync and enqueues a task), then sets the latency back to 0 and runs `manage.py db_worker
--batch` to show the leads arrive once a worker runs. No timing is asserted.
"""

from __future__ import annotations

import argparse
import statistics

from tools.harness.crm import crm_env, crm_run, field_value, no_crm_env
from tools.harness.database import add_run_arguments, database_kind
from tools.harness.figures import ms
from tools.harness.processes import free_port
from tools.harness.site import manage, prepare, serving, signup, site_env, unique_email, worker_command

LATENCY = 3.0  # seconds before the stand-in answers any API call
WARMUP = 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signups", type=int, default=30, help="timed signups per case (30)")
    add_run_arguments(parser, timeout=240)
    args = parser.parse_args()

    with crm_run(args.timeout, args.database_url) as (database_url, tmp, server, control):
        token = control.token()
        port_on, port_off = free_port(), free_port()
        env_on = crm_env(site_env(database_url, port_on), server, token)
        env_off = no_crm_env(site_env(database_url, port_off))
        prepare(env_off, timeout=args.timeout)
        manage(env_on, "amocrm_setup_fields", timeout=60)
        control("DELETE", "requests")
        control.settings(latency=LATENCY)

        timings: dict[str, list[float]] = {"on": [], "off": []}
        with (
            serving(env_on, port_on, tmp / "on.log") as (url_on, _),
            serving(env_off, port_off, tmp / "off.log") as (url_off, _),
        ):
            for _ in range(WARMUP):
                signup(url_on, unique_email("on-warmup"))
                signup(url_off, unique_email("off-warmup"))
            for _ in range(args.signups):
                timings["on"].append(signup(url_on, unique_email("on"))[0])
                timings["off"].append(signup(url_off, unique_email("off"))[0])
        api_calls = control.requests()

        control.settings(latency=0)
        manage(env_on, *worker_command(None), timeout=120)
        leads = control.leads()

    on, off = statistics.median(timings["on"]), statistics.median(timings["off"])
    database = database_kind(args.database_url)
    print(
        f"\nSignup latency, {database}, {args.signups} signups each, alternating, "
        "gunicorn as in site_latency.py"
    )
    print(f"CRM enabled, stand-in answering in {LATENCY:.0f} s: {ms(timings['on'])}")
    print(f"CRM disabled:                          {ms(timings['off'])}")
    print(f"ratio of medians (enabled ÷ disabled): {on / off:.2f}  (target ≤ 1.10)")
    print(f"requests that reached the stand-in during the signups: {len(api_calls)}")
    # Both servers share the database, and a sync task takes every pending row with its own
    # (outbox.lead_sync_batch): the CRM-off server's customers get their leads too.
    emails = [field_value(lead, "FA_EMAIL") or "" for lead in leads]
    print(
        f"after `db_worker --batch` (latency back to 0): {sum(e.startswith('on') for e in emails)} leads "
        f"in the stand-in for the {WARMUP + args.signups} signups made with the CRM enabled (and "
        f"{sum(e.startswith('off') for e in emails)} for those made with it off: same database)"
    )


if __name__ == "__main__":
    main()
