"""A separate process for test_ratelimit: takes `--count` slots from the shared limiter, prints them.

Run as `python -m tests.amocrm.ratelimit_worker`, with DATABASE_URL pointing at the shared database.
"""

import argparse
import json

import django

from tools.harness.inprocess import create_table


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=7)
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--init", action="store_true", help="create the limiter table and exit")
    args = parser.parse_args()
    django.setup()
    from amocrm.models import RateLimit
    from amocrm.ratelimit import DatabaseRateLimiter

    if args.init:
        create_table(RateLimit)
        return
    limiter = DatabaseRateLimiter(rate=args.rate)
    print(json.dumps([limiter.acquire().timestamp() for _ in range(args.count)]))


if __name__ == "__main__":
    main()
