"""Child processes and waits, with one failure type: HarnessError.

Every child runs in its own process group, so Ctrl-C reaches only us and `stop()` takes down what
the child started too (gunicorn's workers); on Linux a child also dies with the thread that started it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import requests

BASE_DIR = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
HOST = "127.0.0.1"
STOP_TIMEOUT = 10.0  # seconds a child gets after its signal before SIGKILL


class HarnessError(Exception):
    """Something a run needs did not happen: a command failed, a server never answered, time ran out."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child, between fork and exec
    os.setsid()
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def spawn(
    args: Sequence[str], env: dict[str, str], *, log: Path | None = None, name: str = ""
) -> subprocess.Popen:
    """Start a child in BASE_DIR; its output appended to `log`, or else relayed to our stdout, `[name] …`."""
    output: IO[Any] | int = log.open("ab") if log is not None else subprocess.PIPE
    try:
        process = subprocess.Popen(  # noqa: S603 - commands built by the harness
            list(args),
            cwd=BASE_DIR,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
            start_new_session=sys.platform != "linux",
        )
    finally:
        if log is not None:
            output.close()  # the child has its own copy
    if log is None:
        threading.Thread(target=_relay, args=(name, process.stdout), daemon=True).start()
    return process


def _relay(name: str, stream: IO[bytes]) -> None:
    for line in iter(stream.readline, b""):
        sys.stdout.write(f"[{name}] {line.decode(errors='replace')}")
        sys.stdout.flush()


def stop(process: subprocess.Popen, timeout: float = STOP_TIMEOUT, *, signum: int = signal.SIGTERM) -> None:
    """`signum` to the child's whole process group, SIGKILL after `timeout`; always reaped."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # stragglers of a group whose leader already left


def stop_all(processes: Sequence[subprocess.Popen], timeout: float = STOP_TIMEOUT) -> None:
    """`stop()` for several children at once: all are signalled before any is waited for."""
    for process in processes:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        stop(process, timeout)


@contextlib.contextmanager
def running(
    args: Sequence[str], env: dict[str, str], log: Path, *, stop_timeout: float = STOP_TIMEOUT
) -> Iterator[subprocess.Popen]:
    """A child for the length of a `with` block; always stopped."""
    process = spawn(args, env, log=log)
    try:
        yield process
    finally:
        stop(process, stop_timeout)


def wait_until(
    what: str,
    check: Callable[[], Any],
    timeout: float,
    interval: float = 0.1,
    details: Callable[[], str] | None = None,
) -> Any:
    """`check()`'s first truthy result, polled; HarnessError after `timeout` s (with `details()` then)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            more = f"\n{details()}" if details is not None else ""
            raise HarnessError(f"timed out after {timeout:.0f} s waiting for {what}{more}")
        time.sleep(interval)


def wait_http(
    url: str, process: subprocess.Popen | None, timeout: float, details: Callable[[], str] | None = None
) -> None:
    """Until `url` answers 200; fails at once when `process` (the server) exits."""

    def answers() -> bool:
        if process is not None and process.poll() is not None:
            more = f"\n{details()}" if details is not None else ""
            raise HarnessError(f"{url}: the server exited with {process.returncode}{more}")
        with contextlib.suppress(requests.RequestException):  # refused, or slow while it boots
            return requests.get(url, timeout=5).status_code == 200
        return False

    wait_until(f"{url} to answer 200", answers, timeout, details=details)


@contextlib.contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Bound a whole run: after `seconds` (or on SIGTERM) a HarnessError. Any HarnessError inside ends
    the program with its message, not a traceback: a benchmark's failure is one line to read."""

    def out_of_time(signum: int, frame: object) -> None:
        raise HarnessError(f"the run took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, out_of_time), signal.signal(signal.SIGTERM, out_of_time)
    signal.alarm(seconds)
    try:
        yield
    except HarnessError as error:
        raise SystemExit(str(error)) from None
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous[0])
        signal.signal(signal.SIGTERM, previous[1])
