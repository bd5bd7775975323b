"""How long the test suite without browser tests takes: wall time, CPU time and the machine's load.

Run from the project root:

    .venv/bin/python -m benchmarks.suite_time                 # SQLite, as `make test` by default
    .venv/bin/python -m benchmarks.suite_time --database-url postgres://postgres@127.0.0.1:5432/flower_account_ci
    .venv/bin/python -m benchmarks.suite_time --skip-make-run -- tests/accounts   # a slice
    .venv/bin/python -m benchmarks.suite_time --workers 0     # one process, as plain pytest

It runs `pytest -m "not e2e" -n 2 --dist loadgroup -q -p no:cacheprovider --durations=N` (the
first half of `make test`: pytest-xdist, `--workers` processes; SECRET_KEY set, the rest of the
environment as given) in a child process and prints, besides pytest's own output, one line of
figures: pytest's summary, the wall time, the CPU time of pytest and every process it started
(user + system, from the kernel's accounting of reaped children), and the load average before and
after. Wall time on a shared machine mostly measures the other work on it; CPU time barely moves
with load, so compare runs by CPU, and by wall only at a similar load. `--skip-make-run` deselects
tests/test_make_run.py, which rebuilds `.venv` when it is older than the requirements (a git
worktree whose `.venv` is a link to another checkout's).
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import resource
import subprocess
import sys
import time

from tools.harness.figures import load_average
from tools.harness.processes import BASE_DIR, PYTHON

MAKE_RUN = "tests/test_make_run.py::test_make_run_serves_the_site_with_the_worker_and_ctrl_c_stops_both"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--database-url", help="DATABASE_URL for the run (SQLite in memory by default)")
    parser.add_argument("--durations", type=int, default=15, help="slowest test phases pytest lists")
    parser.add_argument(
        "--workers", type=int, default=2, help="pytest-xdist processes, as `make test` (2; 0: one process)"
    )
    parser.add_argument("--skip-make-run", action="store_true", help="deselect tests/test_make_run.py")
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments (after --)")
    args = parser.parse_args()

    env = {**os.environ, "SECRET_KEY": os.environ.get("SECRET_KEY", "x")}
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    command = [PYTHON, "-m", "pytest", "-m", "not e2e", "-n", str(args.workers), "--dist", "loadgroup"]
    command += ["-q", "-p", "no:cacheprovider"]
    command += [f"--durations={args.durations}", *(["--deselect", MAKE_RUN] if args.skip_make_run else [])]
    command += args.pytest_args

    load_before = load_average()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, text=True)  # noqa: S603
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(result.stdout, end="")

    user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
    summary = re.findall(r"^=*\s*(\d+ (?:passed|failed).*?) in [\d.]+s", result.stdout, re.MULTILINE)
    when = datetime.datetime.now(datetime.UTC)
    print(
        f"\n{when:%Y-%m-%d %H:%M} UTC  {summary[-1] if summary else 'no summary'}  "
        f"{args.workers or 'one'} process{'es' if args.workers else ''}  "
        f"wall {wall:.1f} s  CPU {user + system:.1f} s (user {user:.1f}, system {system:.1f})  "
        f"load average before {load_before}, after {load_average()}"
    )
    sys.exit(result.returncode)


if __name__ == "__main__":
    main()
