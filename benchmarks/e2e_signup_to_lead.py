"""Time from clicking "Sign up" in Chromium to the lead existing in the amoCRM stand-in.

    .venv/bin/python -m benchmarks.e2e_signup_to_lead [--runs 10] [--database-url postgres://...]

Starts the same stack as the browser tests (tools.harness.stack.Stack: gunicorn with DEBUG off, the
`db_worker` worker polling every 0.2 s, the stand-in in this process) on a throwaway SQLite file,
or on a new PostgreSQL database named by --database-url (created, then dropped). Each run fills the
signup form in a fresh browser context, starts the clock at the click, and polls the stand-in's
control API every 20 ms until a lead carries the new email. Prints each time, the median and the
worst. Needs /usr/bin/chromium.
"""

import argparse
import functools
import statistics
import tempfile
import time
from pathlib import Path

from tools.harness.browser import DESKTOP, fill_signup, launch, lead_of, new_context, submit
from tools.harness.database import throwaway_database
from tools.harness.processes import HarnessError, wait_until
from tools.harness.site import signup_data, unique_email
from tools.harness.stack import Stack

TIMEOUT = 30.0  # seconds for one lead to appear


def measure(stack: Stack, browser, runs: int) -> list[float]:
    times = []
    for number in range(runs + 1):  # the first run warms the workers up and is not counted
        context = new_context(browser, stack.site_url, DESKTOP)
        page = context.new_page()
        data = signup_data(unique_email(f"bench{number}"))
        page.goto("/signup/")
        fill_signup(page, data)
        started = time.perf_counter()
        submit(page)
        lead = functools.partial(lead_of, stack, data["email"])
        wait_until(f"a lead for {data['email']}", lead, TIMEOUT, interval=0.02, details=stack.logs)
        elapsed = time.perf_counter() - started
        context.close()
        if number:
            times.append(elapsed)
            print(f"run {number:>2}: {elapsed * 1000:.0f} ms", flush=True)
    return times


def run(runs: int, database_url: str | None) -> list[float]:
    from playwright.sync_api import sync_playwright

    with (
        tempfile.TemporaryDirectory(prefix="flower-e2e-bench-") as tmp,
        throwaway_database(database_url, many_writers=True) as url,
    ):
        stack = Stack(url, workdir=Path(tmp))
        try:
            stack.start()
            with sync_playwright() as playwright:
                browser = launch(playwright)
                try:
                    return measure(stack, browser, runs)
                finally:
                    browser.close()
        finally:
            stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="timed signups, after one warm-up (10)")
    parser.add_argument("--database-url", help="a PostgreSQL URL to create and drop (SQLite by default)")
    args = parser.parse_args()
    try:
        times = run(args.runs, args.database_url)
    except HarnessError as e:
        raise SystemExit(str(e)) from None
    print(
        f"click → lead in the stand-in, {len(times)} runs: median {statistics.median(times) * 1000:.0f} ms, "
        f"worst {max(times) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
