"""How long a mass edit's webhook body takes to parse (target < 50 ms for 50 leads × 40 fields), and the
largest body the endpoint accepts.

Run from the project root:

    .venv/bin/python -m benchmarks.webhook_parse [--leads 50] [--fields 40] [--rounds 15]

The body is shaped like amoCRM's (tests/amocrm/fixtures/real/): every lead item carries all of its
filled fields, each with its id and its Russian name; a third of them are dates, sent bare
(`[values][0]=<timestamp>`), the others text or selects (`[values][0][value]`, `[enum]`). It is
percent-encoded as PHP's http_build_query writes it. Each round parses it with amocrm.webhooks
(`parse_body`, then `read_lead` for every item), in this process; the figures are the median and
the worst round. A body of 19,999 `[]` appends (the case that was quadratic) is timed too, and the
keys of the largest body are compared with the MAX_KEYS cap.
"""

from __future__ import annotations

import argparse
import statistics
import time
from urllib.parse import quote

from amocrm import webhooks


def mass_edit_body(leads: int, fields: int) -> bytes:
    pairs = [("account[subdomain]", "flowers"), ("account[id]", "31000001")]
    for n in range(leads):
        item = f"leads[update][{n}]"
        pairs += [
            (f"{item}[id]", str(30000000 + n)),
            (f"{item}[name]", "Подписка на цветы — anna@example.ru"),
            (f"{item}[status_id]", "60000003"),
            (f"{item}[price]", "2500"),
            (f"{item}[last_modified]", "1763870000"),
            (f"{item}[account_id]", "31000001"),
        ]
        for f in range(fields):
            field = f"{item}[custom_fields][{f}]"
            pairs += [(f"{field}[id]", str(600000 + f)), (f"{field}[name]", f"Поле менеджера номер {f}")]
            if f % 3 == 0:
                pairs.append((f"{field}[values][0]", "1764882000"))  # a date: bare
            else:
                pairs += [
                    (f"{field}[values][0][value]", "Значение поля"),
                    (f"{field}[values][0][enum]", "900003"),
                ]
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs).encode()


def timed(body: bytes, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        payload = webhooks.parse_body(body)
        for item in webhooks.items(payload):
            webhooks.read_lead(action=item.action, data=item.data)
        times.append(time.perf_counter() - started)
    return times


def largest_leads(start: int, fields: int) -> int:
    """The most leads, from `start` up, whose body fits MAX_BYTES (bisection: size grows with leads)."""

    def fits(leads: int) -> bool:
        return len(mass_edit_body(leads, fields)) <= webhooks.MAX_BYTES

    low, high = start, start + 1  # low fits or is `start`; high does not fit
    while fits(high):
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=50, help="lead items in the body (50)")
    parser.add_argument("--fields", type=int, default=40, help="custom fields per lead (40)")
    parser.add_argument("--rounds", type=int, default=15, help="timed parses (15)")
    args = parser.parse_args()

    body = mass_edit_body(args.leads, args.fields)
    times = timed(body, args.rounds)
    largest = largest_leads(args.leads, args.fields)
    appends = "&".join("a%5B%5D=" for _ in range(19_999)).encode()
    append_times = timed(appends, 3)

    print(f"\nWebhook body of {args.leads} leads × {args.fields} fields: {len(body) / 1024:.0f} KB")
    print(
        f"parse + read every lead: median {statistics.median(times) * 1000:.1f} ms, "
        f"worst {max(times) * 1000:.1f} ms over {args.rounds} rounds  (target < 50 ms)"
    )
    print(
        f"largest body accepted: {webhooks.MAX_BYTES / 1024 / 1024:.0f} MB "
        f"(about {largest} such leads; 413 above it)"
    )
    keys = mass_edit_body(largest, args.fields).count(b"&") + 1
    print(f"keys in that largest body: {keys:,}; cap {webhooks.MAX_KEYS:,} keys (413 above it)")
    print(
        f"19,999 `[]` appends ({len(appends) / 1024:.0f} KB): "
        f"median {statistics.median(append_times) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
