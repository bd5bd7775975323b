"""The whole loop on 127.0.0.1: the site, the task worker and the amoCRM stand-in (in this process),
connected the real way: a code from the stand-in, `amocrm_connect --code`, `amocrm_setup_fields`,
`amocrm_subscribe_webhook`.

Two flavours. `debug=True` is `make run`'s site (runserver, DEBUG on, rate limits counted), for
people (`make demo`). Otherwise production's (gunicorn, DEBUG off, static collected), for the browser
tests and benchmarks, with rate limits not counted, since they sign many people up from one address.
With a `workdir`, each child logs to `<name>.log` there and emails are files in `workdir/mail`;
without one, children's output and emails go to this terminal, prefixed with `[name]`.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from cryptography.fernet import Fernet

from tools.amocrm_standin import StandIn
from tools.harness.crm import Control, oauth_env
from tools.harness.processes import HOST, free_port, spawn, stop, wait_http
from tools.harness.site import gunicorn_args, manage, prepare, runserver_args, site_env, worker_args


def connect(env: dict[str, str], control: Control) -> list[str]:
    """Connect the site to the stand-in as staff would; what each command said, one line each."""
    code = control("POST", "codes")["code"]
    done = [manage(env, "amocrm_connect", f"--code={code}").strip()]  # a code may start with "-"
    done.append(manage(env, "amocrm_setup_fields").strip().splitlines()[-1])
    done.append(manage(env, "amocrm_subscribe_webhook").strip().splitlines()[-1])
    return done


class Stack:
    """The site, `db_worker --interval 0.2` (people and tests watch the sync) and the stand-in."""

    def __init__(
        self,
        database_url: str,
        *,
        workdir: Path | None = None,
        port: int = 0,
        standin_port: int = 0,
        debug: bool = False,
        admin_2fa: bool = True,
        env: dict[str, str] | None = None,
    ) -> None:
        self.database_url = database_url
        self.admin_2fa = admin_2fa
        self.extra_env = dict(env or {})  # more settings for the site, e.g. GTM_CONTAINER_ID
        self.workdir = workdir
        self.debug = debug
        self.port = port or free_port()
        self.site_url = f"http://{HOST}:{self.port}"
        self.standin = StandIn(port=standin_port, redirect_uri=f"{self.site_url}/amocrm/oauth/callback/")
        self.control = Control(self.standin)
        self.email_dir = workdir / "mail" if workdir is not None else None
        self.processes: dict[str, subprocess.Popen] = {}
        self.env: dict[str, str] = {}

    def start(self, *, timeout: float = 60) -> Stack:
        self.standin.start()
        self._say(f"amoCRM stand-in on {self.standin.base_url}/")
        extra = {
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
            "AMOCRM_TOKEN_KEYS": Fernet.generate_key().decode(),
            "ADMIN_REQUIRE_2FA": "true" if self.admin_2fa else "false",
            **self.extra_env,
        }
        if self.email_dir is not None:
            self.email_dir.mkdir(parents=True, exist_ok=True)
            extra["EMAIL_URL"] = f"filemail:///{self.email_dir}"  # four slashes: an absolute path
        self.env = site_env(
            self.database_url,
            self.port,
            debug=self.debug,
            count_rate_limits=self.debug,
            **{**extra, **oauth_env(self.site_url, self.standin.base_url), **self.extra_env},
        )
        prepare(self.env, static=not self.debug)  # DEBUG off: WhiteNoise serves the collected files
        self._spawn("site", runserver_args(self.port) if self.debug else gunicorn_args(self.port))
        self._spawn("worker", worker_args(interval="0.2"))
        wait_http(f"{self.site_url}/healthz", self.processes["site"], timeout, self._failure_details)
        for line in connect(self.env, self.control):
            self._say(f"[setup] {line}")
        return self

    def stop(self) -> None:
        """Safe at any point of start(): stops what has started."""
        for process in reversed(list(self.processes.values())):
            stop(process)
        self.standin.stop()

    def manage(self, *args: str, timeout: float = 60) -> str:
        return manage(self.env, *args, timeout=timeout)

    def exited(self) -> list[str]:
        """The children that are no longer running."""
        return [name for name, process in self.processes.items() if process.poll() is not None]

    def logs(self, lines: int = 30) -> str:
        """The tail of every child's log (written to the terminal, without a workdir), for a failure."""
        if self.workdir is None:
            return ""
        parts = []
        for name in self.processes:
            text = (self.workdir / f"{name}.log").read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {name} ---\n" + "\n".join(text))
        return "\n".join(parts)

    def _failure_details(self) -> str:
        return self.logs() or f"Is port {self.port} free?"

    def _spawn(self, name: str, args: list[str]) -> None:
        log = self.workdir / f"{name}.log" if self.workdir is not None else None
        self.processes[name] = spawn(args, self.env, log=log, name=name)

    def _say(self, text: str) -> None:
        if self.workdir is None:
            print(text, flush=True)
