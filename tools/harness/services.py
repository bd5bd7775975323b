"""Private PostgreSQL and Redis servers for a fault run: started in a temporary directory on free
127.0.0.1 ports, restarted, stopped or frozen at will, removed afterwards. The machine's own servers
(which others use) are never touched."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

from tools.harness.processes import HOST, HarnessError, free_port, spawn, stop, wait_until

PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def _as_server_user(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run its tools as the `postgres` user."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _pg_tool(name: str) -> str:
    for directory in PG_BIN_DIRS:
        if (directory / name).exists():
            return str(directory / name)
    found = shutil.which(name)
    if found is None:
        raise HarnessError(f"{name} not found: install PostgreSQL's server package")
    return found


class PostgresCluster:
    """A throwaway PostgreSQL cluster (initdb), its socket and data in `directory`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.data = directory / "data"
        self.port = free_port()
        self.url = f"postgres://flower@{HOST}:{self.port}/flower"

    def _ctl(self, *args: str, timeout: float = 60) -> None:
        command = [
            _pg_tool("pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.directory / "postgres.log"),
            *args,
        ]
        subprocess.run(_as_server_user(command), check=True, capture_output=True, timeout=timeout)  # noqa: S603

    def start(self) -> PostgresCluster:
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
            # The server user walks down to it through the run's temporary directory (0700).
            self.directory.parent.chmod(0o755)
        subprocess.run(  # noqa: S603
            _as_server_user(
                [_pg_tool("initdb"), "-D", str(self.data), "-U", "flower", "--auth=trust", "-E", "UTF8"]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        options = f"-p {self.port} -k {self.directory} -c listen_addresses={HOST} -c fsync=off"
        self._ctl("-o", options, "-w", "start")
        subprocess.run(  # noqa: S603
            [_pg_tool("createdb"), "-h", HOST, "-p", str(self.port), "-U", "flower", "flower"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        return self

    def restart(self) -> None:
        """What an upgrade or a crash-restart does: every connection is cut, the server comes back."""
        self._ctl("-m", "fast", "-w", "restart")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._ctl("-m", "immediate", "-w", "stop")


class RedisServer:
    """A private redis-server that keeps nothing on disk; stop/start it, or freeze it (SIGSTOP: it
    accepts connections and never answers, as a hung Redis does)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://{HOST}:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        redis_server = shutil.which("redis-server")
        if redis_server is None:
            raise HarnessError("redis-server not found")
        args = [redis_server, "--port", str(self.port), "--bind", HOST, "--save", "", "--appendonly", "no"]
        self.process = spawn(args, dict(os.environ), log=self.directory / "redis.log")
        wait_until("redis-server to answer", self._answers, 10)
        return self

    def _answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(host=HOST, port=self.port, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def freeze(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.thaw()
            stop(self.process)
        self.process = None
