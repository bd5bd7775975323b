"""Sign-in by code with a slow mail server: does the answer tell a customer from a stranger?

Run from the project root:

    .venv/bin/python -m benchmarks.code_request_timing [--smtp-ms 300] [--requests 30]

What it does, all on loopback and bounded by --timeout (180 s by default):

1. A mail server on 127.0.0.1 (tools/harness/smtp.py) that answers each SMTP command late, so that
   one email takes about --smtp-ms; the site's EMAIL_URL points at it.
2. A throwaway database, migrated; gunicorn as production runs it (2 workers); one customer signed
   up over HTTP.
3. For "before" (benchmarks.direct_mail_settings: the email sent inside the request) and "after"
   (the site as it is: the request writes the outbox row, the worker sends), --requests code
   requests for the customer's address and as many for unknown addresses, alternated, each in a
   new session (the CSRF GET is not timed); every POST must answer 302 to the code page.
4. "after" runs the task worker beside the site and waits until the mail server has the customer's
   codes: each exactly once (the welcome email of the signup is not counted).

Prints the medians and p95 per address kind and the known - unknown difference. No timing is
asserted; the machine's load is printed, since other work on it skews every figure.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import os
import statistics
import tempfile
import time
from pathlib import Path

import requests

from tools.harness.database import add_run_arguments, database_kind, throwaway_database
from tools.harness.figures import load_average, percentile
from tools.harness.processes import HarnessError, free_port, running, time_limit, wait_until
from tools.harness.site import (
    REQUEST_TIMEOUT,
    csrf_token,
    prepare,
    serving,
    signup,
    site_env,
    unique_email,
    worker_args,
)
from tools.harness.smtp import SmtpServer

SETTINGS = {"before": "benchmarks.direct_mail_settings", "after": "flower_account.settings"}
# Replies in one email's SMTP conversation: greeting, EHLO, MAIL, RCPT, DATA, end of data, QUIT.
REPLIES_PER_EMAIL = 7
CODE_SUBJECT = "код для входа"  # templates/account/email/login_code_subject.txt, in Russian


def is_code(data: bytes) -> bool:
    subject = email.message_from_bytes(data, policy=email.policy.default)["Subject"]
    return CODE_SUBJECT in str(subject)


def ask_code(base_url: str, address: str) -> float:
    """One code request in a new session; the time of the POST alone."""
    session = requests.Session()
    url = f"{base_url}/login/code/"
    data = {"csrfmiddlewaretoken": csrf_token(session, url), "email": address}
    started = time.perf_counter()
    response = session.post(url, data=data, allow_redirects=False, timeout=REQUEST_TIMEOUT)
    elapsed = time.perf_counter() - started
    if response.status_code != 302 or response.headers.get("Location") != "/login/code/confirm/":
        raise HarnessError(f"a code request for {address} answered {response.status_code}")
    return elapsed


def measure(name: str, database_url: str, smtp: SmtpServer, args, tmp: Path) -> dict[str, list[float]]:
    port = free_port()
    env = site_env(
        database_url, port, DJANGO_SETTINGS_MODULE=SETTINGS[name], EMAIL_URL=f"smtp://127.0.0.1:{smtp.port}"
    )
    known = unique_email(f"code-{name}")
    timings: dict[str, list[float]] = {"known": [], "unknown": []}
    with serving(env, port, tmp / f"gunicorn-{name}.log") as (base_url, _):
        signup(base_url, known)
        ask_code(base_url, unique_email("warmup"))
        ask_code(base_url, known)  # warm both paths; its email is not counted below
        for number in range(args.requests):
            timings["known"].append(ask_code(base_url, known))
            timings["unknown"].append(ask_code(base_url, unique_email(f"stranger-{number}")))
        if name == "after":
            expected = args.requests + 1

            def codes() -> int:
                # Sign-in codes only: the customer also gets the welcome email of the signup.
                return sum(1 for r in smtp.received if r.recipients == [f"<{known}>"] and is_code(r.data))

            with running(worker_args(), env, tmp / "worker.log"):
                wait_until("the worker to send every code", lambda: codes() >= expected, args.timeout / 2)
                time.sleep(2)  # long enough for a double to show up
            timings["delivered"] = [codes() - expected]
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--smtp-ms", type=float, default=300, help="one email's time at the mail server (300)"
    )
    parser.add_argument("--requests", type=int, default=30, help="code requests per address kind (30)")
    add_run_arguments(parser, timeout=180)
    args = parser.parse_args()

    results = {}
    with (
        time_limit(args.timeout),
        throwaway_database(args.database_url, many_writers=True) as database_url,
        tempfile.TemporaryDirectory() as tmp,
        SmtpServer(mode="slow", delay=args.smtp_ms / 1000 / REPLIES_PER_EMAIL) as smtp,
    ):
        prepare(site_env(database_url, free_port()), timeout=args.timeout)
        for name in SETTINGS:
            results[name] = measure(name, database_url, smtp, args, Path(tmp))

    print(f"\nFlower Account, code sign-in timing, {database_kind(args.database_url)}, gunicorn 2 workers")
    print(
        f"mail server on 127.0.0.1 taking {args.smtp_ms:.0f} ms an email; {args.requests} requests per kind"
    )
    print(f"machine: {os.cpu_count()} CPUs, load average {load_average()} (other work skews the figures)")
    print(f"{'':<8}{'known ms':>10}{'p95':>8}{'unknown ms':>12}{'p95':>8}{'difference ms':>15}")
    for name, timings in results.items():
        known, unknown = statistics.median(timings["known"]), statistics.median(timings["unknown"])
        print(
            f"{name:<8}{known * 1000:>10.1f}{percentile(timings['known'], 0.95) * 1000:>8.1f}"
            f"{unknown * 1000:>12.1f}{percentile(timings['unknown'], 0.95) * 1000:>8.1f}"
            f"{(known - unknown) * 1000:>15.1f}"
        )
    print(f"after: the worker sent every code once (extra emails: {results['after']['delivered'][0]})")


if __name__ == "__main__":
    main()
