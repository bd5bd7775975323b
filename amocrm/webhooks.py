"""amoCRM's webhook body → plain Python: pure functions, no database and no HTTP.

amoCRM posts `application/x-www-form-urlencoded` bodies with PHP-style nested keys, brackets
percent-encoded as PHP's `http_build_query` writes them (`leads%5Bupdate%5D%5B0%5D%5Bid%5D=1`).
`parse_body` decodes them the way PHP would fill `$_POST` (a later key wins, `[]` appends), then turns
every dict whose keys are all digits into a list, so `leads[update][0][custom_fields][1][values][0]`
reads `payload["leads"]["update"][0]["custom_fields"][1]["values"][0]`. Anything we cannot decode
raises `ParseError`, and nothing else: callers record the event as failed instead of answering 500.
`lead_items` then picks out the lead events the site handles, and `read_lead` reads one of them
into a `LeadChange`: this module is the only one that knows the v2 shape of a lead item.
"""

import datetime
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

MAX_FIELDS = 20_000  # 50 leads a body with every field set stays far below this
MAX_DEPTH = 12  # leads[update][0][custom_fields][0][values][0][value] is 7 deep
LEAD_ACTIONS = ("add", "update", "status", "delete")  # what `amocrm_subscribe_webhook` asks for

_KEY = re.compile(r"([^\[\]]*)((?:\[[^\[\]]*\])*)$")
_PART = re.compile(r"\[([^\[\]]*)\]")


class ParseError(ValueError):
    """The body is not a form amoCRM could have sent."""


def _is_digits(text: str) -> bool:
    # str.isdigit() is true for "²" and other digits int() refuses.
    return text.isascii() and text.isdigit()


def _split_key(key: str) -> list[str] | None:
    """`a[b][0][]` → ["a", "b", "0", ""]; a key PHP would not nest stays whole; None: no name."""
    match = _KEY.match(key)
    if match is None or not match.group(2):
        return [key] if key else None
    base = match.group(1)
    if not base:
        return None  # PHP drops "[x]=1": there is no variable name
    return [base, *_PART.findall(match.group(2))]


def _assign(target: dict[str, Any], parts: list[str], value: str) -> None:
    node = target
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == "":
            # "[]" appends, as in PHP: the next free integer key.
            numbers = [int(k) for k in node if _is_digits(k) and len(k) < 10]
            part = str(max(numbers) + 1 if numbers else 0)
        if last:
            node[part] = value
            return
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}  # a scalar given earlier is replaced, as PHP does
        node = child


def _listify(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    items = {key: _listify(item) for key, item in value.items()}
    if items and all(_is_digits(key) and len(key) < 10 for key in items):
        return [items[key] for key in sorted(items, key=int)]
    return items


def parse_body(body: bytes | str) -> dict[str, Any]:
    """The nested structure of a PHP-style form body (see the module docstring)."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        pairs = parse_qsl(
            text, keep_blank_values=True, max_num_fields=MAX_FIELDS, encoding="utf-8", errors="strict"
        )
    except (UnicodeDecodeError, ValueError) as e:
        raise ParseError(f"not a form body: {type(e).__name__}") from e
    payload: dict[str, Any] = {}
    for raw_key, raw_value in pairs:
        # PostgreSQL's jsonb cannot hold NUL characters; amoCRM never sends them.
        key, value = raw_key.replace("\x00", ""), raw_value.replace("\x00", "")
        parts = _split_key(key)
        if parts is None:
            continue
        if len(parts) > MAX_DEPTH:
            raise ParseError(f"a key nests deeper than {MAX_DEPTH} levels")
        _assign(payload, parts, value)
    if not payload:
        raise ParseError("an empty body")
    result = _listify(payload)
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
class LeadItem:
    """One lead of one event kind in a body: `leads[<action>][<n>]`."""

    action: str
    data: dict[str, Any]

    @property
    def lead_id(self) -> int | None:
        return parse_int(self.data.get("id"))

    @property
    def modified_at(self) -> datetime.datetime | None:
        """When amoCRM last changed the lead (`last_modified`, else `updated_at`)."""
        return parse_timestamp(self.data.get("last_modified")) or parse_timestamp(self.data.get("updated_at"))


def lead_items(payload: dict[str, Any]) -> Iterator[LeadItem]:
    """The lead events the site handles, in body order; an item that is not a mapping keeps its value."""
    leads = payload.get("leads")
    if not isinstance(leads, dict):
        return
    for action in LEAD_ACTIONS:
        for item in as_list(leads.get(action)):
            yield LeadItem(action=action, data=item if isinstance(item, dict) else {"value": item})


@dataclass(frozen=True)
class FieldChange:
    """One custom field of a lead item: its id and its (value, enum id) pairs, as amoCRM sent them."""

    field_id: int | None
    values: tuple[tuple[Any, Any], ...]


@dataclass(frozen=True)
class LeadChange:
    """What a stored lead item says about the lead, in plain values."""

    action: str
    lead_id: int | None
    modified_at: datetime.datetime | None
    price: int | None  # the lead's budget, whole roubles
    status_id: int | None  # the pipeline stage
    fields: tuple[FieldChange, ...]

    def has_field(self, field_id: int | None) -> bool:
        return field_id is not None and any(f.field_id == field_id for f in self.fields)


def read_lead(*, action: str, data: dict[str, Any]) -> LeadChange:
    """A lead item of `leads[<action>]` (`{id, price, status_id, custom_fields: [{id, values:
    [{value, enum}]}], ...}`) as a LeadChange; anything malformed reads as missing."""
    item = LeadItem(action=action, data=data)
    fields = []
    for raw in as_list(data.get("custom_fields")):
        if not isinstance(raw, dict):
            continue
        # Text and select values come as {value, enum}; dates come bare: `[values][0]=1763931600`.
        values = tuple(
            (value.get("value"), value.get("enum")) if isinstance(value, dict) else (value, None)
            for value in as_list(raw.get("values"))
        )
        fields.append(FieldChange(field_id=parse_int(raw.get("id")), values=values))
    return LeadChange(
        action=action,
        lead_id=item.lead_id,
        modified_at=item.modified_at,
        price=parse_int(data.get("price")),
        status_id=parse_int(data.get("status_id")),
        fields=tuple(fields),
    )
