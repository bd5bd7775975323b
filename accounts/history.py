"""What happened to a subscription, as its customer reads it on the account page.

Derived, never copied: balance changes (deliveries debited, payments, rewards, corrections) come
from the ledger, invoices from their table (each on the day it was issued; a payment on the day it
came, from the ledger), and only what the customer did themselves (skips,
pauses, new preferences) is recorded here, as `AccountEvent` rows written by `event_send`.
One page is one UNION query (written out: `_union_sql`), newest first, with one row more than it
shows (is there an older page?) instead of a count. Managers' notes never appear: they live in
another app, and ledger notes (which may name staff) are not shown.
"""

import datetime
import json
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext

from accounts.formatting import day_month
from accounts.models import AccountEvent, HistoryLine, Invoice, LedgerEntry, Profile
from accounts.signals import Action, Origin, profile_changed

# What the customer did themselves; other actions (staff's, a reset link asked for) are not theirs to read.
CUSTOMER_ACTIONS = frozenset(
    {
        Action.SIGNED_UP,
        Action.PREFERENCES_CHANGED,
        Action.DELIVERY_SKIPPED,
        Action.DELIVERY_UNSKIPPED,
        Action.DELIVERY_MOVED,
        Action.PAUSED,
        Action.RESUMED,
        Action.CLOSED,
        Action.REOPENED,
        Action.MANAGER_MESSAGE,
    }
)
# Invoices made by the migration stand for sums posted before invoices existed: the ledger shows them.
HIDDEN_INVOICE_SOURCES = (Invoice.Source.MIGRATION,)


def event_send(
    profile: Profile,
    action: Action | None = None,
    *,
    fields: Iterable[str] = (),
    origin: Origin = Origin.SITE,
    **details: Any,
) -> None:
    """The one call a service makes once it saved a change: tell whoever mirrors the profile or keeps
    its history (accounts.signals.profile_changed), in the caller's transaction, and keep the
    customer's own actions for their page."""
    profile_changed.send(
        sender=Profile, profile=profile, fields=tuple(fields), origin=origin, action=action, details=details
    )
    if action in CUSTOMER_ACTIONS:
        AccountEvent.objects.create(profile=profile, action=action, details=details)


def event_keep(profile: Profile, action: Action, **details: Any) -> None:
    """A line for the customer's page about a change already told (by its service's `event_send`),
    such as a manager's move of the next delivery: recorded, not sent again."""
    AccountEvent.objects.create(profile=profile, action=action, details=details)


@dataclass(frozen=True)
class Item:
    """One line of the history: when, what (a sentence for the customer) and the money, if any."""

    at: datetime.datetime
    kind: str  # "event", "ledger" or "invoice": the template styles by it
    text: str
    amount: Decimal | None = None

    @property
    def is_debit(self) -> bool:
        return self.kind == "ledger" and self.amount is not None and self.amount < 0

    # Formatted here, not by two `date` filters per line: a template filter costs several times more.
    @property
    def at_iso(self) -> str:
        return timezone.localtime(self.at).isoformat()  # what the "c" format prints, without the formatter

    @property
    def day(self) -> str:
        return day_month(timezone.localtime(self.at).date(), year=True)


@dataclass(frozen=True)
class Page:
    """One page of the history, newest first; pages are numbered from 1."""

    items: list[Item]
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1


def page_get(*, profile: Profile, number: str | None, per_page: int) -> Page:
    """The page asked for by `?page=`: one query (one row more tells whether an older page exists;
    no count). A page number that is not a number, or past the end, gives the first page."""
    try:
        wanted = min(max(int(number or 1), 1), 100_000)
    except ValueError:
        wanted = 1
    start = (wanted - 1) * per_page
    lines = list(_lines(profile, offset=start, limit=per_page + 1))
    if not lines and wanted > 1:
        return page_get(profile=profile, number=None, per_page=per_page)
    return Page([_item(line) for line in lines[:per_page]], wanted, has_next=len(lines) > per_page)


def _union_sql() -> str:
    """The three sources as one list, newest first (SQL both SQLite and PostgreSQL read), names
    from the models. Written out rather than built with the ORM: Django took a millisecond to build
    and compile the same UNION from three annotated querysets, on every account page."""
    event, entry, invoice = (model._meta for model in (AccountEvent, LedgerEntry, Invoice))
    delivery = entry.get_field("delivery").related_model._meta

    def col(meta, name: str) -> str:
        return f'"{meta.get_field(name).column}"'

    hidden = ", ".join(["%s"] * len(HIDDEN_INVOICE_SOURCES))
    return f"""
        SELECT * FROM (
            SELECT 'event-' || e.id AS key, e.{col(event, "created_at")} AS at, 'event' AS kind,
                   e.{col(event, "action")} AS code, CAST(NULL AS NUMERIC(10, 2)) AS money,
                   CAST(NULL AS DATE) AS day, CAST(e.{col(event, "details")} AS TEXT) AS text, e.id AS row_id
            FROM "{event.db_table}" e WHERE e.{col(event, "profile")} = %s
            UNION ALL
            SELECT 'ledger-' || l.id, l.{col(entry, "created_at")}, 'ledger', l.{col(entry, "reason")},
                   l.{col(entry, "amount")}, d.{col(delivery, "delivery_on")}, NULL, l.id
            FROM "{entry.db_table}" l LEFT JOIN "{delivery.db_table}" d ON d.id = l.{col(entry, "delivery")}
            WHERE l.{col(entry, "profile")} = %s
            UNION ALL
            SELECT 'invoice-' || i.id, i.{col(invoice, "created_at")}, 'invoice', i.{col(invoice, "status")},
                   i.{col(invoice, "amount")}, NULL, NULL, i.id
            FROM "{invoice.db_table}" i
            WHERE i.{col(invoice, "profile")} = %s AND i.{col(invoice, "source")} NOT IN ({hidden})
        ) lines
        ORDER BY at DESC, row_id DESC LIMIT %s OFFSET %s
    """  # noqa: S608 (names from the models' meta; every value is a parameter)


UNION_SQL = _union_sql()


def _lines(profile: Profile, *, offset: int, limit: int):
    params = [profile.pk, profile.pk, profile.pk, *HIDDEN_INVOICE_SOURCES, limit, offset]
    return HistoryLine.objects.raw(UNION_SQL, params)


def _item(line: HistoryLine) -> Item:
    at, kind, code, amount, day, details = line.at, line.kind, line.code, line.money, line.day, line.text
    if kind == "event":
        return Item(at, kind, _event_text(code, json.loads(details) if isinstance(details, str) else details))
    if kind == "invoice":
        return Item(at, kind, _invoice_text(code, amount), amount)
    if code == LedgerEntry.Reason.DELIVERY and day:
        return Item(at, kind, gettext("Bouquet delivered on %(day)s") % {"day": _day(day)}, amount)
    return Item(at, kind, str(LedgerEntry.Reason(code).label).capitalize(), amount)


def _invoice_text(status: str, amount: Decimal) -> str:
    """The line is dated when the invoice was issued, so it says that; its payment is the ledger's
    own line ("Payment received"), dated when it came, so a paid invoice does not tell it twice."""
    money = {"amount": _money(amount)}
    if status == Invoice.Status.PAID:
        return gettext("Invoice for %(amount)s ₽ issued") % money
    if status == Invoice.Status.CANCELLED:
        return gettext("Invoice for %(amount)s ₽ issued, later cancelled") % money
    return gettext("Invoice for %(amount)s ₽ issued, awaiting payment") % money


def _event_text(action: str, details: dict[str, Any]) -> str:
    if action == Action.SIGNED_UP:
        return gettext("You signed up for the subscription")
    if action == Action.PREFERENCES_CHANGED:
        names = [_field_name(field) for field in details.get("changes") or {}]
        return gettext("You changed your preferences: %(fields)s") % {"fields": ", ".join(names)}
    if action == Action.DELIVERY_SKIPPED:
        return gettext("You skipped the delivery on %(day)s") % {"day": _day(details.get("date"))}
    if action == Action.DELIVERY_UNSKIPPED:
        day = _day(details.get("date"))
        return gettext("You took back the skip of the delivery on %(day)s") % {"day": day}
    if action == Action.DELIVERY_MOVED:
        return gettext("You moved the delivery from %(day)s to %(to)s") % {
            "day": _day(details.get("date")),
            "to": _day(details.get("to")),
        }
    if action == Action.PAUSED:
        if details.get("until"):
            return gettext("You paused the subscription until %(day)s") % {"day": _day(details["until"])}
        return gettext("You paused the subscription until you resume it")
    if action == Action.RESUMED:
        return gettext("You resumed the subscription")
    if action == Action.CLOSED:
        return gettext("You closed the subscription")
    if action == Action.REOPENED:
        return gettext("You started the subscription again")
    if action == Action.MANAGER_MESSAGE:
        return gettext("You wrote to your manager: «%(text)s»") % {"text": details.get("text", "")}
    if action == Action.DELIVERY_MOVED_BY_MANAGER:
        return gettext("Your manager moved the next delivery from %(day)s to %(to)s") % {
            "day": _day(details.get("date")),
            "to": _day(details.get("to")),
        }
    if action == Action.DELIVERY_CANCELLED_BY_MANAGER:
        return gettext("Your manager cancelled the delivery on %(day)s") % {"day": _day(details.get("date"))}
    return gettext("Your subscription changed")


def _field_name(field: str) -> str:
    try:
        return str(Profile._meta.get_field(field).verbose_name)
    except FieldDoesNotExist:  # a field renamed since the event was recorded
        return field


def _day(value: Any) -> str:
    try:
        day = value if isinstance(value, datetime.date) else datetime.date.fromisoformat(str(value))
    except ValueError:
        return "—"
    return day_month(day, year=True)


def _money(amount: Decimal) -> str:
    return number_format(amount, decimal_pos=2, use_l10n=True, force_grouping=True)
