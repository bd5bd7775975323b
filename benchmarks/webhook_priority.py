"""Managers' changes during a signup backlog: how long a webhook apply waits in the task queue.

    python -m benchmarks.webhook_priority [--backlog 1000] [--samples 20] [--every 2] [--workers 1]

A throwaway database (SQLite, or `--database-url` PostgreSQL), the amoCRM stand-in at amoCRM's 7
requests/second with our fields set up, `--backlog` customers inserted through the ORM and each given
its own sync task, as 1,000 signups in a burst leave them (`lead_sync_after_commit`). Then
`--workers` `db_worker`s start, and every `--every` seconds a webhook event (a lead unknown to the
site: applying it is quick) is stored and queued as the webhook view does. Printed: each apply's
wait, from enqueued to started (django-tasks-db's own timestamps), median and worst, and how many
sync tasks were still waiting at the end (the backlog was there throughout when it is not 0).
Issue 23 measured a median of 282 s (worst 546 s) with one FIFO; the target is ≤ 5 s.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import time
import uuid

from tools.harness.crm import crm_env, crm_run
from tools.harness.figures import load_average
from tools.harness.inprocess import bulk_customers, django_setup
from tools.harness.processes import free_port, spawn, stop
from tools.harness.site import manage, manage_args, prepare, site_env, worker_command


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=1000, help="signups waiting for their sync (1000)")
    parser.add_argument("--samples", type=int, default=20, help="webhook applies timed (20)")
    parser.add_argument("--every", type=float, default=2.0, help="seconds between two webhooks (2)")
    parser.add_argument("--workers", type=int, default=1, help="db_worker processes (1)")
    parser.add_argument("--database-url", help="a PostgreSQL database to create, use and drop")
    parser.add_argument("--timeout", type=int, default=600, help="seconds for the whole run (600)")
    args = parser.parse_args()

    with crm_run(args.timeout, args.database_url) as (database_url, tmp, server, control):
        env = crm_env(site_env(database_url, free_port()), server, control.token())
        prepare(env, static=False, timeout=args.timeout)
        manage(env, "amocrm_setup_fields", timeout=60)
        django_setup(env)
        from django.utils import timezone
        from django_tasks_db.models import DBTaskResult

        from amocrm.models import WebhookEvent
        from amocrm.services import enqueue, outbox

        first_delivery = timezone.localdate() + datetime.timedelta(days=7)
        profiles = bulk_customers("backlog", args.backlog, first_delivery)
        ids = [profile.pk for profile in profiles]
        outbox.lead_sync_mark_queued(profile_ids=ids)
        for profile_id in ids:
            enqueue.lead_sync_after_commit(profile_id=profile_id)  # outside a transaction: at once
        workers = [
            spawn(manage_args(*worker_command("0.2")), env, log=tmp / f"worker-{n}.log")
            for n in range(args.workers)
        ]
        try:
            time.sleep(3)  # the workers are busy with the backlog
            for _ in range(args.samples):
                event = WebhookEvent.objects.create(
                    dedupe_key=uuid.uuid4().hex, lead_id=999_999_999, action="update"
                )
                enqueue.webhook_events_after_commit(event_ids=[event.pk])
                time.sleep(args.every)
            time.sleep(3)
        finally:
            for worker in workers:
                stop(worker)
        applies = DBTaskResult.objects.filter(task_path__endswith="webhook_apply")
        waits = [
            (row.started_at - row.enqueued_at).total_seconds()
            for row in applies
            if row.started_at is not None
        ]
        left = DBTaskResult.objects.filter(task_path__endswith="sync_profile", status="READY").count()

    print(f"benchmarks.webhook_priority: {args.backlog} signups queued, {args.workers} db_worker(s)")
    print(f"load average (1, 5, 15 min) after the run: {load_average()}")
    if waits:
        print(
            f"webhook applies started: {len(waits)}/{args.samples}; wait in the queue: median "
            f"{statistics.median(waits):.2f} s, worst {max(waits):.2f} s"
        )
    else:
        print(f"webhook applies started: 0/{args.samples}")
    print(f"sync tasks still waiting at the end: {left} of {args.backlog}")


if __name__ == "__main__":
    main()
