"""How many requests amoCRM would see in any one second when several processes share the limiter.

    .venv/bin/python -m benchmarks.amocrm_ratelimit            # 4 processes x 100 requests, 7 rps
    .venv/bin/python -m benchmarks.amocrm_ratelimit --database-url postgres://postgres@127.0.0.1:5432/flower_bench
    # options: --processes 4 --requests 100 --rate 7 --timeout 180 (seconds for the whole run)

A stand-in for amoCRM (stdlib ThreadingHTTPServer on a free port of 127.0.0.1, in this process)
records when each request arrives, on one clock. Each worker is a separate Python process that
sends `--requests` GETs through the real AmoCRMClient and DatabaseRateLimiter, sharing one limiter
row in a temporary SQLite file (or the given database, which must exist; the limiter table is
created there if missing and each run uses its own limiter name). Prints the most requests that
arrived in any 1-second window (the target is at most --rate), the overall rate and the duration.
The whole run is bounded by --timeout: workers still running then are terminated.
"""

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import django

from tools.harness.figures import max_in_any_second
from tools.harness.inprocess import create_table
from tools.harness.processes import BASE_DIR, HarnessError, spawn, stop, wait_until

ME = [sys.executable, "-m", "benchmarks.amocrm_ratelimit"]


def worker(args: argparse.Namespace) -> None:
    django.setup()
    from amocrm.client import AmoCRMClient, StaticTokenSource
    from amocrm.ratelimit import DatabaseRateLimiter

    client = AmoCRMClient(
        base_url=args.base_url,
        tokens=StaticTokenSource("benchmark"),
        limiter=DatabaseRateLimiter(rate=args.rate, name=args.limiter_name),
        max_retries=0,
    )
    for _ in range(args.requests):
        client.lead_get(1)


def init_table() -> None:
    django.setup()
    from amocrm.models import RateLimit

    create_table(RateLimit)


def serve(arrivals: list[float]) -> ThreadingHTTPServer:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            with lock:
                arrivals.append(time.monotonic())
            body = json.dumps({"id": 1}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/hal+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args) -> None:  # noqa: A002 - the stdlib's signature
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--requests", type=int, default=100, help="requests per process")
    parser.add_argument("--rate", type=float, default=7, help="AMOCRM_RATE_LIMIT, requests per second")
    parser.add_argument("--database-url", default="", help="default: a temporary SQLite file")
    parser.add_argument("--timeout", type=float, default=180, help="seconds for the whole run")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--init", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--limiter-name", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return 0
    if args.init:
        init_table()
        return 0

    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "flower_account.settings",
            "SECRET_KEY": secrets.token_urlsafe(32),
            "DEBUG": "false",
            "LOG_LEVEL": "WARNING",
            "DATABASE_URL": args.database_url or f"sqlite:///{Path(tmp) / 'limiter.sqlite3'}",
        }
        subprocess.run([*ME, "--init"], env=env, cwd=BASE_DIR, check=True, timeout=60)
        arrivals: list[float] = []
        server = serve(arrivals)
        base_url = f"http://127.0.0.1:{server.server_address[1]}"
        name = f"bench-{secrets.token_hex(4)}"
        command = [*ME, "--worker", "--base-url", base_url, "--limiter-name", name]
        command += ["--requests", str(args.requests), "--rate", str(args.rate)]
        started = time.monotonic()
        workers = [spawn(command, env, name=f"worker {n}") for n in range(args.processes)]
        timed_out = False
        try:
            wait_until("the workers", lambda: all(p.poll() is not None for p in workers), args.timeout, 0.01)
        except HarnessError:
            timed_out = True
        finally:
            for process in workers:
                stop(process)
        elapsed = time.monotonic() - started
        server.shutdown()

    expected = args.processes * args.requests
    window = max_in_any_second(arrivals)
    span = (max(arrivals) - min(arrivals)) if len(arrivals) > 1 else 0.0
    print(f"processes={args.processes} requests_each={args.requests} rate_limit={args.rate}/s")
    print(f"database={'given' if args.database_url else 'temporary SQLite file'}")
    print(f"requests_seen={len(arrivals)}/{expected} duration_s={elapsed:.1f}")
    print(f"mean_rps={(len(arrivals) - 1) / span if span else 0:.2f}")
    print(f"max_requests_in_any_1s_window={window} (target <= {args.rate:g})")
    if timed_out:
        print(f"TIMED OUT after {args.timeout:.0f} s: workers were terminated")
    failed = [p.returncode for p in workers if p.returncode]
    return 1 if timed_out or failed or len(arrivals) != expected or window > args.rate else 0


if __name__ == "__main__":
    sys.exit(main())
