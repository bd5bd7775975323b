"""Field setup: make the account's lead fields match `mapping.FIELDS` and store their ids and enum ids,
which every payload is written with (`field_map_load`)."""

import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from accounts.models import BouquetCategory, Profile
from amocrm import mapping
from amocrm.client import AmoCRMClient
from amocrm.exceptions import AmoCRMError, AmoCRMMappingError
from amocrm.models import CustomField, CustomFieldEnum
from amocrm.services.account import account_zone

logger = logging.getLogger(__name__)


def field_map_load() -> mapping.FieldMap:
    """The field and enum ids stored by the last setup run and the account's time zone, for mapping."""
    fields = list(CustomField.objects.prefetch_related("enums"))
    return mapping.FieldMap(
        field_ids={f.key: f.field_id for f in fields},
        enum_ids={f.key: {e.key: e.enum_id for e in f.enums.all()} for f in fields if f.enums.all()},
        zone=account_zone(),
    )


def desired_enums(key: str) -> list[tuple[str, str]]:
    """(site value, enum text) a select field must offer."""
    if key == CustomField.Key.BOUQUET_CATEGORY:
        return [(c.slug, c.name) for c in BouquetCategory.objects.filter(is_active=True)]
    if key == CustomField.Key.DELIVERY_INTERVAL:
        return mapping.choice_enums(Profile.DeliveryInterval)
    if key == CustomField.Key.ACCOUNT_STATUS:
        return mapping.choice_enums(Profile.AccountStatus)
    return []


@dataclass
class SetupReport:
    lines: list[str] = field(default_factory=list)
    fields_created: int = 0
    fields_updated: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.fields_created or self.fields_updated)


def _find_remote(
    spec: mapping.FieldSpec, remote: list[dict[str, Any]], stored: CustomField | None
) -> dict[str, Any] | None:
    """Our field in the account: by the id we stored, then by code, then by name (of the right type)."""
    if stored is not None:
        found = next((f for f in remote if f.get("id") == stored.field_id), None)
        if found:
            return found
    found = next((f for f in remote if f.get("code") == spec.code), None)
    if found:
        return found
    return next((f for f in remote if f.get("name") == spec.name and f.get("type") == spec.type), None)


def _match_enums(
    desired: list[tuple[str, str]], remote_enums: list[dict[str, Any]], stored_ids: dict[str, int]
) -> tuple[dict[str, dict[str, Any]], list[tuple[str, str]], dict[int, str]]:
    """Pair our values with existing enums (stored id first, then text): matched, missing, renames."""
    by_id = {e["id"]: e for e in remote_enums}
    matched: dict[str, dict[str, Any]] = {}
    missing: list[tuple[str, str]] = []
    renames: dict[int, str] = {}
    used: set[int] = set()
    for key, label in desired:
        enum = by_id.get(stored_ids.get(key, -1))
        if enum is None or enum["id"] in used:
            enum = next((e for e in remote_enums if e.get("value") == label and e["id"] not in used), None)
        if enum is None:
            missing.append((key, label))
            continue
        used.add(enum["id"])
        matched[key] = enum
        if enum.get("value") != label:
            renames[enum["id"]] = label  # e.g. a category renamed in the admin
    return matched, missing, renames


def _store_field(
    spec: mapping.FieldSpec, remote: dict[str, Any], enum_ids: dict[str, dict[str, Any]]
) -> None:
    with transaction.atomic():
        CustomField.objects.filter(field_id=remote["id"]).exclude(key=spec.key).delete()
        stored, _ = CustomField.objects.update_or_create(
            key=spec.key,
            defaults={
                "field_id": remote["id"],
                "field_type": remote.get("type") or spec.type,
                "code": remote.get("code") or "",
                "name": remote.get("name") or spec.name,
            },
        )
        live_ids = {e["id"] for e in remote.get("enums") or []}
        # Enums amoCRM no longer has are stale; enums of inactive categories stay (profiles may use them).
        stored.enums.exclude(enum_id__in=live_ids).delete()
        for key, enum in enum_ids.items():
            stored.enums.filter(enum_id=enum["id"]).exclude(key=key).delete()
            CustomFieldEnum.objects.update_or_create(
                field=stored, key=key, defaults={"enum_id": enum["id"], "value": enum.get("value") or ""}
            )


def _field_create(
    client: AmoCRMClient, spec: mapping.FieldSpec, desired: list[tuple[str, str]]
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": spec.name, "type": spec.type, "code": spec.code, "sort": spec.sort}
    if desired:
        body["enums"] = [{"value": label, "sort": (i + 1) * 10} for i, (_, label) in enumerate(desired)]
    created = client.custom_fields_create([body])
    if not created or not created[0].get("id"):
        raise AmoCRMError(f"amoCRM did not return the new field «{spec.name}»")
    remote = created[0]
    if desired and not remote.get("enums"):
        remote = client.custom_field_get(remote["id"])
    return remote


def _enums_update(
    client: AmoCRMClient,
    field_id: int,
    remote_enums: list[dict[str, Any]],
    missing: list[tuple[str, str]],
    renames: dict[int, str],
) -> dict[str, Any]:
    """PATCH the enum list: every existing enum with its id (kept), renamed ones, then the new ones."""
    top = max((e.get("sort") or 0 for e in remote_enums), default=0)
    enums = [
        {"id": e["id"], "value": renames.get(e["id"], e.get("value")), "sort": e.get("sort") or 0}
        for e in remote_enums
    ] + [{"value": label, "sort": top + (i + 1) * 10} for i, (_, label) in enumerate(missing)]
    remote = client.custom_field_update(field_id, {"enums": enums})
    if not remote.get("enums"):
        remote = client.custom_field_get(field_id)
    return remote


def fields_setup(*, client: AmoCRMClient, dry_run: bool = False) -> SetupReport:
    """Make the account's lead fields match mapping.FIELDS and store their ids; a second run changes nothing.

    Enums are only ever added or renamed: a PATCH replaces the whole list, so existing enums are sent
    back with their ids (an enum left out would be deleted with the value it holds on every lead).
    """
    report = SetupReport()
    remote_fields = client.custom_fields_list("leads")
    stored_fields = {f.key: f for f in CustomField.objects.prefetch_related("enums")}
    for spec in mapping.FIELDS:
        stored = stored_fields.get(spec.key)
        desired = desired_enums(spec.key) if spec.type == "select" else []
        remote = _find_remote(spec, remote_fields, stored)
        if remote is None:
            report.fields_created += 1
            labels = ", ".join(label for _, label in desired)
            report.lines.append(f"create «{spec.name}» ({spec.type}{': ' + labels if labels else ''})")
            if dry_run:
                continue
            remote = _field_create(client, spec, desired)
            remote_fields.append(remote)
        elif remote.get("type") != spec.type:
            raise AmoCRMMappingError(
                f"amoCRM field «{remote.get('name')}» ({remote.get('id')}) is of type "
                f"{remote.get('type')}, not {spec.type}"
            )
        else:
            report.lines.append(f"found «{spec.name}» ({remote['id']})")
        matched: dict[str, dict[str, Any]] = {}
        if desired:
            stored_ids = {}
            if stored is not None and stored.field_id == remote["id"]:
                stored_ids = {e.key: e.enum_id for e in stored.enums.all()}
            remote_enums = list(remote.get("enums") or [])
            matched, missing, renames = _match_enums(desired, remote_enums, stored_ids)
            if missing or renames:
                report.fields_updated += 1
                parts = [f"add {', '.join(label for _, label in missing)}"] if missing else []
                parts += [f"rename enum {enum_id} to {label}" for enum_id, label in renames.items()]
                report.lines.append(f"update «{spec.name}» ({remote['id']}): {'; '.join(parts)}")
                if dry_run:
                    continue
                remote = _enums_update(client, remote["id"], remote_enums, missing, renames)
                matched, missing, _ = _match_enums(desired, list(remote.get("enums") or []), stored_ids)
                if missing:
                    raise AmoCRMMappingError(f"amoCRM did not add the enums of «{spec.name}»")
        if not dry_run:
            _store_field(spec, remote, matched)
    logger.info(
        "amocrm.fields_setup dry_run=%s created=%s updated=%s",
        dry_run,
        report.fields_created,
        report.fields_updated,
    )
    return report
