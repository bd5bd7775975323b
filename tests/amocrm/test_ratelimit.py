import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from amocrm.ratelimit import SPACING_MARGIN, DatabaseRateLimiter
from tools.harness.figures import max_in_any_second

ROOT = Path(__file__).resolve().parents[2]


def test_slots_in_one_process_are_spaced_by_the_rate(db):
    waits: list[float] = []
    limiter = DatabaseRateLimiter(rate=7, sleep=waits.append)

    slots = [limiter.acquire() for _ in range(15)]

    gaps = [(b - a).total_seconds() for a, b in zip(slots, slots[1:], strict=False)]
    assert min(gaps) >= SPACING_MARGIN / 7 - 1e-6
    assert max_in_any_second([s.timestamp() for s in slots]) <= 7
    assert len(waits) == 14  # every slot after the first was in the future: the caller waited


def test_limiters_are_named_and_independent(db):
    first = DatabaseRateLimiter(rate=1, name="a", sleep=lambda s: None)
    second = DatabaseRateLimiter(rate=1, name="b", sleep=lambda s: None)

    assert abs((first.acquire() - second.acquire()).total_seconds()) < 0.5


def test_rate_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        DatabaseRateLimiter(rate=0)


def test_several_processes_share_one_rate(tmp_path):
    """Four real processes on one file database: their slots never come closer than the rate allows."""
    rate, per_process, processes = 20, 10, 4
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "flower_account.settings",
        "SECRET_KEY": "test-only",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'limiter.sqlite3'}",
    }
    command = [sys.executable, "-m", "tests.amocrm.ratelimit_worker", "--rate", str(rate)]
    subprocess.run([*command, "--init"], env=env, cwd=ROOT, check=True, timeout=60)  # noqa: S603 - fixed argv

    workers = [
        subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
            [*command, "--count", str(per_process)], env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        for _ in range(processes)
    ]
    outputs = [worker.communicate(timeout=60)[0] for worker in workers]

    assert [worker.returncode for worker in workers] == [0] * processes
    slots = sorted(slot for output in outputs for slot in json.loads(output))
    assert len(slots) == len(set(slots)) == processes * per_process
    gaps = [b - a for a, b in zip(slots, slots[1:], strict=False)]
    # SQLite's clock has millisecond precision.
    assert min(gaps) >= datetime.timedelta(seconds=SPACING_MARGIN / rate).total_seconds() - 1e-3
    assert max_in_any_second(slots) <= rate


def test_the_limiter_row_is_created_when_missing(db):
    from amocrm.models import RateLimit

    limiter = DatabaseRateLimiter(rate=7, sleep=lambda s: None)
    limiter.acquire()
    RateLimit.objects.all().delete()

    limiter.acquire()

    assert RateLimit.objects.filter(name="amocrm").count() == 1
