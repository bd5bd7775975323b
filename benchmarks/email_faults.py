"""The mail server fails while customers ask for sign-in codes: what do they see, and what arrives?

Run from the project root:

    .venv/bin/python -m benchmarks.email_faults [--customers 10] [--fault-seconds 20]

What it does, all on loopback and bounded by --timeout (600 s by default):

1. A throwaway database, migrated; gunicorn as production runs it (2 workers), the task worker
   (`db_worker`) and the outbox's sweep (`emails_send_due --every 5`), EMAIL_URL pointing at a port
   on 127.0.0.1 and EMAIL_TIMEOUT=2; --customers customers signed up over HTTP.
2. For each fault, one after the other:
   - refused: nothing listens on the mail port (connection refused at once);
   - hang: a server accepts connections on it and never says a word;
   for --fault-seconds every customer asks for a code once a second (each POST must answer 302 to
   the code page; anything else is an error seen by a client). Then a working mail server comes up
   on the same port, and the run waits until it has every code asked for.
3. Prints, per fault: code requests, errors seen by clients, the median answer, seconds from the
   server's return to the last code delivered, and codes lost or doubled (counted per recipient,
   3 s after the last one arrived).

Recovery is bounded by the outbox's backoff (15–30 s after the first failure, doubling): a longer
fault means a longer wait after it. No figure is asserted; the machine's load is printed.
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.code_request_timing import ask_code
from tools.harness.database import add_run_arguments, database_kind, throwaway_database
from tools.harness.figures import load_average
from tools.harness.processes import HarnessError, free_port, running, time_limit, wait_until
from tools.harness.site import manage_args, prepare, serving, signup, site_env, unique_email, worker_args
from tools.harness.smtp import SmtpServer

FAULTS = ("refused", "hang")


def run_fault(fault: str, base_url: str, mail_port: int, customers: list[str], args) -> dict:
    hanging = SmtpServer(mode="hang", port=mail_port) if fault == "hang" else None
    asked: collections.Counter[str] = collections.Counter()
    answers, errors = [], 0
    deadline = time.monotonic() + args.fault_seconds
    try:
        while time.monotonic() < deadline:
            started = time.monotonic()
            for address in customers:
                try:
                    answers.append(ask_code(base_url, address))
                    asked[address] += 1
                except (HarnessError, OSError):
                    errors += 1
            time.sleep(max(0.0, 1 - (time.monotonic() - started)))
    finally:
        if hanging is not None:
            hanging.close()
    with SmtpServer(port=mail_port) as server:
        back = time.monotonic()

        def delivered() -> collections.Counter[str]:
            return collections.Counter(r.recipients[0].strip("<>") for r in server.received)

        wait_until(
            f"every code asked for during the {fault} fault",
            lambda: all(delivered()[a] >= n for a, n in asked.items()),
            args.timeout / 3,
            interval=0.2,
        )
        recovered = time.monotonic() - back
        time.sleep(3)  # long enough for a double to show up
        got = delivered()
    return {
        "requests": sum(asked.values()) + errors,
        "errors": errors,
        "median_ms": statistics.median(answers) * 1000 if answers else float("nan"),
        "recovered_s": recovered,
        "lost": sum(max(0, n - got[a]) for a, n in asked.items()),
        "doubled": sum(max(0, got[a] - n) for a, n in asked.items()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10, help="customers asking for codes (10)")
    parser.add_argument("--fault-seconds", type=float, default=20, help="how long each fault lasts (20)")
    add_run_arguments(parser, timeout=600)
    args = parser.parse_args()

    mail_port = SmtpServer.refusing_port()
    port = free_port()
    results = {}
    with (
        time_limit(args.timeout),
        throwaway_database(args.database_url, many_writers=True) as database_url,
        tempfile.TemporaryDirectory() as tmp,
    ):
        env = site_env(database_url, port, EMAIL_URL=f"smtp://127.0.0.1:{mail_port}", EMAIL_TIMEOUT="2")
        prepare(env, timeout=args.timeout)
        logs = Path(tmp)
        with (
            serving(env, port, logs / "gunicorn.log") as (base_url, _),
            running(worker_args(), env, logs / "worker.log"),
            running(manage_args("emails_send_due", "--every", "5"), env, logs / "sweep.log"),
        ):
            customers = [unique_email(f"fault-{n}") for n in range(args.customers)]
            for address in customers:
                signup(base_url, address)
            for fault in FAULTS:
                results[fault] = run_fault(fault, base_url, mail_port, customers, args)

    print(
        f"\nFlower Account, the mail server failing, {database_kind(args.database_url)}, gunicorn 2 workers"
    )
    print(
        f"{args.customers} customers asking for a code every second for {args.fault_seconds:.0f} s per fault"
    )
    print(f"machine: {os.cpu_count()} CPUs, load average {load_average()} (other work skews the figures)")
    print(
        f"{'fault':<9}{'requests':>9}{'errors':>8}{'median ms':>11}{'recovered s':>13}"
        f"{'lost':>6}{'doubled':>9}"
    )
    for fault, r in results.items():
        print(
            f"{fault:<9}{r['requests']:>9}{r['errors']:>8}{r['median_ms']:>11.1f}{r['recovered_s']:>13.1f}"
            f"{r['lost']:>6}{r['doubled']:>9}"
        )


if __name__ == "__main__":
    main()
