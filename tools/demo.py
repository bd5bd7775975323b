"""`make demo`: the whole loop on one machine — the site, the task worker and the amoCRM stand-in.

    .venv/bin/python tools/demo.py [--port 8000] [--standin-port 8911]

What it does, on 127.0.0.1 only:

1. Makes a fresh demo database, `demo.sqlite3` (git-ignored; removed and recreated on every run,
   because the stand-in forgets its leads when it stops), and migrates it.
2. Starts the amoCRM stand-in (tools/amocrm_standin.py, in this process) on --standin-port, the
   site (`manage.py runserver --noreload`, DEBUG on) on --port and the worker (`manage.py
   db_worker`), with the environment pointing the site at the stand-in.
3. Connects the site the real way: an authorization code from the stand-in's control API,
   `amocrm_connect --code`, `amocrm_setup_fields` and, when the command exists,
   `amocrm_subscribe_webhook` (so a manager's edit in the stand-in comes back to the site).
4. Creates a staff login for the admin and signs one demo customer up through the site's own
   signup form, so the stand-in page has a lead to play with; prints where to look.

Ctrl-C (or SIGTERM) stops all three: every child runs in its own process group, which is
terminated, then killed if it lingers; on Linux the children also die with this process.

The helpers here (environment, `manage.py` calls, process groups, connecting to a stand-in) are
shared with the browser tests (tests/e2e/conftest.py) and benchmarks/e2e_signup_to_lead.py.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import datetime
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import requests

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

from tools import amocrm_standin  # noqa: E402 - after the path set-up, for `python tools/demo.py`
from tools.amocrm_standin import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, StandIn  # noqa: E402

PYTHON = sys.executable
HOST = "127.0.0.1"
DEMO_DB = BASE_DIR / "demo.sqlite3"
DEMO_WEBHOOK_SECRET = "demo-webhook-secret"  # noqa: S105 - a local demo value
DEMO_STAFF = ("staff@demo.local", "demo-flowers-staff")
DEMO_CUSTOMER = ("anna@demo.local", "demo-flowers-anna")
SUBSCRIBE_WEBHOOK_COMMAND = BASE_DIR / "amocrm/management/commands/amocrm_subscribe_webhook.py"
CSRF_INPUT_RE = re.compile(r'name="csrfmiddlewaretoken"\s+value="([^"]+)"')
STOP_TIMEOUT = 10.0  # seconds a child gets after SIGTERM before SIGKILL


def has_webhooks() -> bool:
    """True once issue 6 (amoCRM → site webhooks) is in the tree."""
    return SUBSCRIBE_WEBHOOK_COMMAND.exists()


# ENVIRONMENT AND MANAGE.PY
# ------------------------------------------------------------------------------
def site_env(
    *,
    database_url: str,
    site_url: str,
    standin_url: str,
    debug: bool,
    email_url: str = "consolemail://",
    **extra: str,
) -> dict[str, str]:
    """The site's environment, pointed at a stand-in; every AMOCRM_* value is explicit (no .env leaks)."""
    env = {
        **os.environ,
        "DEBUG": "true" if debug else "false",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "demo-only-insecure-key",
        "ALLOWED_HOSTS": HOST,
        "SITE_URL": site_url,
        "DATABASE_URL": database_url,
        "EMAIL_URL": email_url,
        "AMOCRM_BASE_URL": standin_url,
        "AMOCRM_CLIENT_ID": DEFAULT_CLIENT_ID,
        "AMOCRM_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
        "AMOCRM_REDIRECT_URI": f"{site_url}/amocrm/oauth/callback/",
        "AMOCRM_LONG_LIVED_TOKEN": "",
        "AMOCRM_WEBHOOK_SECRET": DEMO_WEBHOOK_SECRET,
        # The stand-in's base URL (127.0.0.1) has no subdomain; its webhooks name the account so.
        "AMOCRM_ACCOUNT_SUBDOMAIN": amocrm_standin.SUBDOMAIN,
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env


def manage(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    """Run `manage.py ARGS`; its stdout, or RuntimeError with everything it printed."""
    try:
        result = subprocess.run(  # noqa: S603 - our own manage.py, arguments from this file
            [PYTHON, "manage.py", *args],
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as e:
        raise RuntimeError(f"manage.py {' '.join(args)} took more than {timeout:.0f} s") from e
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def control(standin_url: str, method: str, path: str, data: dict[str, Any] | None = None) -> Any:
    """One call to the stand-in's control API (/_standin/...); the decoded JSON answer."""
    body = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(  # noqa: S310 - the stand-in's http URL on loopback
        f"{standin_url}/_standin{path}",
        data=body,
        method=method,
        headers={"Content-Type": "application/json"} if body else {},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our own loopback URL
        return json.loads(response.read() or b"null")


def connect(env: dict[str, str], standin_url: str) -> list[str]:
    """Connect the site to the stand-in as staff would: code exchange, field setup, webhook subscription."""
    code = control(standin_url, "POST", "/codes")["code"]
    done = [manage(env, "amocrm_connect", f"--code={code}").strip()]  # a code may start with "-"
    done.append(manage(env, "amocrm_setup_fields").strip().splitlines()[-1])
    if has_webhooks():
        done.append(manage(env, "amocrm_subscribe_webhook").strip().splitlines()[-1])
    return done


# PROCESSES
# ------------------------------------------------------------------------------
def _die_with_parent() -> None:  # pragma: no cover - runs in the child, between fork and exec
    os.setsid()
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def spawn(args: Sequence[str], env: dict[str, str], output: IO[Any] | int | None) -> subprocess.Popen:
    """Start a child in its own process group (Ctrl-C reaches only us; we stop it), dying with us."""
    return subprocess.Popen(  # noqa: S603 - commands built in this file
        list(args),
        cwd=BASE_DIR,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT if output is not None else None,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
        start_new_session=sys.platform != "linux",
    )


def stop(process: subprocess.Popen, timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM to the child's whole process group, SIGKILL after `timeout`; always reaped."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # stragglers of a group whose leader already left


def wait_http(url: str, process: subprocess.Popen | None, timeout: float, describe: str = "") -> None:
    """Until `url` answers 200; fails early when the process exits, or after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode}. {describe}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f} s. {describe}")


def worker_args() -> list[str]:
    """The task worker, polling often: the sync is a task and people (and tests) watch it."""
    return [PYTHON, "manage.py", "db_worker", "--interval", "0.2", "--no-reload", "--no-startup-delay"]


def signup_over_http(site_url: str, email: str, password: str, **fields: str) -> requests.Session:
    """Sign a customer up through the site's own form (a session with its CSRF cookie)."""
    session = requests.Session()
    page = session.get(f"{site_url}/signup/", timeout=15)
    match = CSRF_INPUT_RE.search(page.text)
    if page.status_code != 200 or not match:
        raise RuntimeError(f"GET /signup/ answered {page.status_code} without a CSRF token")
    data = {
        "csrfmiddlewaretoken": match.group(1),
        "email": email,
        "password1": password,
        "password2": password,
        "bouquet_category": "seasonal",
        "delivery_address": "Москва, ул. Цветочная, д. 1, кв. 2",
        "first_delivery_date": (datetime.date.today() + datetime.timedelta(days=7)).isoformat(),  # noqa: DTZ011
        "delivery_interval": "biweekly",
        "wishes": "Больше зелени, без лилий.",
        "account_sum": "5000",
        **fields,
    }
    response = session.post(f"{site_url}/signup/", data=data, allow_redirects=False, timeout=30)
    if response.status_code != 302:
        raise RuntimeError(f"the demo signup answered {response.status_code}:\n{response.text[:2000]}")
    return session


# A STACK FOR TESTS AND BENCHMARKS: gunicorn + worker + stand-in on free ports
# ------------------------------------------------------------------------------
def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Stack:
    """The site under gunicorn (DEBUG off, as in production), the worker and an in-process stand-in."""

    def __init__(self, *, database_url: str, workdir: Path, email_dir: Path | None = None) -> None:
        from cryptography.fernet import Fernet

        self.workdir = workdir
        self.port = free_port()
        self.site_url = f"http://{HOST}:{self.port}"
        self.standin = StandIn(port=0, redirect_uri=f"{self.site_url}/amocrm/oauth/callback/")
        self.email_dir = email_dir or workdir / "mail"
        self.processes: dict[str, subprocess.Popen] = {}
        self._logs: list[IO[Any]] = []
        self.database_url = database_url
        self.env: dict[str, str] = {}
        self._token_key = Fernet.generate_key().decode()

    def log_path(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    def logs(self, lines: int = 30) -> str:
        """The tail of every child's log, for a failure message."""
        parts = []
        for name in self.processes:
            text = self.log_path(name).read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {name} ---\n" + "\n".join(text))
        return "\n".join(parts)

    def start(self, *, timeout: float = 60) -> Stack:
        self.standin.start()
        self.email_dir.mkdir(parents=True, exist_ok=True)
        self.env = site_env(
            database_url=self.database_url,
            site_url=self.site_url,
            standin_url=self.standin.base_url,
            debug=False,
            email_url=f"filemail:///{self.email_dir}",  # four slashes: an absolute path
            AMOCRM_TOKEN_KEYS=self._token_key,
            # allauth counts its rate limits in the cache; the tests sign many people up from 127.0.0.1.
            CACHE_URL="dummycache://",
            LOG_LEVEL="INFO",
            WEB_CONCURRENCY="2",
            GUNICORN_ACCESS_LOG="false",
        )
        manage(self.env, "migrate", "--noinput")
        manage(self.env, "collectstatic", "--noinput")  # DEBUG off: WhiteNoise serves the manifest files
        gunicorn = str(Path(PYTHON).with_name("gunicorn"))
        self._spawn(
            "site",
            [gunicorn, "-c", "gunicorn.conf.py", "flower_account.wsgi", "--bind", f"{HOST}:{self.port}"],
        )
        self._spawn("worker", worker_args())
        wait_http(f"{self.site_url}/healthz", self.processes["site"], timeout, self.logs())
        connect(self.env, self.standin.base_url)
        return self

    def _spawn(self, name: str, args: Sequence[str]) -> None:
        log = self.log_path(name).open("ab")
        self._logs.append(log)
        self.processes[name] = spawn(args, self.env, log)

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            stop(process)
        for log in self._logs:
            log.close()
        self.standin.stop()

    def manage(self, *args: str, timeout: float = 60) -> str:
        return manage(self.env, *args, timeout=timeout)

    def control(self, method: str, path: str, data: dict[str, Any] | None = None) -> Any:
        return control(self.standin.base_url, method, path, data)


# THE DEMO
# ------------------------------------------------------------------------------
def _relay(name: str, stream: IO[bytes]) -> None:
    for line in iter(stream.readline, b""):
        sys.stdout.write(f"[{name}] {line.decode(errors='replace')}")
        sys.stdout.flush()


def _start(name: str, args: Sequence[str], env: dict[str, str], children: list) -> subprocess.Popen:
    process = spawn(args, env, subprocess.PIPE)
    children.append(process)
    threading.Thread(target=_relay, args=(name, process.stdout), daemon=True).start()
    return process


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(port: int, standin_port: int) -> None:
    site_url = f"http://{HOST}:{port}"
    standin = StandIn(port=standin_port, redirect_uri=f"{site_url}/amocrm/oauth/callback/")
    env = site_env(
        database_url=f"sqlite:///{DEMO_DB}?transaction_mode=IMMEDIATE&timeout=20",  # many writers
        site_url=site_url,
        standin_url=f"http://{HOST}:{standin_port}",
        debug=True,
        LOG_LEVEL=os.environ.get("LOG_LEVEL", "INFO"),
    )
    children: list[subprocess.Popen] = []
    with _stop_on_signals():
        try:
            for path in (DEMO_DB, Path(f"{DEMO_DB}-journal"), Path(f"{DEMO_DB}-wal"), Path(f"{DEMO_DB}-shm")):
                path.unlink(missing_ok=True)
            print(f"Creating {DEMO_DB.name} ...", flush=True)
            manage(env, "migrate", "--noinput")
            standin.start()
            print(f"amoCRM stand-in on {standin.base_url}/", flush=True)
            site = _start(
                "site", [PYTHON, "manage.py", "runserver", "--noreload", f"{HOST}:{port}"], env, children
            )
            _start("worker", worker_args(), env, children)
            wait_http(f"{site_url}/healthz", site, 60, "Is the port free? Try --port.")
            for line in connect(env, standin.base_url):
                print(f"[setup] {line}", flush=True)
            if not has_webhooks():
                print("[setup] no amocrm_subscribe_webhook yet: a manager's edit will not come back")
            manage(
                {**env, "DJANGO_SUPERUSER_PASSWORD": DEMO_STAFF[1]},
                "createsuperuser",
                "--noinput",
                "--email",
                DEMO_STAFF[0],
            )
            signup_over_http(site_url, *DEMO_CUSTOMER)
            print(
                "\n"
                "Flower Account demo is running (Ctrl-C stops the site, the worker and the stand-in):\n"
                f"  site             {site_url}/   (sign up, or log in as {DEMO_CUSTOMER[0]} / "
                f"{DEMO_CUSTOMER[1]})\n"
                f"  admin            {site_url}/admin/   staff login: {DEMO_STAFF[0]} / {DEMO_STAFF[1]}\n"
                f"  amoCRM stand-in  {standin.base_url}/   its leads; change a sum or a status as a manager\n"
                f"  database         {DEMO_DB.name} (recreated on every run)\n",
                flush=True,
            )
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
            died = [child.args[2] for child in children if child.poll() is not None]
            print(f"demo: {', '.join(died)} exited; stopping the rest", file=sys.stderr)
            raise SystemExit(1)
        except KeyboardInterrupt:
            print("\nStopping the demo ...", flush=True)
        finally:
            for child in reversed(children):
                stop(child)
            standin.stop()
    print("Stopped.")


def main() -> None:
    parser = argparse.ArgumentParser(description="The site, the worker and the amoCRM stand-in, together.")
    parser.add_argument("--port", type=int, default=8000, help="the site's port (default 8000)")
    parser.add_argument("--standin-port", type=int, default=8911, help="the stand-in's port (default 8911)")
    args = parser.parse_args()
    try:
        run(args.port, args.standin_port)
    except RuntimeError as e:
        raise SystemExit(f"demo: {e}") from None


if __name__ == "__main__":
    main()
