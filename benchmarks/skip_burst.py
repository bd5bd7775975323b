"""One customer's burst of skip/un-skip posts: how many the site answers 429, how many notes reach the
lead in amoCRM and how many amoCRM calls the burst costs (issue 26: 80 posts made 80 notes, 16 calls).

Run from the project root:

    .venv/bin/python -m benchmarks.skip_burst [--posts 80] [--rate 10/m/user,60/h/user] [--database-url URL]

One throwaway database (tools/harness's), `migrate` + `collectstatic`, the amoCRM stand-in in this
process at 7 requests/second, our fields set up, gunicorn with the integration on and
`manage.py db_worker` beside it. One customer signs up; once the lead exists (and the signup's
calls are done), the customer POSTs `--posts` alternating skips and un-skips of their last planned
delivery as fast as one session goes (about 2 s for 80), with ACCOUNT_ACTION_RATE_LIMIT=`--rate`
(pass a huge rate such as 100000/m/user to see the notes' collapse alone). Then it waits until the
stand-in has received nothing for 5 s (the worker has sent everything) and counts the lead's
delivery notes and the API requests received since the burst began. No timing is asserted.
"""

from __future__ import annotations

import argparse
import collections
import re
import time

import requests

from tools.harness.crm import crm_env, crm_run
from tools.harness.database import add_run_arguments, database_kind
from tools.harness.processes import free_port, running, wait_until
from tools.harness.site import (
    csrf_token,
    manage,
    prepare,
    serving,
    signup,
    site_env,
    unique_email,
    worker_args,
)

QUIET = 5.0  # seconds without a request to the stand-in: the worker has sent everything


def settled(control) -> int:
    """The stand-in's request count once it has stayed the same for QUIET seconds."""
    count, since = len(control.requests()), time.monotonic()
    while time.monotonic() - since < QUIET:
        time.sleep(0.5)
        now = len(control.requests())
        if now != count:
            count, since = now, time.monotonic()
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=80, help="skip/un-skip posts in the burst (80)")
    parser.add_argument(
        "--rate", default="10/m/user,60/h/user", help="ACCOUNT_ACTION_RATE_LIMIT (the default)"
    )
    add_run_arguments(parser, timeout=300)
    args = parser.parse_args()

    with crm_run(args.timeout, args.database_url) as (database_url, tmp, server, control):
        port = free_port()
        # A cache the gunicorn workers share (production's is Redis), so they count one customer once.
        site = site_env(
            database_url,
            port,
            count_rate_limits=True,
            CACHE_URL=f"filecache://{tmp / 'cache'}",
            ACCOUNT_ACTION_RATE_LIMIT=args.rate,
        )
        env = crm_env(site, server, control.token())
        prepare(env, timeout=args.timeout)
        manage(env, "amocrm_setup_fields", timeout=60)
        with (
            serving(env, port, tmp / "gunicorn.log") as (base_url, _),
            running(worker_args("1"), env, tmp / "worker.log"),
        ):
            email = unique_email("burst")
            _, session = signup(base_url, email)
            lead = wait_until("the customer's lead", lambda: control.lead_of(email), timeout=30)
            before = settled(control)
            page = session.get(f"{base_url}/account/", timeout=10).text
            delivery = re.findall(r'action="/account/deliveries/(\d+)/skip/"', page)[-1]
            token = csrf_token(session, f"{base_url}/account/")
            statuses: collections.Counter[int] = collections.Counter()
            first_429 = None
            started = time.perf_counter()
            for number in range(args.posts):
                action = "skip" if number % 2 == 0 else "unskip"
                response = session.post(
                    f"{base_url}/account/deliveries/{delivery}/{action}/",
                    data={"csrfmiddlewaretoken": token},
                    allow_redirects=False,
                    timeout=10,
                )
                statuses[response.status_code] += 1
                if response.status_code == requests.codes.too_many_requests and first_429 is None:
                    first_429 = number + 1
            burst = time.perf_counter() - started
            after = settled(control)
            notes = control("GET", f"leads/{lead['id']}/notes")["notes"]

    delivery_notes = [n for n in notes if "доставку" in str((n.get("params") or {}).get("text", ""))]
    database = database_kind(args.database_url)
    print(f"\n{args.posts} skip/un-skip posts of one delivery by one customer, {database}")
    print(f"ACCOUNT_ACTION_RATE_LIMIT={args.rate}; stand-in and our limiter at 7 requests/second")
    print(
        f"burst: {burst:.2f} s; answers: " + ", ".join(f"{code}×{n}" for code, n in sorted(statuses.items()))
    )
    print(f"first 429 at post {first_429}" if first_429 else "no 429")
    print(f"delivery notes on the lead: {len(delivery_notes)}")
    print(f"amoCRM requests caused by the burst: {after - before}")


if __name__ == "__main__":
    main()
