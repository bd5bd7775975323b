"""amoCRM's admin switches the integration off while customers wait: how many requests reach amoCRM in
the next `--window` seconds, and how fast every change lands once staff reconnect.

Run from the project root:

    .venv/bin/python -m benchmarks.amocrm_uninstall [--customers 2] [--window 30]

The stack of the browser tests (tools.harness.stack.Stack: gunicorn, `db_worker --interval 0.2`, the
stand-in in this process), connected by OAuth as staff connect it. The customers sign up and their
leads are created. Then the stand-in's integration is uninstalled (every token revoked; a refresh is
answered 401 "Token has been revoked", as amoCRM answers) and each customer saves new wishes. The
stand-in counts the requests that reach it in the window (OAuth and API). Then staff reconnect
(`amocrm_connect --code`, a new consent) and the clock runs until every lead holds its new wishes.
Before issue 24 the site refreshed and retried for ever: 12 requests in 30 s with two customers.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path

from tools.harness.crm import field_value
from tools.harness.database import add_run_arguments, database_kind, throwaway_database
from tools.harness.processes import HarnessError, wait_until
from tools.harness.site import save_preferences, signup, unique_email
from tools.harness.stack import Stack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2, help="customers waiting after the uninstall (2)")
    parser.add_argument("--window", type=float, default=30, help="seconds requests are counted (30)")
    add_run_arguments(parser, timeout=300)
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory(prefix="flower-uninstall-") as tmp,
        throwaway_database(args.database_url, many_writers=True) as url,
    ):
        stack = Stack(url, workdir=Path(tmp))
        try:
            stack.start()
            measure(stack, args)
        except HarnessError as e:
            raise SystemExit(f"{e}\n{stack.logs()}") from None
        finally:
            stack.stop()


def measure(stack: Stack, args: argparse.Namespace) -> None:
    control, base_url = stack.control, stack.site_url
    customers = []
    for _ in range(args.customers):
        email = unique_email("uninstall")
        customers.append((email, signup(base_url, email)[1]))
    for email, _ in customers:
        wait_until(f"the lead of {email}", lambda e=email: control.lead_of(e), timeout=60, details=stack.logs)

    # amoCRM stamps changes in whole seconds, and a hook stamped in the same second as a customer's
    # save counts as newer (crm_changes): let the echo of the lead's creation be an older second.
    time.sleep(1.5)
    control("POST", "integration/uninstall")
    before = len(control.requests())
    started = time.monotonic()
    wanted = {}
    for number, (email, session) in enumerate(customers):
        wanted[email] = f"Тюльпаны после отключения {number} ({uuid.uuid4().hex[:6]})"
        save_preferences(base_url, session, email, wishes=wanted[email])
    time.sleep(max(0.0, started + args.window - time.monotonic()))
    sent = control.requests()[before:]

    code = control("POST", "codes")["code"]
    reconnected = time.monotonic()
    stack.manage("amocrm_connect", f"--code={code}")

    def all_landed() -> bool:
        return all(
            field_value(control.lead_of(email) or {}, "FA_WISHES") == wish for email, wish in wanted.items()
        )

    def details() -> str:
        found = {email: field_value(control.lead_of(email) or {}, "FA_WISHES") for email in wanted}
        return f"wanted {wanted}, amoCRM holds {found}\n{stack.logs()}"

    wait_until("every change after the reconnect", all_landed, timeout=120, interval=0.1, details=details)
    landed = time.monotonic() - reconnected
    print(f"database: {database_kind(args.database_url)}; customers waiting: {args.customers}")
    print(f"requests to amoCRM in {args.window:.0f} s after the uninstall: {len(sent)}")
    for request in sent:
        print(f"  {request['method']} {request['path']} → {request['status']}")
    print(f"every change in amoCRM {landed:.1f} s after the reconnect (amocrm_connect included)")


if __name__ == "__main__":
    main()
