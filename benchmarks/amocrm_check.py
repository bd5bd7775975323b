"""`manage.py amocrm_check` against the stand-in: the requests it makes and its run time when all is
well, when amoCRM has switched the webhook off, and when AMOCRM_STATUS_ID is the unsorted stage
(target: at most 6 requests when all is well).

Run from the project root:

    .venv/bin/python -m benchmarks.amocrm_check [--runs 3]

One throwaway database and the stand-in in this process (long-lived token, 7 requests/second). The
site is set up (`amocrm_setup_fields`, `amocrm_subscribe_webhook`) but not served: SITE_URL points at
a port nobody listens on, so every webhook the stand-in delivers fails, and 101 failed deliveries
switch the hook off as amoCRM does. Each scenario runs `manage.py amocrm_check` `--runs` times as a
process (as the timer does); the stand-in counts the requests of each run. The run time includes
the Python and Django start-up.
"""

from __future__ import annotations

import argparse
import statistics
import time

from tools.amocrm_standin.constants import FIRST_WORKING_STATUS, HOOK_OFF_FAILURES, PIPELINE_ID
from tools.harness.crm import WEBHOOK_SECRET, crm_env, crm_run
from tools.harness.database import add_run_arguments, database_kind
from tools.harness.processes import HarnessError, free_port
from tools.harness.site import manage, prepare, site_env

UNSORTED_STAGE = 60000001


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each scenario (3)")
    add_run_arguments(parser, timeout=600)
    args = parser.parse_args()

    with crm_run(args.timeout, args.database_url) as (database_url, _tmp, server, control):
        env = crm_env(site_env(database_url, free_port()), server, control.token())
        env.update(
            AMOCRM_WEBHOOK_SECRET=WEBHOOK_SECRET,
            AMOCRM_PIPELINE_ID=str(PIPELINE_ID),
            AMOCRM_STATUS_ID=str(FIRST_WORKING_STATUS),
            AMOCRM_STATUS_MAP="142:active,143:closed",
        )
        prepare(env, static=False)
        manage(env, "amocrm_setup_fields", timeout=60)
        manage(env, "amocrm_subscribe_webhook", timeout=60)

        def check(scenario_env: dict[str, str], *, before=None) -> tuple[list[str], float, bool]:
            """One run: the requests the stand-in received, seconds, whether it exited 0."""
            if before:
                before()
            control("DELETE", "requests")
            started = time.monotonic()
            try:
                manage(scenario_env, "amocrm_check", timeout=60)
                ok = True
            except HarnessError:
                ok = False
            seconds = time.monotonic() - started
            return [f"{r['method']} {r['path']}" for r in control.requests()], seconds, ok

        def switch_hook_off() -> None:
            for _ in range(HOOK_OFF_FAILURES + 1):
                server.deliver([("update_lead", {"id": 30000001})])

        scenarios = {
            "all is well": (env, None),
            "webhook switched off by amoCRM": (env, switch_hook_off),
            "AMOCRM_STATUS_ID = «Неразобранное»": ({**env, "AMOCRM_STATUS_ID": str(UNSORTED_STAGE)}, None),
        }
        results = {
            name: [check(scenario_env, before=before) for _ in range(args.runs)]
            for name, (scenario_env, before) in scenarios.items()
        }

    print(
        f"\nmanage.py amocrm_check against the stand-in, {database_kind(args.database_url)}, "
        f"{args.runs} runs each"
    )
    for name, runs in results.items():
        counts = sorted({len(paths) for paths, _, _ in runs})
        exits = sorted({"0" if ok else "1" for _, _, ok in runs})
        median = statistics.median(seconds for _, seconds, _ in runs)
        print(f"{name}: requests {'/'.join(map(str, counts))}, exit {'/'.join(exits)}, median {median:.2f} s")
        print(f"    {', '.join(runs[0][0])}")


if __name__ == "__main__":
    main()
