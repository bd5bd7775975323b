"""What the amoCRM sync benchmarks share: the amoCRM stand-in, its control API, manage.py processes.

The database, the production-like environment and gunicorn come from site_latency.py (imported, not
copied). Scripts run as `python benchmarks/<name>.py`, so this directory is on sys.path; the project
root is added for `tools.amocrm_standin`.
"""

from __future__ import annotations

import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from site_latency import (  # noqa: F401 - re-exported for the sync benchmarks
    BASE_DIR,
    HOST,
    PYTHON,
    REQUEST_TIMEOUT,
    BenchmarkTimeout,
    free_port,
    gunicorn,
    manage,
    percentile,
    signup,
    site_env,
    throwaway_database,
    wait_for_healthz,
)

if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

from tools.amocrm_standin import StandIn  # noqa: E402


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Raise BenchmarkTimeout (turned into SystemExit) when the run takes longer than `seconds`."""

    def out_of_time(signum, frame):
        raise BenchmarkTimeout(f"the benchmark took longer than {seconds} s")

    signal.signal(signal.SIGALRM, out_of_time)
    signal.signal(signal.SIGTERM, out_of_time)
    signal.alarm(seconds)
    try:
        yield
    except BenchmarkTimeout as error:
        raise SystemExit(str(error)) from None
    finally:
        signal.alarm(0)


@contextmanager
def standin(*, rate_limit: int = 7) -> Iterator[StandIn]:
    server = StandIn(port=0, rate_limit=rate_limit).start()
    try:
        yield server
    finally:
        server.stop()


class Control:
    """The stand-in's control API (/_standin/)."""

    def __init__(self, server: StandIn) -> None:
        self.base = f"{server.base_url}/_standin"

    def __call__(self, method: str, path: str, body: dict | None = None) -> Any:
        response = requests.request(method, f"{self.base}/{path}", json=body or {}, timeout=10)
        if response.status_code != 200:
            raise SystemExit(
                f"stand-in control {method} {path} answered {response.status_code}: {response.text}"
            )
        return response.json()

    def token(self) -> str:
        return self("POST", "tokens/long-lived")["access_token"]

    def requests(self) -> list[dict[str, Any]]:
        return self("GET", "requests")["requests"]

    def leads(self) -> list[dict[str, Any]]:
        return self("GET", "leads")["leads"]

    def settings(self, **values: Any) -> dict[str, Any]:
        return self("POST", "settings", values)


def crm_env(env: dict[str, str], server: StandIn, token: str, *, rate_limit: float = 7) -> dict[str, str]:
    """The site's environment with the stand-in as its amoCRM (long-lived token, our rate limit)."""
    return {
        **env,
        "AMOCRM_BASE_URL": server.base_url,
        "AMOCRM_LONG_LIVED_TOKEN": token,
        "AMOCRM_CLIENT_ID": "",
        "AMOCRM_CLIENT_SECRET": "",
        "AMOCRM_RATE_LIMIT": str(rate_limit),
    }


def no_crm_env(env: dict[str, str]) -> dict[str, str]:
    """The site's environment with the integration off, whatever the caller's environment says."""
    return {
        **env,
        "AMOCRM_BASE_URL": "",
        "AMOCRM_LONG_LIVED_TOKEN": "",
        "AMOCRM_CLIENT_ID": "",
        "AMOCRM_CLIENT_SECRET": "",
    }


@contextmanager
def background(env: dict[str, str], log_path: Path, *args: str) -> Iterator[subprocess.Popen]:
    """`manage.py <args>` running beside the benchmark (the worker); always stopped."""
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [PYTHON, "manage.py", *args], cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def run(env: dict[str, str], *args: str, timeout: float) -> str:
    """`manage.py <args>` to completion; its output (exits on a failure)."""
    result = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def wait_until(what: str, check: Callable[[], Any], timeout: float, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def field_value(lead: dict[str, Any], code: str) -> str | None:
    """A lead custom field's first value, by the field code our setup gave it (e.g. FA_WISHES)."""
    for item in lead.get("custom_fields_values") or []:
        if item.get("field_code") == code:
            return str(item["values"][0]["value"])
    return None


def ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:.1f} ms, p95 {percentile(values, 0.95) * 1000:.1f} ms"
