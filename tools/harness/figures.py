"""The figures benchmarks print: percentiles, milliseconds, the machine's load, requests per second."""

from __future__ import annotations

import math
import os
import statistics


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:.1f} ms, p95 {percentile(values, 0.95) * 1000:.1f} ms"


def request_table(timings: dict[str, list[float]], width: int) -> None:
    """Print each request's median and p95 in ms and its median over /healthz's (a key of `timings`)."""
    print(f"{'request':<{width}}{'median ms':>11}{'p95 ms':>9}{'× /healthz':>12}")
    floor = statistics.median(timings["GET /healthz"])
    for name, values in timings.items():
        median = statistics.median(values)
        p95 = percentile(values, 0.95)
        print(f"{name:<{width}}{median * 1000:>11.1f}{p95 * 1000:>9.1f}{median / floor:>12.1f}")


def load_average() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def max_in_any_second(times: list[float]) -> int:
    """The most of `times` (seconds) that fall within any one-second window: what a rate limit sees."""
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best
