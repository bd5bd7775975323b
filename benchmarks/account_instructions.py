"""Machine instructions of one GET /account/ and one GET /healthz, counted by valgrind (callgrind).

Run from the project root (Debian's valgrind; it is on the machine, not a project requirement):

    .venv/bin/python -m benchmarks.account_instructions [--requests 40]

Why: on a shared machine the milliseconds of `site_latency` move by ±30 % from one run to the next
(its /healthz alone between 1.7 and 4.5 ms here); an instruction count is the same on every run of
the same code, so it tells whether a change made the page cheaper. It is not time: cache misses
and the server, the socket and the client are not in it (site_latency has them).

What it does, bounded by --timeout (900 s by default):
1. Makes a throwaway SQLite file, runs `migrate` and `collectstatic` with the production-like
   settings of tools/harness (DEBUG off), and makes a customer as site_latency's (just signed up).
2. For each path, runs this module under `valgrind --tool=callgrind` twice: Django set up, then
   10 requests with the test Client (a warm-up: imports, compiled templates, prepared SQL), and
   10 + --requests; the difference over --requests is one request's instructions. The customer is
   signed in for both paths, so /healthz loads the session and the user too.
3. Prints both counts and their ratio. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from tools.harness.database import sqlite_url
from tools.harness.processes import HOST, HarnessError, free_port, time_limit
from tools.harness.site import PYTHON, prepare, site_env

WARMUP = 10
EMAIL = "instructions@example.com"
COLLECTED_RE = re.compile(r"Collected : (\d+)")


def child(env_file: Path, path: str, count: int) -> None:
    """Under valgrind: Django on the run's database, then `count` GETs of `path` as the customer."""
    from tools.harness.inprocess import django_setup

    django_setup(json.loads(env_file.read_text()))
    from django.test import Client

    from accounts.models import User

    client = Client(HTTP_HOST=HOST)
    client.force_login(User.objects.get(email=EMAIL))
    for _ in range(count):
        if client.get(path).status_code != 200:
            raise HarnessError(f"GET {path} did not answer 200")


def instructions(env_file: Path, path: str, count: int, timeout: float) -> int:
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    command += [PYTHON, "-m", "benchmarks.account_instructions", "--child", str(env_file), path, str(count)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    match = COLLECTED_RE.search(done.stderr)
    if done.returncode != 0 or not match:
        raise HarnessError(f"valgrind failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return int(match.group(1))


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40, help="requests counted per path (40)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds for the whole run (900)")
    args = parser.parse_args()
    with time_limit(args.timeout), tempfile.TemporaryDirectory(prefix="flower-ir-") as tmp:
        env = site_env(sqlite_url(Path(tmp) / "run.sqlite3"), free_port())
        prepare(env, timeout=args.timeout)
        env_file = Path(tmp) / "env.json"
        env_file.write_text(json.dumps(env))
        setup = f"from tools.harness.inprocess import create_customer; create_customer({EMAIL!r})"
        subprocess.run(
            [PYTHON, "-c", f"from tools.harness.inprocess import django_setup; import json, pathlib; "
             f"django_setup(json.loads(pathlib.Path({str(env_file)!r}).read_text())); {setup}"],
            check=True, env={**os.environ, **env}, timeout=args.timeout,
        )  # fmt: skip
        counts = {}
        for path in ("/account/", "/healthz"):
            short = instructions(env_file, path, WARMUP, args.timeout)
            long = instructions(env_file, path, WARMUP + args.requests, args.timeout)
            counts[path] = (long - short) / args.requests
    print(f"\nInstructions per request (callgrind, in-process test Client, {args.requests} requests each):")
    for path, count in counts.items():
        print(f"  GET {path:10s} {count / 1e6:8.2f} M")
    print(f"  ratio           {counts['/account/'] / counts['/healthz']:8.2f}")


if __name__ == "__main__":
    main()
