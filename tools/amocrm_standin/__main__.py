"""`python -m tools.amocrm_standin [--port 8911 ...]`: the stand-in on 127.0.0.1 until Ctrl-C or SIGTERM."""

import argparse
import signal
import threading
from typing import Any

from tools.amocrm_standin.constants import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REDIRECT_URI,
    RATE_LIMIT,
)
from tools.amocrm_standin.standin import StandIn


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tools.amocrm_standin", description="A local amoCRM stand-in on 127.0.0.1."
    )
    parser.add_argument("--port", type=int, default=8911, help="port to listen on (default 8911)")
    parser.add_argument(
        "--webhook-timeout", type=float, default=2.0, help="seconds to wait for a webhook 2xx"
    )
    parser.add_argument("--rate-limit", type=int, default=RATE_LIMIT, help="API requests per second")
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID, help="the integration's client_id")
    parser.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET, help="the integration's secret")
    parser.add_argument("--redirect-uri", default=DEFAULT_REDIRECT_URI, help="the integration's redirect URI")
    args = parser.parse_args()
    standin = StandIn(
        port=args.port,
        webhook_timeout=args.webhook_timeout,
        rate_limit=args.rate_limit,
        client_id=args.client_id,
        client_secret=args.client_secret,
        redirect_uri=args.redirect_uri,
    )
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops it as cleanly as Ctrl-C
    standin.start()
    print(f"amoCRM stand-in on {standin.base_url}/  (API {standin.base_url}/api/v4/, control /_standin/)")
    print(f"client_id={args.client_id} redirect_uri={args.redirect_uri}; Ctrl-C stops it", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        standin.stop()


if __name__ == "__main__":
    main()
