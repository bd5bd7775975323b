"""`manage.py amocrm_check`, one doctor: read what the integration relies on, repair what a command
may repair, and list what staff must fix. Run daily (deploy/flower-account-check.timer).

It reads, in this order and at most once each: the token (the database, no request), the account,
the pipelines and their stages, the lead fields and the webhooks — four requests when all is well,
one more to repair the webhook (three when amoCRM keeps it off). It repairs the webhook amoCRM
switched off (after more than 100 bad answers in two hours; docs/amocrm-api.md §8) or lost, by
subscribing it again. It only
reports what needs a person: a stage or pipeline id that does not exist, AMOCRM_STATUS_ID set to the
pipeline's «Неразобранное» stage (type 1: amoCRM takes no lead there through the API), a status map
naming another pipeline's stages, fields missing or deleted in amoCRM, a user without admin rights.
A failure that stops every call (no token, a block, amoCRM down) ends the check at once.
The last result is one HealthCheck row, shown on the control room.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from django.conf import settings
from django.utils import timezone

from amocrm import mapping
from amocrm.client import AmoCRMClient
from amocrm.exceptions import AmoCRMError, AmoCRMRightsRefused
from amocrm.models import CustomField, HealthCheck, OAuthToken
from amocrm.services import webhook_events
from amocrm.services.account import account_refresh
from amocrm.services.connection import client_get, is_enabled
from amocrm.services.webhook_events import HookState

logger = logging.getLogger(__name__)

NAME = "amocrm"
UNSORTED = 1  # a stage's `type`: «Неразобранное», the first stage of every pipeline
SETUP_FIELDS = "run manage.py amocrm_setup_fields"


@dataclass
class HealthReport:
    lines: list[str] = field(default_factory=list)  # what was read, for the operator
    problems: list[str] = field(default_factory=list)  # what staff must fix
    repairs: list[str] = field(default_factory=list)  # what this run fixed
    requests: int = 0  # HTTP requests made to amoCRM

    @property
    def is_healthy(self) -> bool:
        return not self.problems


def health_last() -> HealthCheck | None:
    return HealthCheck.objects.filter(pk=NAME).first()


def health_check(*, client: AmoCRMClient | None = None, dry_run: bool = False) -> HealthReport:
    """Check everything, repair the webhook (not with `dry_run`), store the result (not with `dry_run`)."""
    report = HealthReport()
    if not is_enabled():
        report.problems.append("The amoCRM integration is off: set AMOCRM_BASE_URL and credentials.")
    elif _token_ok(report):
        client = client or client_get(max_retries=1)
        client.session.hooks["response"].append(_counter(report))
        _read(report, client=client, dry_run=dry_run)
        _token_expiry(report)  # after the calls: they refresh a token that was due
    if not dry_run:
        HealthCheck.objects.update_or_create(
            pk=NAME,
            defaults={
                "checked_at": timezone.now(),
                "is_healthy": report.is_healthy,
                "problems": report.problems,
                "repairs": report.repairs,
                "requests": report.requests,
            },
        )
    logger.info(
        "amocrm.health_checked problems=%d repairs=%d requests=%d",
        len(report.problems),
        len(report.repairs),
        report.requests,
    )
    return report


def _counter(report: HealthReport) -> Callable[..., None]:
    def count(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        report.requests += 1

    return count


def _token_ok(report: HealthReport) -> bool:
    if settings.AMOCRM_LONG_LIVED_TOKEN:
        report.lines.append("Token: a long-lived token from the settings.")
        return True
    token = OAuthToken.objects.order_by("-updated_at").only("expires_at").first()
    if token is None:
        report.problems.append(
            "amoCRM is not connected: connect it from the control room (or manage.py amocrm_connect)."
        )
        return False
    return True


def _token_expiry(report: HealthReport) -> None:
    token = OAuthToken.objects.order_by("-updated_at").only("expires_at").first()
    if token is not None and not settings.AMOCRM_LONG_LIVED_TOKEN:
        when = timezone.localtime(token.expires_at)
        report.lines.append(f"Token: valid until {when:%Y-%m-%d %H:%M} (refreshed by itself).")


def _read(report: HealthReport, *, client: AmoCRMClient, dry_run: bool) -> None:
    steps = (
        ("account", _account),
        ("pipelines", _pipelines),
        ("fields", _fields),
        ("webhook", _webhook),
    )
    for title, step in steps:
        try:
            step(report, client=client, dry_run=dry_run)
        except AmoCRMRightsRefused as e:
            report.problems.append(f"{title}: {e.ADMIN_NEEDED} ({e}).")
        except AmoCRMError as e:
            report.problems.append(f"{title}: amoCRM could not be read: {e}")
            if e.transient or e.opens_breaker:
                return  # no token, a block, amoCRM down: the next steps would fail the same way


def _account(report: HealthReport, *, client: AmoCRMClient, dry_run: bool) -> None:
    account = account_refresh(client=client)
    report.lines.append(f"Account: {account.name or '-'} ({account.subdomain}, id {account.account_id}).")


def _pipelines(report: HealthReport, *, client: AmoCRMClient, dry_run: bool) -> None:
    pipelines = client.pipelines_list()
    names = ", ".join(f"«{p.get('name')}» {p.get('id')}" for p in pipelines)
    wanted = settings.AMOCRM_PIPELINE_ID
    if wanted is None:
        pipeline = next((p for p in pipelines if p.get("is_main")), None)
    else:
        pipeline = next((p for p in pipelines if p.get("id") == wanted), None)
        if pipeline is None:
            report.problems.append(
                f"AMOCRM_PIPELINE_ID={wanted}: amoCRM has no such pipeline (it has: {names})."
            )
            return
    if pipeline is None:
        report.problems.append(f"amoCRM names no main pipeline: set AMOCRM_PIPELINE_ID (pipelines: {names}).")
        return
    stages = _stages(pipeline)
    report.lines.append(f"Pipeline: «{pipeline.get('name')}» ({pipeline.get('id')}), {len(stages)} stages.")
    _status_id(report, pipeline=pipeline, pipelines=pipelines)
    outside = sorted(stage for stage in settings.AMOCRM_STATUS_MAP if stage not in stages)
    if outside:
        report.problems.append(
            f"AMOCRM_STATUS_MAP names stage(s) {', '.join(map(str, outside))}, which are not stages of "
            f"pipeline «{pipeline.get('name')}» ({pipeline.get('id')}): their webhooks would change nothing."
        )


def _stages(pipeline: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {int(s["id"]): s for s in (pipeline.get("_embedded") or {}).get("statuses") or [] if "id" in s}


def _status_id(report: HealthReport, *, pipeline: dict[str, Any], pipelines: list[dict[str, Any]]) -> None:
    status_id = settings.AMOCRM_STATUS_ID
    if status_id is None:
        return
    stages = _stages(pipeline)
    stage = stages.get(status_id)
    where = f"pipeline «{pipeline.get('name')}» ({pipeline.get('id')})"
    if stage is None:
        elsewhere = next((p for p in pipelines if status_id in _stages(p)), None)
        hint = f"; it is a stage of «{elsewhere.get('name')}» ({elsewhere.get('id')})" if elsewhere else ""
        report.problems.append(f"AMOCRM_STATUS_ID={status_id} is not a stage of {where}{hint}.")
    elif stage.get("type") == UNSORTED:
        usable = next(
            (s for s in stages.values() if s.get("type") != UNSORTED and s["id"] not in (142, 143)), None
        )
        hint = f" Choose a working stage, e.g. «{usable.get('name')}» ({usable['id']})." if usable else ""
        report.problems.append(
            f"AMOCRM_STATUS_ID={status_id} is «{stage.get('name')}», the unsorted stage of {where}: "
            f"amoCRM takes no lead there through the API (400 NotSupportedChoice at status_id), "
            f"so every new customer's lead would fail.{hint}"
        )
    else:
        report.lines.append(f"New leads go to stage «{stage.get('name')}» ({status_id}).")


def _fields(report: HealthReport, *, client: AmoCRMClient, dry_run: bool) -> None:
    remote = {f.get("id"): f for f in client.custom_fields_list("leads")}
    stored = {f.key: f for f in CustomField.objects.prefetch_related("enums")}
    missing = [spec.name for spec in mapping.FIELDS if spec.key not in stored]
    if missing:
        report.problems.append(f"Lead fields not set up: {', '.join(missing)}: {SETUP_FIELDS}.")
    for known in stored.values():
        field_ = remote.get(known.field_id)
        if field_ is None:
            report.problems.append(
                f"The lead field «{known.name}» ({known.field_id}) is gone from amoCRM: {SETUP_FIELDS}."
            )
            continue
        enum_ids = {e.get("id") for e in field_.get("enums") or []}
        gone = [e.value for e in known.enums.all() if e.enum_id not in enum_ids]
        if gone:
            report.problems.append(
                f"The lead field «{known.name}» lost its choice(s) {', '.join(gone)} in amoCRM: "
                f"{SETUP_FIELDS}."
            )
    report.lines.append(
        f"Lead fields: {len(stored)} of {len(mapping.FIELDS)} set up, {len(remote)} in amoCRM."
    )


def _webhook(report: HealthReport, *, client: AmoCRMClient, dry_run: bool) -> None:
    if not settings.AMOCRM_WEBHOOK_SECRET:
        report.problems.append(
            "AMOCRM_WEBHOOK_SECRET is not set: amoCRM's changes arrive only through reconciliation."
        )
        return
    destination = webhook_events.webhook_url()
    state = webhook_events.webhook_state(client.webhooks_list(destination), destination=destination)
    if state is None:
        report.lines.append("Webhook: subscribed and on.")
        return
    why = {
        HookState.MISSING: "was not subscribed",
        HookState.DISABLED: "was switched off by amoCRM (too many failed deliveries)",
        HookState.EVENTS: "lacked some events",
    }[state]
    if dry_run:
        report.problems.append(f"The webhook {why}: would subscribe it again.")
        return
    webhook_events.webhook_resubscribe(client=client, destination=destination)
    report.repairs.append(f"The webhook {why}: subscribed it again.")
