"""amoCRM's webhook body → plain Python: pure functions, no database and no HTTP.

amoCRM posts `application/x-www-form-urlencoded` bodies with PHP-style nested keys, brackets
percent-encoded as PHP's `http_build_query` writes them (`leads%5Bupdate%5D%5B0%5D%5Bid%5D=1`).
`parse_body` decodes them the way PHP would fill `$_POST` (a later key wins, `[]` appends), then turns
every dict whose keys are all digits into a list, so `leads[update][0][custom_fields][1][values][0]`
reads `payload["leads"]["update"][0]["custom_fields"][1]["values"][0]`. Anything we cannot decode
raises `ParseError`, and nothing else: callers record the event as failed instead of answering 500;
a body with more than MAX_KEYS keys raises its subclass `TooManyKeys`, answered 413 like MAX_BYTES.
`items` then picks out the lead and contact events the site handles, and `read_lead` /
`read_contact` read one of them into plain values: this module is the only one that knows the v2
shape of a webhook item.
"""

import codecs
import datetime
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import unquote

from django.utils.translation import gettext_lazy as _

from accounts import emails

# A mass edit of 50 leads with 40 filled fields each is about 1 MB of form body and 7,600 keys
# (python -m benchmarks.webhook_parse); Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) is above this.
MAX_BYTES = 2 * 1024 * 1024
# The largest real body MAX_BYTES admits is ~116 leads × 40 fields; at up to ~6 keys a field (id,
# name, code, value, enum, …) that is ~28,000 keys (the benchmark's shape: 17,600). 40,000 leaves
# headroom; it bounds the dicts one body may build, since 2 MB of "a=&" would be 700,000 keys.
MAX_KEYS = 40_000
MAX_DEPTH = 12  # leads[update][0][custom_fields][0][values][0][value] is 7 deep
# The events `amocrm_subscribe_webhook` asks for: leads[<action>] and contacts[<action>].
LEAD_ACTIONS = ("add", "update", "status", "delete", "restore")
# What each one is called for staff (the admin's list of events).
ACTION_LABELS = {
    "add": _("lead added"),
    "update": _("changed"),
    "status": _("stage changed"),
    "delete": _("lead deleted"),
    "restore": _("lead restored"),
}
# Lead items that carry the whole lead (every non-empty field), not only what changed.
FULL_ACTIONS = frozenset({"add", "update", "status", "restore"})
CONTACT_ACTIONS = ("update",)

_KEY = re.compile(r"([^\[\]]*)((?:\[[^\[\]]*\])*)$")
_PART = re.compile(r"\[([^\[\]]*)\]")


class ParseError(ValueError):
    """The body is not a form amoCRM could have sent."""


class TooManyKeys(ParseError):
    """The body has more than MAX_KEYS keys: too large, like a body over MAX_BYTES."""


def _is_digits(text: str) -> bool:
    # str.isdigit() is true for "²" and other digits int() refuses.
    return text.isascii() and text.isdigit()


def _split_key(key: str) -> list[str] | None:
    """`a[b][0][]` → ["a", "b", "0", ""]; a key PHP would not nest stays whole; None: no name."""
    start = key.find("[")
    if start > 0 and key.endswith("]") and "]" not in key[:start]:
        # The usual key, well formed: split with str methods (a mass edit has thousands of keys).
        parts = key[start + 1 : -1].split("][")
        if not any("[" in part or "]" in part for part in parts):
            return [key[:start], *parts]
    match = _KEY.match(key)
    if match is None or not match.group(2):
        return [key] if key else None
    base = match.group(1)
    if not base:
        return None  # PHP drops "[x]=1": there is no variable name
    return [base, *_PART.findall(match.group(2))]


def _assign(target: dict[str, Any], parts: list[str], value: str, appends: dict[int, list[Any]]) -> None:
    node = target
    last = len(parts) - 1
    for index, part in enumerate(parts):
        if part == "":
            # "[]" appends, as in PHP: the next free integer key. The first append to a node scans
            # its keys once; after that `appends` (by id, holding the node so the id stays its own)
            # keeps the next key, so many appends stay linear instead of rescanning every time.
            slot = appends.get(id(node))
            if slot is None:
                numbers = [int(k) for k in node if _is_digits(k) and len(k) < 10]
                slot = appends[id(node)] = [node, max(numbers) + 1 if numbers else 0]
            part = str(slot[1])
            slot[1] += 1
        elif appends and id(node) in appends and _is_digits(part) and len(part) < 10:
            slot = appends[id(node)]
            slot[1] = max(slot[1], int(part) + 1)
        if index == last:
            node[part] = value
            return
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}  # a scalar given earlier is replaced, as PHP does
        node = child


def _listify(value: dict[str, Any]) -> Any:
    items = {key: _listify(item) if type(item) is dict else item for key, item in value.items()}
    if items and all(len(key) < 10 and key.isdigit() and key.isascii() for key in items):
        return [items[key] for key in sorted(items, key=int)]
    return items


def _form_pairs(text: str) -> list[tuple[str, str]]:
    """`parse_qsl(text, keep_blank_values=True)` with a MAX_KEYS cap, decoding in C: a mass edit's
    body is a megabyte of %XX (every key's brackets, every Cyrillic name), and urllib's pure-Python
    unquote made that the slowest part of a webhook."""
    # Counted before anything is decoded: the cap bounds the work, not just the result.
    if text.count("&") + 1 > MAX_KEYS:
        raise TooManyKeys(f"more than {MAX_KEYS} keys")
    pairs = []
    for piece in text.split("&"):
        if piece:
            name, _, value = piece.partition("=")
            pairs.append((_unquote_plus(name), _unquote_plus(value)))
    return pairs


def _unquote_plus(text: str) -> str:
    """`urllib.parse.unquote_plus(text, errors="strict")`, in C for well-formed text: every "%XX"
    becomes "\\xXX" for `codecs.escape_decode` (backslashes of the text doubled first, so no
    other escape exists). A stray "%" makes it refuse; urllib then keeps it as it is."""
    text = text.replace("+", " ")
    if "%" not in text:
        return text
    escaped = text.replace("\\", "\\\\").replace("%", "\\x").encode("utf-8")
    try:
        raw = codecs.escape_decode(escaped)[0]  # type: ignore[attr-defined]
    except ValueError:
        return unquote(text, errors="strict")
    return raw.decode("utf-8")


def parse_body(body: bytes | str) -> dict[str, Any]:
    """The nested structure of a PHP-style form body (see the module docstring)."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        pairs = _form_pairs(text)
    except TooManyKeys:
        raise
    except (UnicodeDecodeError, ValueError) as e:
        raise ParseError(f"not a form body: {type(e).__name__}") from e
    payload: dict[str, Any] = {}
    appends: dict[int, list[Any]] = {}
    for raw_key, raw_value in pairs:
        # PostgreSQL's jsonb cannot hold NUL characters; amoCRM never sends them.
        key, value = raw_key.replace("\x00", ""), raw_value.replace("\x00", "")
        parts = _split_key(key)
        if parts is None:
            continue
        if len(parts) > MAX_DEPTH:
            raise ParseError(f"a key nests deeper than {MAX_DEPTH} levels")
        _assign(payload, parts, value, appends)
    if not payload:
        raise ParseError("an empty body")
    result = _listify(payload)  # a dict: the body is not empty
    return result if isinstance(result, dict) else {"": result}


# -- reading the payload --------------------------------------------------------------------


def as_list(value: Any) -> list[Any]:
    """A list however the node came: a list, a dict keyed "0", "1", … (a payload stored before
    `parse_body` made lists of them), one dict with other keys, or a scalar."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if (
        isinstance(value, dict)
        and value
        and all(_is_digits(str(key)) and len(str(key)) < 10 for key in value)
    ):
        return [value[key] for key in sorted(value, key=int)]
    return [value]


def account_of(payload: dict[str, Any]) -> tuple[str, str]:
    """(subdomain, id) of the account that sent the body, "" when missing."""
    account = payload.get("account")
    if not isinstance(account, dict):
        return "", ""
    subdomain, account_id = account.get("subdomain"), account.get("id")
    return (
        subdomain.strip().lower() if isinstance(subdomain, str) else "",
        account_id.strip() if isinstance(account_id, str) else "",
    )


def parse_int(value: Any) -> int | None:
    """A positive id from digits; None for anything else."""
    if isinstance(value, str) and _is_digits(value.strip()) and len(value.strip()) < 19:
        return int(value.strip())
    return None


def parse_timestamp(value: Any) -> datetime.datetime | None:
    """An aware datetime from a Unix timestamp given as digits; None for anything else."""
    seconds = parse_int(value)
    if seconds is None:
        return None
    try:
        return datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    except (OverflowError, OSError, ValueError):
        return None


@dataclass(frozen=True)
class Item:
    """One entity of one event kind in a body: `leads[<action>][<n>]` or `contacts[<action>][<n>]`."""

    entity: str  # "lead" or "contact"
    action: str
    data: dict[str, Any]

    @property
    def entity_id(self) -> int | None:
        return parse_int(self.data.get("id"))

    @property
    def lead_id(self) -> int | None:
        return self.entity_id if self.entity == "lead" else None

    @property
    def contact_id(self) -> int | None:
        return self.entity_id if self.entity == "contact" else None

    @property
    def modified_at(self) -> datetime.datetime | None:
        """When amoCRM last changed the entity (`last_modified`, else `updated_at`)."""
        return parse_timestamp(self.data.get("last_modified")) or parse_timestamp(self.data.get("updated_at"))


def items(payload: dict[str, Any]) -> Iterator[Item]:
    """The lead and contact events the site handles, in that order; an item that is not a mapping
    keeps its value."""
    for entity, key, actions in (("lead", "leads", LEAD_ACTIONS), ("contact", "contacts", CONTACT_ACTIONS)):
        events = payload.get(key)
        if not isinstance(events, dict):
            continue
        for action in actions:
            for item in as_list(events.get(action)):
                yield Item(
                    entity=entity, action=action, data=item if isinstance(item, dict) else {"value": item}
                )


class FieldChange(NamedTuple):
    """One custom field of an item: its id, code and (value, enum id) pairs, as amoCRM sent them.
    (A named tuple: a mass edit reads thousands of them.)"""

    field_id: int | None
    values: tuple[tuple[Any, Any], ...]
    code: str = ""  # contacts' predefined fields carry one (PHONE, EMAIL); lead fields do not

    @property
    def first_value(self) -> str:
        return next((str(value).strip() for value, _ in self.values if value not in (None, "")), "")


def _fields(data: dict[str, Any]) -> tuple[FieldChange, ...]:
    fields = []
    for raw in as_list(data.get("custom_fields")):
        if not isinstance(raw, dict):
            continue
        # Text and select values come as {value, enum}; dates come bare: `[values][0]=1763931600`.
        values = tuple(
            (value.get("value"), value.get("enum")) if isinstance(value, dict) else (value, None)
            for value in as_list(raw.get("values"))
        )
        code = raw.get("code") if isinstance(raw.get("code"), str) else ""
        fields.append(FieldChange(field_id=parse_int(raw.get("id")), values=values, code=code))
    return tuple(fields)


@dataclass(frozen=True)
class LeadChange:
    """What a stored lead item says about the lead, in plain values."""

    action: str
    lead_id: int | None
    modified_at: datetime.datetime | None
    price: int | None  # the lead's budget, whole roubles
    status_id: int | None  # the pipeline stage
    old_status_id: int | None  # the stage before, on items whose stage changed
    fields: tuple[FieldChange, ...]
    contact_id: int | None = None  # the main contact, on a lead read `with=contacts` (hooks name none)

    @property
    def stage_changed(self) -> bool:
        """The item moves the lead to `status_id`: a `status` hook, or an `update` item carrying
        `old_status_id` (amoCRM does not always send the separate status hook)."""
        if self.status_id is None:
            return False
        return self.action == "status" or (
            self.old_status_id is not None and self.old_status_id != self.status_id
        )

    def has_field(self, field_id: int | None) -> bool:
        return field_id is not None and any(f.field_id == field_id for f in self.fields)

    @property
    def is_full(self) -> bool:
        """The item lists every field the lead holds: amoCRM leaves an empty field out, so one
        missing here was cleared (docs/amocrm-api.md, "Cleared fields"). A delete item lists none."""
        return self.action in FULL_ACTIONS


def read_lead(*, action: str, data: dict[str, Any]) -> LeadChange:
    """A lead item of `leads[<action>]` (`{id, price, status_id, old_status_id?, custom_fields: [{id,
    values: [{value, enum}] or [<bare value>]}], ...}`) as a LeadChange; anything malformed reads as
    missing."""
    item = Item(entity="lead", action=action, data=data)
    return LeadChange(
        action=action,
        lead_id=item.lead_id,
        modified_at=item.modified_at,
        price=parse_int(data.get("price")),
        status_id=parse_int(data.get("status_id")),
        old_status_id=parse_int(data.get("old_status_id")),
        fields=_fields(data),
    )


@dataclass(frozen=True)
class ContactChange:
    """What a stored contact item says: its phone and email (None when the body has no such field)."""

    contact_id: int | None
    modified_at: datetime.datetime | None
    phone: str | None
    email: str | None
    lead_ids: tuple[int, ...]


def read_contact(*, action: str, data: dict[str, Any]) -> ContactChange:
    """A contact item of `contacts[<action>]`: PHONE and EMAIL are select-like fields named by their
    `code` (`[values][0][value]=+79135550102`, `[enum]=<id>`); its leads are `linked_leads_id[<lead
    id>][ID]=<lead id>`."""
    item = Item(entity="contact", action=action, data=data)
    by_code = {field.code: field for field in _fields(data) if field.code}
    linked = data.get("linked_leads_id")
    lead_ids = []
    for key, value in linked.items() if isinstance(linked, dict) else enumerate(as_list(linked)):
        lead_id = parse_int(value.get("ID") if isinstance(value, dict) else value) or parse_int(str(key))
        if lead_id is not None:
            lead_ids.append(lead_id)
    return ContactChange(
        contact_id=item.contact_id,
        modified_at=item.modified_at,
        phone=by_code["PHONE"].first_value if "PHONE" in by_code else None,
        email=emails.normalize(by_code["EMAIL"].first_value) if "EMAIL" in by_code else None,
        lead_ids=tuple(lead_ids),
    )
