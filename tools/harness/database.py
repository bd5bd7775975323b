"""A database for one run: a temporary SQLite file, or a PostgreSQL database created and dropped."""

from __future__ import annotations

import argparse
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tools.harness.processes import HarnessError

# The site's threads, the worker and the webhooks all write: IMMEDIATE, because a deferred
# transaction that upgrades to a write fails at once with "database is locked".
MANY_WRITERS = "?transaction_mode=IMMEDIATE&timeout=20"


def add_run_arguments(parser: argparse.ArgumentParser, *, timeout: int) -> None:
    """`--database-url` (default: a temporary SQLite file) and `--timeout`, the bound on the whole run."""
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL database to create, use and drop (default: a temporary SQLite file)",
    )
    parser.add_argument("--timeout", type=int, default=timeout, help=f"seconds for the whole run ({timeout})")


def is_postgres(url: str) -> bool:
    return urlsplit(url).scheme in {"postgres", "postgresql", "pgsql", "psql"}


def sqlite_url(path: Path, *, many_writers: bool = False) -> str:
    return f"sqlite:///{path}{MANY_WRITERS if many_writers else ''}"


def fresh_sqlite(path: Path) -> str:
    """The URL of an SQLite file at `path`, removed first with its journals (a new one each run)."""
    for leftover in (path, *(Path(f"{path}{suffix}") for suffix in ("-journal", "-wal", "-shm"))):
        leftover.unlink(missing_ok=True)
    return sqlite_url(path, many_writers=True)


def unique_name(postgres_url: str, label: str) -> str:
    """`postgres_url` with a database name no one uses yet: `<its name>_<label>_<random>`."""
    parts = urlsplit(postgres_url)
    name = f"{parts.path.lstrip('/') or 'flower'}_{label}_{secrets.token_hex(4)}"
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


@contextmanager
def throwaway_database(postgres_url: str | None = None, *, many_writers: bool = False) -> Iterator[str]:
    """A DATABASE_URL of an empty database, removed afterwards: a temporary SQLite file, or the
    database `postgres_url` names, which is created (refusing one that exists) and dropped."""
    if postgres_url is None:
        with tempfile.TemporaryDirectory(prefix="flower-db-") as tmp:
            yield sqlite_url(Path(tmp) / "run.sqlite3", many_writers=many_writers)
        return
    if not is_postgres(postgres_url):
        raise HarnessError(f"{postgres_url!r} is not a PostgreSQL URL (SQLite is the default)")
    import psycopg
    from psycopg import sql

    parts = urlsplit(postgres_url)
    name = parts.path.lstrip("/")
    if not name:
        raise HarnessError(f"No database name in {postgres_url!r}")
    admin_url = urlunsplit(("postgresql", parts.netloc, "/postgres", parts.query, ""))
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            raise HarnessError(f"Database {name!r} already exists; drop it or name another one.")
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield postgres_url
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def database_kind(postgres_url: str | None) -> str:
    """How a report names the database of throwaway_database(postgres_url)."""
    return "PostgreSQL" if postgres_url else "SQLite"
