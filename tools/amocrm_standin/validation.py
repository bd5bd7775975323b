"""amoCRM's validation rules, as pure checks over plain dicts: no HTTP, no locks, no state of their own.

A check adds `{code, path, detail}` entries to an `Errors` list; a batch gathers them per item into
`Invalid`, amoCRM's `validation-errors` groups, so one bad item rejects the whole request. The state
the rules need (the fields of an entity, which leads and contacts exist) is passed in by the caller.
"""

import math
import zoneinfo
from collections.abc import Callable, Collection, Mapping
from typing import Any
from urllib.parse import urlsplit

from tools.amocrm_standin.constants import (
    API_USER_ID,
    CONTACT_KEYS,
    DATE_TYPES,
    ENUM_TYPES,
    FIELD_CODE,
    FIELD_TYPES,
    INTEGER_KEYS,
    LEAD_KEYS,
    MANAGER_USER_ID,
    NOTE_KEYS,
    NOTE_PARAMS,
    NOTE_TEXT_MAX_LENGTH,
    NUMBER_TYPES,
    NUMERIC_STRING,
    PIPELINE_ID,
    PIPELINES,
    SINGLE_VALUE_TYPES,
    SUBDOMAIN_PATTERN,
    TASK_ENTITY_TYPES,
    TASK_KEYS,
    TASK_TYPES,
    TEXT_MAX_LENGTH,
    UNSORTED_TYPE,
    WEBHOOK_EVENTS,
    Fields,
)


class Invalid(Exception):
    """A 400 in amoCRM's validation-errors shape; one bad item rejects the whole request."""

    def __init__(self, groups: list[dict[str, Any]]) -> None:
        super().__init__("validation failed")
        self.groups = groups

    @classmethod
    def one(cls, code: str, path: str, detail: str, request_id: str = "0") -> "Invalid":
        return cls([{"request_id": request_id, "errors": [{"code": code, "path": path, "detail": detail}]}])


class Errors(list):
    def add(self, code: str, path: str, detail: str) -> None:
        self.append({"code": code, "path": path, "detail": detail})


class ControlError(Exception):
    """The control API was asked for something impossible; it answers 400 with the message."""


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_bool(key: str, value: Any) -> bool:
    """A control switch: JSON true/false, or the page's "1"/"0", "true"/"false", "on"/"off"."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "on", "yes"):
        return True
    if text in ("0", "false", "off", "no", ""):
        return False
    raise ControlError(f"{key} must be true or false")


def check_account_settings(data: dict[str, Any]) -> dict[str, Any]:
    """The account's settings (subdomain, timezone, and switches) in their stored form."""
    checked: dict[str, Any] = {}
    for key, value in data.items():
        if key == "subdomain":
            if not isinstance(value, str) or not SUBDOMAIN_PATTERN.fullmatch(value):
                raise ControlError("subdomain must be lowercase letters, digits and hyphens")
        elif key == "timezone":
            try:
                zoneinfo.ZoneInfo(value)
            except (TypeError, ValueError, zoneinfo.ZoneInfoNotFoundError):
                raise ControlError(f"not a time zone: {value!r} (e.g. Asia/Novosibirsk)") from None
        else:
            value = parse_bool(key, value)
        checked[key] = value
    return checked


def is_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and " " not in value


def validate_batch(body: list[Any], check: Callable[[Any, Errors], dict]) -> list[dict]:
    """Every item's checked form, or `Invalid` naming each bad item by its request_id (or index)."""
    groups, checked = [], []
    for index, item in enumerate(body):
        errors = Errors()
        checked.append(check(item, errors))
        if errors:
            request_id = item.get("request_id") if isinstance(item, dict) else None
            groups.append(
                {"request_id": str(request_id if request_id is not None else index), "errors": errors}
            )
    if groups:
        raise Invalid(groups)
    return checked


# -- custom fields ------------------------------------------------------------------------------


def check_enums(enums: Any, path: str, errors: Errors, existing: list | None) -> list | None:
    if not isinstance(enums, list) or not enums:
        errors.add("InvalidType", path, "enums must be a non-empty array")
        return None
    known = {e["id"]: e for e in existing or []}
    checked = []
    seen: set[str] = set()
    for i, enum in enumerate(enums):
        if not isinstance(enum, dict):
            errors.add("InvalidType", f"{path}.{i}", "An enum must be an object")
            continue
        value, sort = enum.get("value"), enum.get("sort", (i + 1) * 10)
        if not isinstance(value, str) or not value.strip():
            errors.add("NotBlank", f"{path}.{i}.value", "This value should not be blank.")
            continue
        if value in seen:
            errors.add("NotUnique", f"{path}.{i}.value", "Enum values must be unique")
        seen.add(value)
        if not is_int(sort):
            errors.add("InvalidType", f"{path}.{i}.sort", "This value should be of type integer.")
            continue
        if "id" in enum and (not is_int(enum["id"]) or enum["id"] not in known):
            errors.add("NotSupportedChoice", f"{path}.{i}.id", "No such enum on this field")
            continue
        checked.append({"id": enum.get("id"), "value": value, "sort": sort})
    return checked


def check_new_fields(body: list[Any], codes: set[str | None]) -> list[tuple[dict, list | None]]:
    """(field, its checked enums) for each new field; `codes` are the entity's codes so far."""
    groups, checked = [], []
    for index, item in enumerate(body):
        errors = Errors()
        if not isinstance(item, dict):
            errors.add("InvalidType", "", "A field must be an object")
        else:
            if not isinstance(item.get("name"), str) or not item["name"].strip():
                errors.add("NotBlank", "name", "This value should not be blank.")
            if item.get("type") not in FIELD_TYPES - {"multitext"}:
                errors.add("NotSupportedChoice", "type", "The value you selected is not a valid choice.")
            code = item.get("code")
            if code is not None and (not isinstance(code, str) or not FIELD_CODE.fullmatch(code)):
                errors.add("InvalidCode", "code", "A code is [A-Z0-9_]")
            elif code is not None and code in codes:
                errors.add("NotUnique", "code", "A field with this code already exists")
            codes.add(code)
            if "sort" in item and not is_int(item["sort"]):
                errors.add("InvalidType", "sort", "This value should be of type integer.")
            item_enums = None
            if item.get("type") in ENUM_TYPES:
                item_enums = check_enums(item.get("enums"), "enums", errors, None)
            checked.append((item, item_enums))
        if errors:
            groups.append({"request_id": str(index), "errors": errors})
    if groups:
        raise Invalid(groups)
    return checked


def check_field_change(data: dict[str, Any], found: dict[str, Any]) -> list | None:
    """The field's new enums (None: left as they are) for a PATCH of `found`."""
    errors = Errors()
    if "name" in data and (not isinstance(data["name"], str) or not data["name"].strip()):
        errors.add("NotBlank", "name", "This value should not be blank.")
    if "sort" in data and not is_int(data["sort"]):
        errors.add("InvalidType", "sort", "This value should be of type integer.")
    enums = None
    if "enums" in data:
        if found["type"] not in ENUM_TYPES:
            errors.add("NotSupported", "enums", "This field has no enums")
        else:
            enums = check_enums(data["enums"], "enums", errors, found["enums"])
    if errors:
        raise Invalid([{"request_id": "0", "errors": errors}])
    return enums


# -- custom field values ------------------------------------------------------------------------


def field_by(fields: Fields, item: dict[str, Any], path: str, errors: Errors) -> dict | None:
    if "field_id" in item:
        field_id = item["field_id"]
        if not is_int(field_id):
            errors.add("InvalidType", f"{path}.field_id", "This value should be of type integer.")
            return None
        found = fields.get(field_id)
        if found is None:
            errors.add(
                "NotSupportedChoice", f"{path}.field_id", "The value you selected is not a valid choice."
            )
        return found
    if "field_code" in item:
        code = item["field_code"]
        found = next((f for f in fields.values() if code and f["code"] == code), None)
        if found is None:
            errors.add(
                "NotSupportedChoice",
                f"{path}.field_code",
                "The value you selected is not a valid choice.",
            )
        return found
    errors.add("NotBlank", f"{path}.field_id", "field_id or field_code is required; names are not accepted")
    return None


def check_value(spec: dict[str, Any], value: Any, path: str, errors: Errors) -> dict | None:
    if not isinstance(value, dict):
        errors.add("InvalidType", path, "A value must be an object")
        return None
    kind, raw = spec["type"], value.get("value")
    enums = spec["enums"] or []
    if kind in ("select", "radiobutton", "multiselect"):
        if "enum_id" in value:
            enum = next((e for e in enums if is_int(value["enum_id"]) and e["id"] == value["enum_id"]), None)
            where = f"{path}.enum_id"
        else:
            enum = next((e for e in enums if isinstance(raw, str) and e["value"] == raw), None)
            where = f"{path}.value"
        if enum is None:
            errors.add("NotSupportedChoice", where, "The value you selected is not a valid choice.")
            return None
        return {"value": enum["value"], "enum_id": enum["id"], "enum_code": None}
    if kind == "multitext":
        code = value.get("enum_code", "WORK")
        enum = next((e for e in enums if e["value"] == code), None)
        if "enum_id" in value:
            enum = next((e for e in enums if e["id"] == value["enum_id"]), None)
        if enum is None:
            errors.add(
                "NotSupportedChoice", f"{path}.enum_code", "The value you selected is not a valid choice."
            )
            return None
        if not isinstance(raw, str) or not raw.strip():
            errors.add("NotBlank", f"{path}.value", "This value should not be blank.")
            return None
        return {"value": raw, "enum_id": enum["id"], "enum_code": enum["value"]}
    where = f"{path}.value"
    if kind in DATE_TYPES:
        if not is_int(raw):
            errors.add("InvalidType", where, "This value should be of type integer (a Unix timestamp).")
            return None
        return {"value": raw}
    if kind in NUMBER_TYPES:
        number_ok = (is_int(raw) or isinstance(raw, float)) and math.isfinite(raw)
        if not number_ok and not (isinstance(raw, str) and NUMERIC_STRING.fullmatch(raw)):
            errors.add("InvalidType", where, "This value should be a number (a dot before decimals).")
            return None
        return {"value": str(raw)}
    if kind == "checkbox":
        if not isinstance(raw, bool):
            errors.add("InvalidType", where, "This value should be of type boolean.")
            return None
        return {"value": raw}
    if not isinstance(raw, str):
        errors.add("InvalidType", where, "This value should be of type string.")
        return None
    if kind == "text" and len(raw) > TEXT_MAX_LENGTH:
        errors.add("InvalidLength", where, f"This value is too long: {TEXT_MAX_LENGTH} characters at most.")
        return None
    if kind == "url" and not is_url(raw):
        errors.add("InvalidUrl", where, "This value is not a valid URL.")
        return None
    return {"value": raw}


def check_custom_fields(fields: Fields, items: Any, errors: Errors) -> list[tuple[int, list | None]]:
    """(field id, stored values or None to clear) for every item; problems go to `errors`."""
    path = "custom_fields_values"
    if items is None:
        return []
    if not isinstance(items, list):
        errors.add("InvalidType", path, "This value should be of type array.")
        return []
    checked = []
    for i, item in enumerate(items):
        where = f"{path}.{i}"
        if not isinstance(item, dict):
            errors.add("InvalidType", where, "This value should be of type object.")
            continue
        spec = field_by(fields, item, where, errors)
        if spec is None:
            continue
        if "values" not in item:
            errors.add("NotBlank", f"{where}.values", "This value should not be blank.")
            continue
        values = item["values"]
        if values is None:
            checked.append((spec["id"], None))
            continue
        if not isinstance(values, list) or not values:
            errors.add("NotBlank", f"{where}.values", "Send a non-empty array, or null to clear the field.")
            continue
        if spec["type"] in SINGLE_VALUE_TYPES and len(values) > 1:
            errors.add("TooMany", f"{where}.values", "This field holds one value.")
            continue
        stored = [check_value(spec, v, f"{where}.values.{j}", errors) for j, v in enumerate(values)]
        if all(v is not None for v in stored):
            checked.append((spec["id"], stored))
    return checked


# -- leads, contacts, links, notes, subscriptions -----------------------------------------------


def check_common(item: dict[str, Any], allowed: set[str], errors: Errors) -> None:
    for key in item:
        if key not in allowed:
            errors.add("ExtraField", key, "This field was not expected.")
    for key in INTEGER_KEYS & set(item):
        if item[key] is not None and not is_int(item[key]):
            errors.add("InvalidType", key, "This value should be of type integer.")
    for key in ("name", "first_name", "last_name"):
        if key in item and not isinstance(item[key], str):
            errors.add("InvalidType", key, "This value should be of type string.")
    if "request_id" in item and not isinstance(item["request_id"], str | int):
        errors.add("InvalidType", "request_id", "This value should be of type string.")
    if "price" in item and is_int(item["price"]) and not 0 <= item["price"] < 2**31:
        errors.add("InvalidRange", "price", "This value is out of range.")
    for key in ("tags_to_add", "tags_to_delete"):
        if key in item:
            check_tags(item[key], key, errors)


def check_tags(tags: Any, path: str, errors: Errors) -> None:
    if not isinstance(tags, list):
        errors.add("InvalidType", path, "This value should be of type array.")
        return
    for i, tag in enumerate(tags):
        ok = isinstance(tag, dict) and (
            (isinstance(tag.get("name"), str) and tag["name"].strip()) or is_int(tag.get("id"))
        )
        if not ok:
            errors.add("InvalidType", f"{path}.{i}", "A tag is {name} or {id}.")


def check_lead(
    item: Any,
    errors: Errors,
    *,
    fields: dict[str, Fields],
    leads: Collection[int],
    contacts: Collection[int],
    update: bool,
    complex_: bool = False,
    rejected: Mapping[int, str] | None = None,
) -> dict:
    """The checked lead: its custom field changes and the contacts it names (ids or new ones);
    an update of a lead in `rejected` fails with its message (a failure the control API injects)."""
    checked: dict[str, Any] = {"cf": [], "contact_ids": [], "new_contact": None, "tags": []}
    if not isinstance(item, dict):
        errors.add("InvalidType", "", "A lead must be an object")
        return checked
    check_common(item, LEAD_KEYS if update else LEAD_KEYS - {"id"}, errors)
    if update:
        if not is_int(item.get("id")):
            errors.add("NotBlank", "id", "Every item of an update needs its integer id.")
        elif item["id"] not in leads:
            errors.add("NotFound", "id", "The lead does not exist.")
        elif rejected and item["id"] in rejected:
            errors.add("Rejected", "id", rejected[item["id"]])
    if is_int(item.get("pipeline_id")) and item["pipeline_id"] not in {p["id"] for p in PIPELINES}:
        errors.add("NotSupportedChoice", "pipeline_id", "The value you selected is not a valid choice.")
    if is_int(item.get("status_id")):
        pipeline_id = item.get("pipeline_id") or PIPELINE_ID
        statuses = next((p["statuses"] for p in PIPELINES if p["id"] == pipeline_id), [])
        # The unsorted stage (type 1) is listed, but a lead gets there only through the unsorted API.
        if item["status_id"] not in {s[0] for s in statuses if s[3] != UNSORTED_TYPE}:
            errors.add("NotSupportedChoice", "status_id", "The value you selected is not a valid choice.")
    if is_int(item.get("responsible_user_id")) and item["responsible_user_id"] not in (
        API_USER_ID,
        MANAGER_USER_ID,
    ):
        errors.add("NotSupportedChoice", "responsible_user_id", "No such user.")
    checked["cf"] = check_custom_fields(fields["leads"], item.get("custom_fields_values"), errors)
    embedded = item.get("_embedded")
    if embedded is None:
        embedded = {}
    if not isinstance(embedded, dict):
        errors.add("InvalidType", "_embedded", "This value should be of type object.")
        return checked
    for key in embedded:
        if key not in ("tags", "contacts", "companies", "source", "metadata"):
            errors.add("ExtraField", f"_embedded.{key}", "This field was not expected.")
    if "tags" in embedded:
        check_tags(embedded["tags"], "_embedded.tags", errors)
        if isinstance(embedded["tags"], list):
            checked["tags"] = [t for t in embedded["tags"] if isinstance(t, dict)]
    contacts_named = embedded.get("contacts", [])
    if not isinstance(contacts_named, list):
        errors.add("InvalidType", "_embedded.contacts", "This value should be of type array.")
        return checked
    if complex_ and len(contacts_named) > 1:
        errors.add("TooMany", "_embedded.contacts", "A complex lead takes one contact.")
    for i, contact in enumerate(contacts_named):
        where = f"_embedded.contacts.{i}"
        if isinstance(contact, dict) and set(contact) <= {"id", "is_main"} and "id" in contact:
            if not is_int(contact["id"]) or contact["id"] not in contacts:
                errors.add("NotFound", f"{where}.id", "The contact does not exist.")
            else:
                checked["contact_ids"].append(contact["id"])
        elif complex_:
            contact_errors = Errors()
            checked["new_contact"] = check_contact(contact, contact_errors, fields=fields["contacts"])
            for error in contact_errors:
                errors.add(error["code"], f"{where}.{error['path']}".rstrip("."), error["detail"])
        else:
            errors.add("NotBlank", f"{where}.id", "Link existing contacts by id (or use /leads/complex).")
    return checked


def check_contact(
    item: Any, errors: Errors, *, fields: Fields, contacts: Collection[int] | None = None
) -> dict:
    """The checked contact of a create, or of an update when `contacts` (the existing ids) is given."""
    checked: dict[str, Any] = {"cf": [], "item": item}
    if not isinstance(item, dict):
        errors.add("InvalidType", "", "A contact must be an object")
        return checked
    check_common(item, CONTACT_KEYS if contacts is not None else CONTACT_KEYS - {"id"}, errors)
    if contacts is not None and not is_int(item.get("id")):
        errors.add("NotBlank", "id", "Every item of an update needs its integer id.")
    elif contacts is not None and item["id"] not in contacts:
        errors.add("NotFound", "id", "The contact does not exist.")
    checked["cf"] = check_custom_fields(fields, item.get("custom_fields_values"), errors)
    return checked


def check_contact_update(item: Any, errors: Errors, *, fields: Fields, contacts: Collection[int]) -> dict:
    """One item of `PATCH /api/v4/contacts`: an existing contact's id, and what changes (names,
    custom field values; a field with `"values": null` is cleared)."""
    checked: dict[str, Any] = {"cf": [], "item": item, "names": {}}
    if not isinstance(item, dict):
        errors.add("InvalidType", "", "A contact must be an object")
        return checked
    if not is_int(item.get("id")):
        errors.add("NotBlank", "id", "Every contact needs its integer id.")
    elif item["id"] not in contacts:
        errors.add("NotFound", "id", "The contact does not exist.")
    check_common(item, CONTACT_KEYS, errors)
    checked["names"] = {key: item[key] for key in ("name", "first_name", "last_name") if key in item}
    if checked["names"].get("name") == "" and is_int(item.get("id")):
        checked["names"]["name"] = f"Контакт #{item['id']}"  # amoCRM names a nameless contact by its id
    checked["cf"] = check_custom_fields(fields, item.get("custom_fields_values"), errors)
    return checked


def check_link(item: Any, errors: Errors, *, contacts: Collection[int]) -> dict:
    if not isinstance(item, dict):
        errors.add("InvalidType", "", "A link must be an object")
        return {}
    if item.get("to_entity_type") != "contacts":
        errors.add("NotSupportedChoice", "to_entity_type", "The stand-in links contacts only.")
    elif not is_int(item.get("to_entity_id")) or item["to_entity_id"] not in contacts:
        errors.add("NotFound", "to_entity_id", "The contact does not exist.")
    return item


def check_note(item: Any, errors: Errors, *, leads: Collection[int], entity_id: int | None = None) -> dict:
    """The checked note: its lead (the path's on /leads/<id>/notes, which an item may only repeat),
    its type, its params and its responsible user. `leads` are the live ones: never a deleted lead."""
    if not isinstance(item, dict):
        errors.add("InvalidType", "", "A note must be an object")
        return {}
    for key in item:
        if key not in NOTE_KEYS:
            errors.add("ExtraField", key, "This field was not expected.")
    if "request_id" in item and not isinstance(item["request_id"], str | int):
        errors.add("InvalidType", "request_id", "This value should be of type string.")
    lead_id = item.get("entity_id", entity_id)
    if entity_id is not None and lead_id != entity_id:
        errors.add("NotEqual", "entity_id", "The entity_id differs from the lead in the path.")
    elif not is_int(lead_id):
        errors.add("NotBlank", "entity_id", "Every note needs the integer id of its lead.")
    elif lead_id not in leads:
        errors.add("NotFound", "entity_id", "The lead does not exist.")
    responsible = item.get("responsible_user_id")
    if responsible is not None and (
        not is_int(responsible) or responsible not in (API_USER_ID, MANAGER_USER_ID)
    ):
        errors.add("NotSupportedChoice", "responsible_user_id", "No such user.")
    note_type, params = item.get("note_type"), item.get("params")
    if not isinstance(note_type, str) or note_type not in NOTE_PARAMS:
        errors.add("NotSupportedChoice", "note_type", "The value you selected is not a valid choice.")
        return {}
    if not isinstance(params, dict):
        errors.add("InvalidType", "params", "This value should be of type object.")
        return {}
    for key in params:
        if key not in NOTE_PARAMS[note_type]:
            errors.add("ExtraField", f"params.{key}", "This field was not expected.")
    for key in NOTE_PARAMS[note_type]:
        value = params.get(key)
        if not isinstance(value, str):
            errors.add("InvalidType", f"params.{key}", "This value should be of type string.")
        elif not value.strip():
            errors.add("NotBlank", f"params.{key}", "This value should not be blank.")
        elif len(value) > NOTE_TEXT_MAX_LENGTH:
            errors.add(
                "InvalidLength",
                f"params.{key}",
                f"This value is too long: {NOTE_TEXT_MAX_LENGTH} characters at most.",
            )
    return {
        "entity_id": lead_id,
        "note_type": note_type,
        "params": {key: params.get(key) for key in NOTE_PARAMS[note_type]},
        "responsible_user_id": responsible,
    }


def check_subscription(data: Any) -> None:
    """A webhook subscription: an http(s) destination and known event names."""
    errors = Errors()
    if not isinstance(data, dict):
        raise Invalid.one("InvalidType", "", "The body must be a JSON object")
    destination, events = data.get("destination"), data.get("settings")
    if not isinstance(destination, str) or not is_url(destination):
        errors.add("InvalidUrl", "destination", "This value is not a valid URL.")
    if not isinstance(events, list) or not events or not all(e in WEBHOOK_EVENTS for e in events):
        errors.add("NotSupportedChoice", "settings", "The value you selected is not a valid choice.")
    if "sort" in data and not is_int(data["sort"]):
        errors.add("InvalidType", "sort", "This value should be of type integer.")
    if errors:
        raise Invalid([{"request_id": "0", "errors": errors}])


def check_task(item: Any, errors: Errors, *, leads: Collection[int]) -> dict:
    """The checked task (POST /api/v4/tasks): amoCRM requires `text` and `complete_till` (a Unix
    time); an entity is named by both `entity_id` and `entity_type` (a lead must be live); the
    responsible user and the type default to the API user and 1 (follow-up)."""
    if not isinstance(item, dict):
        errors.add("InvalidType", "", "A task must be an object")
        return {}
    for key in item:
        if key not in TASK_KEYS:
            errors.add("ExtraField", key, "This field was not expected.")
    text = item.get("text")
    if not isinstance(text, str) or not text.strip():
        errors.add("NotBlank", "text", "This value should not be blank.")
    elif len(text) > NOTE_TEXT_MAX_LENGTH:
        errors.add(
            "InvalidLength", "text", f"This value is too long: {NOTE_TEXT_MAX_LENGTH} characters at most."
        )
    if not is_int(item.get("complete_till")):
        errors.add("NotBlank", "complete_till", "This value should be of type int.")
    entity_id, entity_type = item.get("entity_id"), item.get("entity_type")
    if (entity_id is None) != (entity_type is None):
        errors.add("NotBlank", "entity_id" if entity_id is None else "entity_type", "Both or neither.")
    elif entity_type is not None and entity_type not in TASK_ENTITY_TYPES:
        errors.add("NotSupportedChoice", "entity_type", "The value you selected is not a valid choice.")
    elif entity_type is not None and not is_int(entity_id):
        errors.add("InvalidType", "entity_id", "This value should be of type int.")
    elif entity_type == "leads" and entity_id not in leads:
        errors.add("NotFound", "entity_id", "The lead does not exist.")
    responsible = item.get("responsible_user_id")
    if responsible is not None and (
        not is_int(responsible) or responsible not in (API_USER_ID, MANAGER_USER_ID)
    ):
        errors.add("NotSupportedChoice", "responsible_user_id", "No such user.")
    task_type = item.get("task_type_id", TASK_TYPES[0])
    if not is_int(task_type) or task_type not in TASK_TYPES:
        errors.add("NotSupportedChoice", "task_type_id", "The value you selected is not a valid choice.")
    return {
        "text": text,
        "complete_till": item.get("complete_till"),
        "entity_id": entity_id,
        "entity_type": entity_type,
        "responsible_user_id": responsible,
        "task_type_id": task_type,
        "is_completed": bool(item.get("is_completed", False)),
    }
