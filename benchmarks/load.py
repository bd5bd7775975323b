"""Throughput under load: N concurrent clients for T seconds per page, gunicorn on PostgreSQL.

Run from the project root:

    .venv/bin/python -m benchmarks.load [--clients 20] [--duration 30]
        [--database-url postgres://postgres@127.0.0.1:5432/flower_load]
        [--extra-path POST:/amocrm/webhook/?secret=...:tests/fixtures/body.txt]

What it does, all on loopback and bounded by --timeout (300 s by default):

1. Creates the PostgreSQL database (refusing one that exists; dropped at the end), runs `migrate`
   and `collectstatic` with production-like settings (tools/harness's throwaway database and
   environment: DEBUG=false, a random SECRET_KEY, `CACHE_URL=dummycache://`) plus
   `CONN_MAX_AGE=60`, as the deploy notes recommend (`--conn-max-age` to change it).
2. Creates one customer (user + profile) per client through the ORM with the real settings, so
   with Argon2: that cost is paid here, once, not during the measurement.
3. Starts gunicorn with gunicorn.conf.py as production does (its workers, threads and timeouts;
   only --bind is given) on a free port of 127.0.0.1 and waits for /healthz.
4. For each target, after a short warm-up, runs N client threads (each a `requests.Session`) that
   send requests back to back until T seconds are up:
   - `GET /account/`: each client logged in as its own customer (logged in through /login/ once,
     before the clock starts); anything but a 200 is an error;
   - `GET /login/`: each client its own anonymous session; anything but a 200 is an error;
   - each `--extra-path METHOD:PATH[:BODYFILE]` (repeatable), anonymous, the body file's bytes
     sent as they are (`application/json` when it ends in .json, form-encoded otherwise), except
     that every `__SEQ__` in it becomes a number unique to the request (Unix time at start +
     a counter), so webhook bodies are not duplicates of each other;
     anything but a 2xx/3xx is an error.
5. Prints requests/second, p50/p95/p99 latency, the error count, and the CPU used during each
   target, as a share of the machine's capacity (seconds × cores), from /proc: gunicorn (master
   and workers, recycled workers included), this client process, the PostgreSQL backends of the
   benchmark's database (from pg_stat_activity), and "other" (the rest of the machine's busy time:
   other work running meanwhile skews the figures, so it is shown).
6. Always stops gunicorn and drops the database, also on failure or when --timeout runs out.

The client is Python threads: it takes CPU from the same two cores as the server, and its own
share is printed so that the figures can be read with that in mind. No figure is asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import statistics
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tools.harness.database import throwaway_database
from tools.harness.figures import load_average, percentile
from tools.harness.inprocess import create_customer, django_setup
from tools.harness.processes import free_port, time_limit
from tools.harness.site import GUNICORN_CONFIG, REQUEST_TIMEOUT, log_in, prepare, serving, site_env

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/flower_load"
WARMUP_SECONDS = 2
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# CPU FROM /proc
# ------------------------------------------------------------------------------
def _stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat from field 3 on (after the command name, which may hold spaces)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def _children(pid: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(child) for child in (task / "children").read_text().split()]
    return children


def gunicorn_cpu_seconds(master: int) -> float:
    """CPU of the master, its live workers, and its reaped workers (cutime/cstime)."""
    fields = _stat_fields(master)
    ticks = sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    for child in _children(master):
        with contextlib.suppress(FileNotFoundError):  # a worker recycled between the two reads
            ticks += sum(int(value) for value in _stat_fields(child)[11:13])
    return ticks / CLOCK_TICKS


def process_ticks(pid: int) -> int:
    try:
        return sum(int(value) for value in _stat_fields(pid)[11:13])
    except FileNotFoundError:
        return 0


def machine_busy_seconds() -> float:
    """CPU time of the whole machine, every process, all cores (/proc/stat, less idle and iowait)."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    return (sum(values) - values[3] - values[4]) / CLOCK_TICKS


class PostgresBackends:
    """CPU of the PostgreSQL backends serving the benchmark's database (pg_stat_activity's pids)."""

    def __init__(self, database_url: str) -> None:
        import psycopg

        self.conn = psycopg.connect(database_url, autocommit=True, connect_timeout=5)
        self.name = self.conn.info.dbname

    def ticks(self) -> dict[int, int]:
        rows = self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [self.name]
        ).fetchall()
        return {pid: process_ticks(pid) for (pid,) in rows}

    def close(self) -> None:
        self.conn.close()


def client_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


@dataclass
class CpuSnapshot:
    wall: float
    server: float
    client: float
    postgres: dict[int, int]
    machine: float

    @classmethod
    def take(cls, master: int, postgres: PostgresBackends) -> CpuSnapshot:
        return cls(
            time.monotonic(),
            gunicorn_cpu_seconds(master),
            client_cpu_seconds(),
            postgres.ticks(),
            machine_busy_seconds(),
        )

    def used_since(self, before: CpuSnapshot) -> dict[str, float]:
        """CPU seconds between two snapshots (a backend gone in between is not counted)."""
        used = {
            "gunicorn": self.server - before.server,
            "client": self.client - before.client,
            "postgres": sum(ticks - before.postgres.get(pid, 0) for pid, ticks in self.postgres.items())
            / CLOCK_TICKS,
        }
        used["other"] = max(0.0, self.machine - before.machine - sum(used.values()))
        return used


# TARGETS AND CLIENTS
# ------------------------------------------------------------------------------
@dataclass
class Target:
    name: str
    method: str
    path: str
    body: bytes | None = None
    content_type: str | None = None
    logged_in: bool = False
    expect_ok_only: bool = True  # only 200 counts as success; otherwise any 2xx/3xx


@dataclass
class Result:
    target: Target
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)


def parse_extra_path(value: str) -> Target:
    method, _, rest = value.partition(":")
    if not method or not rest.startswith("/"):
        raise argparse.ArgumentTypeError(
            "expected METHOD:PATH[:BODYFILE], e.g. POST:/amocrm/webhook/:body.txt"
        )
    path, _, body_file = rest.partition(":")
    body = Path(body_file).read_bytes() if body_file else None
    content_type = None
    if body is not None:
        content_type = (
            "application/json" if body_file.endswith(".json") else "application/x-www-form-urlencoded"
        )
    return Target(f"{method.upper()} {path}", method.upper(), path, body, content_type, expect_ok_only=False)


SEQUENCE = itertools.count(int(time.time()))  # __SEQ__ in a body: unique per request


def send(session: requests.Session, base_url: str, target: Target) -> tuple[float, int]:
    headers = {"Content-Type": target.content_type} if target.content_type else None
    body = target.body
    if body is not None and b"__SEQ__" in body:
        body = body.replace(b"__SEQ__", str(next(SEQUENCE)).encode())
    started = time.perf_counter()
    response = session.request(
        target.method,
        f"{base_url}{target.path}",
        data=body,
        headers=headers,
        allow_redirects=False,
        timeout=REQUEST_TIMEOUT,
    )
    return time.perf_counter() - started, response.status_code


def is_success(target: Target, status: int) -> bool:
    return status == 200 if target.expect_ok_only else 200 <= status < 400


def run_clients(
    base_url: str, target: Target, sessions: list[requests.Session], seconds: float, result: Result | None
) -> None:
    """Every session sends requests back to back in its own thread until `seconds` are up."""
    deadline = time.monotonic() + seconds
    lock = threading.Lock()

    def client(session: requests.Session) -> None:
        latencies, errors, samples = [], 0, []
        while time.monotonic() < deadline:
            try:
                elapsed, status = send(session, base_url, target)
            except requests.RequestException as error:
                errors += 1
                samples.append(type(error).__name__)
                continue
            if is_success(target, status):
                latencies.append(elapsed)
            else:
                errors += 1
                samples.append(str(status))
        if result is not None:
            with lock:
                result.latencies += latencies
                result.errors += errors
                result.error_samples += samples[:3]

    threads = [threading.Thread(target=client, args=(session,)) for session in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def measure(
    base_url: str,
    target: Target,
    sessions: list[requests.Session],
    seconds: float,
    master: int,
    postgres: PostgresBackends,
) -> Result:
    run_clients(base_url, target, sessions, WARMUP_SECONDS, None)
    result = Result(target)
    before = CpuSnapshot.take(master, postgres)
    run_clients(base_url, target, sessions, seconds, result)
    after = CpuSnapshot.take(master, postgres)
    result.seconds = after.wall - before.wall
    result.cpu = after.used_since(before)
    return result


# SET-UP
# ------------------------------------------------------------------------------
def create_customers(env: dict[str, str], count: int) -> list[str]:
    """One customer per client, through the ORM with the site's settings (Argon2 and all)."""
    django_setup(env)
    from django.db import connections

    run_id = uuid.uuid4().hex[:8]
    emails = []
    try:
        for number in range(count):
            emails.append(create_customer(f"load-{run_id}-{number}@example.ru").user.email)
    finally:
        connections.close_all()
    return emails


# REPORT
# ------------------------------------------------------------------------------
def report(results: list[Result], clients: int, workers: int) -> None:
    load = load_average()
    cores = os.cpu_count() or 1
    print(f"\nFlower Account under load: {clients} concurrent clients (Python threads), PostgreSQL, loopback")
    print(f"gunicorn with {GUNICORN_CONFIG.name}: {workers} workers; machine: {cores} CPUs, load {load}")
    print(
        f"{'target':<28}{'req/s':>8}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'errors':>8}"
        f"   CPU % of {cores} cores"
    )
    for result in results:
        values = result.latencies or [float("nan")]
        capacity = result.seconds * cores
        cpu = "  ".join(f"{name} {seconds / capacity * 100:.0f}%" for name, seconds in result.cpu.items())
        print(
            f"{result.target.name:<28}{len(result.latencies) / result.seconds:>8.1f}"
            f"{statistics.median(values) * 1000:>8.1f}{percentile(values, 0.95) * 1000:>8.1f}"
            f"{percentile(values, 0.99) * 1000:>8.1f}{result.errors:>8}   {cpu}"
        )
        if result.error_samples:
            print(f"{'':<28}errors, first few: {', '.join(result.error_samples[:10])}")
    print(
        "CPU: seconds used during the timed part ÷ (seconds × cores). gunicorn = master + workers; "
        "client = this process; postgres = the backends of the benchmark's database; other = the rest "
        "of the machine (other work running at the same time)."
    )


# MAIN
# ------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients (20)")
    parser.add_argument("--duration", type=float, default=30, help="seconds per target (30)")
    parser.add_argument(
        "--database-url",
        default=DEFAULT_DATABASE_URL,
        help=f"created, used, dropped ({DEFAULT_DATABASE_URL})",
    )
    parser.add_argument("--conn-max-age", default="60", help="CONN_MAX_AGE for the server (60)")
    parser.add_argument(
        "--extra-path",
        action="append",
        type=parse_extra_path,
        default=[],
        metavar="METHOD:PATH[:BODYFILE]",
        help="another target, anonymous (repeatable); 2xx/3xx is success",
    )
    parser.add_argument("--timeout", type=int, default=300, help="seconds for the whole run (300)")
    args = parser.parse_args()
    if not 1 <= args.clients <= 200 or not 0 < args.duration <= 300:
        parser.error("--clients must be 1–200 and --duration 0–300 s")
    targets = [
        Target("GET /account/ (logged in)", "GET", "/account/", logged_in=True),
        Target("GET /login/", "GET", "/login/"),
        *args.extra_path,
    ]

    with (
        time_limit(args.timeout),
        throwaway_database(args.database_url) as database_url,
        tempfile.TemporaryDirectory() as tmp,
    ):
        port = free_port()
        env = {**site_env(database_url, port), "CONN_MAX_AGE": args.conn_max_age}
        prepare(env, timeout=args.timeout)
        emails = create_customers(env, args.clients)
        # gunicorn as production runs it: gunicorn.conf.py decides workers, threads and timeouts.
        with serving(env, port, Path(tmp) / "gunicorn.log", workers=None, stop_timeout=25) as (
            base_url,
            process,
        ):
            results = []
            postgres = PostgresBackends(database_url)
            try:
                for target in targets:
                    if target.logged_in:
                        sessions = [log_in(base_url, email) for email in emails]
                    else:
                        sessions = [requests.Session() for _ in range(args.clients)]
                    results.append(measure(base_url, target, sessions, args.duration, process.pid, postgres))
            finally:
                postgres.close()
            workers = len(_children(process.pid))
        report(results, args.clients, workers)
        if any(result.errors for result in results):
            raise SystemExit("Some requests failed (see errors above).")


if __name__ == "__main__":
    main()
