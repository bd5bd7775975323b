"""`make demo`: the whole loop on one machine — the site, the task worker and the amoCRM stand-in.

    .venv/bin/python -m tools.demo [--port 8000] [--standin-port 8911]

What it does, on 127.0.0.1 only, with tools.harness.stack.Stack in its `make run` flavour:

1. Makes a fresh demo database, `demo.sqlite3` (git-ignored; removed and recreated on every run,
   because the stand-in forgets its leads when it stops), and migrates it.
2. Starts the amoCRM stand-in (in this process) on --standin-port, the site (`manage.py runserver
   --noreload`, DEBUG on) on --port and the worker (`manage.py db_worker`), with the environment
   pointing the site at the stand-in, and connects them the real way (code, fields, webhook).
3. Creates a staff login for the admin and signs one demo customer up through the site's own
   signup form, so the stand-in page has a lead to play with; prints where to look.

Ctrl-C (or SIGTERM) stops all three.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import time
from collections.abc import Iterator

from tools.harness.database import fresh_sqlite
from tools.harness.processes import BASE_DIR, HarnessError
from tools.harness.site import manage, signup
from tools.harness.stack import Stack

DEMO_DB = BASE_DIR / "demo.sqlite3"
DEMO_STAFF = ("staff@demo.local", "demo-flowers-staff")
DEMO_CUSTOMER = ("anna@demo.local", "demo-flowers-anna")


@contextlib.contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(port: int, standin_port: int) -> None:
    # The demo's staff login is a password alone (printed below); production requires the code too.
    stack = Stack(fresh_sqlite(DEMO_DB), port=port, standin_port=standin_port, debug=True, admin_2fa=False)
    site, standin = stack.site_url, stack.standin
    with _stop_on_sigterm():
        try:
            print(f"Creating {DEMO_DB.name} ...", flush=True)
            stack.start()
            staff_env = {**stack.env, "DJANGO_SUPERUSER_PASSWORD": DEMO_STAFF[1]}
            manage(staff_env, "createsuperuser", "--noinput", "--email", DEMO_STAFF[0])
            signup(site, *DEMO_CUSTOMER)
            print(
                "\n"
                "Flower Account demo is running (Ctrl-C stops the site, the worker and the stand-in):\n"
                f"  site             {site}/   (sign up, or log in as {DEMO_CUSTOMER[0]} / "
                f"{DEMO_CUSTOMER[1]})\n"
                f"  admin            {site}/admin/   staff login: {DEMO_STAFF[0]} / {DEMO_STAFF[1]}\n"
                "                   (two-factor sign-in is OFF in the demo: ADMIN_REQUIRE_2FA=false)\n"
                f"  amoCRM stand-in  {standin.base_url}/   its leads; change a sum or a status as a manager\n"
                f"  database         {DEMO_DB.name} (recreated on every run)\n",
                flush=True,
            )
            while not (exited := stack.exited()):
                time.sleep(0.5)
            print(f"demo: {', '.join(exited)} exited; stopping the rest", file=sys.stderr)
            raise SystemExit(1)
        except KeyboardInterrupt:
            print("\nStopping the demo ...", flush=True)
        finally:
            stack.stop()
    print("Stopped.")


def main() -> None:
    parser = argparse.ArgumentParser(description="The site, the worker and the amoCRM stand-in, together.")
    parser.add_argument("--port", type=int, default=8000, help="the site's port (default 8000)")
    parser.add_argument("--standin-port", type=int, default=8911, help="the stand-in's port (default 8911)")
    args = parser.parse_args()
    try:
        run(args.port, args.standin_port)
    except HarnessError as e:
        raise SystemExit(f"demo: {e}") from None


if __name__ == "__main__":
    main()
