"""Faults, one at a time, under customers signing up and logging in: what clients saw, how long until
things worked again, and whether any lead was lost or doubled.

    python -m benchmarks.faults [--outage 60] [--timeout 900]

The stack is production's, on 127.0.0.1 only: gunicorn (2 workers, DEBUG off), `db_worker`, the
amoCRM stand-in connected the real way, a private PostgreSQL cluster (initdb in a temporary
directory: it is restarted) and a private redis-server (stopped, then frozen with SIGSTOP: it accepts
connections and never answers). Rate limits count in that Redis, as in production.

Clients: one signup and one login (of a customer signed up before) every `--pace` seconds, through
the forms; a client error is any answer but the expected redirect, or no answer in 15 s. "Recovered"
is the time from the end of the fault to the first good answer after the last error (0 s: none).
The amoCRM outage (every API call answers 503 for `--outage` s) is measured differently: from its
end until every customer has a lead. At the end each customer's email is looked up among the
stand-in's leads: none is "lost", two or more is "doubled".

SMTP down is not measured here: this branch has no mail outbox (issue 23 item 1 adds it).
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tools.harness.crm import field_value
from tools.harness.figures import load_average
from tools.harness.processes import HarnessError, time_limit, wait_until
from tools.harness.services import PostgresCluster, RedisServer
from tools.harness.site import PASSWORD, REQUEST_TIMEOUT, csrf_token, signup_data, unique_email
from tools.harness.stack import Stack


@dataclass
class Traffic:
    """Customers signing up and logging in, in a thread, every `pace` seconds, until stopped."""

    base_url: str
    pace: float
    signed_up: list[str] = field(default_factory=list)
    answers: list[tuple[float, bool, str]] = field(default_factory=list)  # (time, good, what)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> Traffic:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2 * REQUEST_TIMEOUT + 5)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self._post("signup", self._sign_up)
            if self.signed_up:
                self._post("login", self._log_in)
            self._stop.wait(max(0.0, self.pace - (time.monotonic() - started)))

    def _post(self, what: str, action) -> None:
        try:
            good, detail = action()
        except requests.RequestException as error:
            good, detail = False, type(error).__name__
        except HarnessError:  # the form's page itself failed
            good, detail = False, "form page 5xx"
        self.answers.append((time.monotonic(), good, f"{what}: {detail}"))

    def _form(self, path: str, data: dict[str, str]) -> requests.Response:
        session = requests.Session()
        token = csrf_token(session, f"{self.base_url}{path}")
        return session.post(
            f"{self.base_url}{path}",
            data={"csrfmiddlewaretoken": token, **data},
            allow_redirects=False,
            timeout=REQUEST_TIMEOUT,
        )

    def _sign_up(self) -> tuple[bool, str]:
        email = unique_email("fault")
        response = self._form("/signup/", signup_data(email))
        if response.status_code == 302 and response.headers.get("Location") == "/account/":
            self.signed_up.append(email)
            return True, "302"
        return False, str(response.status_code)

    def _log_in(self) -> tuple[bool, str]:
        response = self._form("/login/", {"login": self.signed_up[0], "password": PASSWORD})
        return response.status_code == 302, str(response.status_code)

    def errors_between(self, start: float, end: float) -> list[str]:
        return [what for at, good, what in self.answers if start <= at <= end and not good]

    def recovered_after(self, fault_end: float, window_start: float) -> float | None:
        """Seconds from `fault_end` to the first good answer after the window's last error."""
        bad = [at for at, good, _ in self.answers if at >= window_start and not good]
        if not bad:
            return 0.0
        later = [at for at, good, _ in self.answers if good and at > bad[-1]]
        return max(0.0, later[0] - fault_end) if later else None


@dataclass
class Row:
    fault: str
    errors: list[str]
    recovered_s: float | None
    note: str = ""


def lead_counts(stack: Stack, emails: list[str]) -> tuple[int, int]:
    """(lost, doubled) among `emails`, by the FA_EMAIL of the stand-in's leads."""
    per_email = Counter(field_value(lead, "FA_EMAIL") for lead in stack.control.leads())
    lost = sum(1 for email in emails if per_email[email] == 0)
    doubled = sum(1 for email in emails if per_email[email] > 1)
    return lost, doubled


def all_leads_in(stack: Stack, emails: list[str]) -> bool:
    return lead_counts(stack, emails)[0] == 0


def fault_window(traffic: Traffic, name: str, inject, heal, *, hold: float, after: float) -> Row:
    start = time.monotonic()
    inject()
    time.sleep(hold)
    heal()
    end = time.monotonic()
    time.sleep(after)
    return Row(name, traffic.errors_between(start, time.monotonic()), traffic.recovered_after(end, start))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outage", type=int, default=60, help="seconds amoCRM answers 503 (60)")
    parser.add_argument("--hold", type=float, default=15, help="seconds each other fault lasts (15)")
    # 4 s: 15 signups a minute from 127.0.0.1, under ACCOUNT_RATE_LIMITS' 20/m per address
    parser.add_argument("--pace", type=float, default=4.0, help="seconds between two signups (4)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds for the whole run (900)")
    parser.add_argument("--logs", type=Path, help="copy the site's, worker's and servers' logs here")
    args = parser.parse_args()

    with time_limit(args.timeout), tempfile.TemporaryDirectory(prefix="flower-faults-") as tmp:
        workdir = Path(tmp)
        postgres = PostgresCluster(workdir / "postgres")
        redis = RedisServer(workdir / "redis")
        stack = None
        try:
            postgres.start()
            redis.start()
            stack = Stack(
                postgres.url,
                workdir=workdir,
                env={
                    "CACHE_URL": redis.url,
                    "CONN_MAX_AGE": "60",
                    # production's breaker, not the stand-in runs' 5 s
                    "AMOCRM_BREAKER_COOLDOWN": "300",
                    "LOG_LEVEL": "WARNING",
                },
            ).start()
            rows = run_faults(stack, postgres, redis, args)
            emails, lost, doubled = rows.pop()
        finally:
            if stack is not None:
                stack.stop()
            redis.stop()
            postgres.stop()
            if args.logs:
                args.logs.mkdir(parents=True, exist_ok=True)
                for log in workdir.rglob("*.log"):
                    shutil.copy(log, args.logs / log.name)
    print_table(rows, args)
    print(f"customers signed up: {len(emails)}; leads lost: {lost}; leads doubled: {doubled}")


def run_faults(stack: Stack, postgres: PostgresCluster, redis: RedisServer, args: argparse.Namespace) -> list:
    traffic = Traffic(stack.site_url, args.pace).start()
    rows: list = []
    try:
        time.sleep(2 * args.pace)  # a few customers first
        rows.append(Row("SMTP down", [], None, "skipped: no mail outbox on this branch"))
        rows.append(
            fault_window(
                traffic, "PostgreSQL restart", postgres.restart, lambda: None, hold=0, after=args.hold
            )
        )
        if stack.exited():
            raise HarnessError(f"{stack.exited()} exited after the PostgreSQL restart:\n{stack.logs()}")
        rows.append(fault_window(traffic, "Redis stopped", redis.stop, redis.start, hold=args.hold, after=5))
        rows.append(fault_window(traffic, "Redis hung", redis.freeze, redis.thaw, hold=args.hold, after=5))
        rows.append(amocrm_outage(stack, traffic, args.outage))
    finally:
        traffic.stop()
    with contextlib.suppress(HarnessError):  # what never arrives is reported as lost
        wait_until("every customer's lead", lambda: all_leads_in(stack, traffic.signed_up), 300, 2)
    rows.append((traffic.signed_up, *lead_counts(stack, traffic.signed_up)))
    return rows


def amocrm_outage(stack: Stack, traffic: Traffic, outage: int) -> Row:
    start = time.monotonic()
    stack.control("POST", "failures", {"status": 503, "count": 1_000_000, "path": "/api/v4/"})
    time.sleep(outage)
    stack.control("DELETE", "failures")
    end = time.monotonic()
    waiting = list(traffic.signed_up)
    try:
        wait_until("the leads of the outage", lambda: all_leads_in(stack, waiting), 600, 1)
        caught_up = time.monotonic() - end
    except HarnessError:
        caught_up = None
    errors = traffic.errors_between(start, time.monotonic())
    return Row(f"amoCRM {outage} s outage", errors, caught_up, "recovered = every lead in amoCRM")


def print_table(rows: list[Row], args: argparse.Namespace) -> None:
    print(f"benchmarks.faults: a signup and a login every {args.pace} s; faults held {args.hold} s")
    print(f"load average (1, 5, 15 min) after the run: {load_average()}")
    print(f"{'fault':<22} {'client errors':>13} {'recovered':>10}  details")
    for row in rows:
        recovered = "—" if row.recovered_s is None else f"{row.recovered_s:.1f} s"
        kinds = ", ".join(f"{n}× {what}" for what, n in Counter(row.errors).most_common(3))
        details = "; ".join(filter(None, [row.note, kinds]))
        print(f"{row.fault:<22} {len(row.errors):>13} {recovered:>10}  {details}")


if __name__ == "__main__":
    main()
