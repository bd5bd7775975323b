"""A subscription's events (accounts.signals) → the short Russian note managers read in the lead's
card, so they see why a delivery date moved. Pure functions, no database and no HTTP.

The texts are for amoCRM's Russian-speaking managers, written in Russian here like the lead's own
name (mapping.lead_name); the site's UI strings are translated through gettext instead. A note never
carries a password, a token or anything the customer typed into a password field.
"""

import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import dateformat, translation

from accounts.signals import Action

FIELD_LABELS = {
    "bouquet_category": "категория букета",
    "delivery_address": "адрес доставки",
    "delivery_interval": "интервал",
    "first_delivery_date": "дата доставки",
    "wishes": "пожелания",
    "phone": "телефон",
}
MAX_VALUE = 200  # a long address or wish is cut in the note (the lead's fields hold it whole)


def note_text(action: str, details: dict[str, Any]) -> str:
    """The note for one event, e.g. «Клиент пропустил доставку 12 декабря.»"""
    if action == Action.SIGNED_UP:
        # A signup for nothing to pay (a free category) issues no invoice: the note says none.
        invoice = (
            f", счёт на {_money(details['sum'])} ожидает оплаты" if _is_positive(details.get("sum")) else ""
        )
        return (
            f"Клиент зарегистрировался на сайте: {details.get('category', '')}, "
            f"{details.get('interval', '')}, первая доставка {_day(details.get('first_date'))}{invoice}."
        )
    if action == Action.PREFERENCES_CHANGED:
        changes = "; ".join(
            f"{FIELD_LABELS.get(field, field)}: «{_value(field, old)}» → «{_value(field, new)}»"
            for field, (old, new) in (details.get("changes") or {}).items()
        )
        return f"Клиент изменил настройки на сайте: {changes}."
    if action == Action.DELIVERY_SKIPPED:
        return f"Клиент пропустил доставку {_day(details.get('date'))}."
    if action == Action.DELIVERY_UNSKIPPED:
        return f"Клиент вернул пропущенную доставку {_day(details.get('date'))}."
    if action == Action.DELIVERY_MOVED:
        return f"Клиент перенёс доставку с {_day(details.get('date'))} на {_day(details.get('to'))}."
    if action == Action.PAUSED:
        until = details.get("until")
        return (
            f"Клиент приостановил подписку до {_day(until)}."
            if until
            else ("Клиент приостановил подписку до возобновления.")
        )
    if action == Action.RESUMED:
        upcoming = details.get("next")
        return "Клиент возобновил подписку" + (f"; следующая доставка {_day(upcoming)}." if upcoming else ".")
    if action == Action.CLOSED:
        last = details.get("last")
        return "Клиент закрыл подписку на сайте" + (f"; последняя доставка {_day(last)}." if last else ".")
    if action == Action.REOPENED:
        upcoming = details.get("next")
        return "Клиент возобновил закрытую подписку" + (
            f"; следующая доставка {_day(upcoming)}." if upcoming else "."
        )
    if action == Action.PASSWORD_RESET_REQUESTED:
        return "Клиент запросил ссылку для сброса пароля."
    if action == Action.DELIVERY_MOVED_BY_STAFF:
        return f"Сотрудник перенёс доставку с {_day(details.get('date'))} на {_day(details.get('to'))}."
    if action == Action.DELIVERY_COMPLETED:
        day, amount = _day(details.get("date")), _money(details.get("amount"))
        return f"Сотрудник отметил доставку {day}: списано {amount}."
    if action == Action.BALANCE_CORRECTED:
        return (
            f"Сотрудник исправил баланс в админке сайта: {_money(details.get('amount'), signed=True)}, "
            f"теперь {_money(details.get('balance'))}."
        )
    if action == Action.PAYMENT_RECEIVED:
        return (
            f"Сотрудник подтвердил оплату в админке сайта: {_money(details.get('amount'))}, "
            f"баланс теперь {_money(details.get('balance'))}."
        )
    if action == Action.MANAGER_MESSAGE:
        return f"Клиент написал менеджеру с сайта: «{details.get('text', '')}»"
    return f"Событие на сайте: {action}."


def _day(iso: Any) -> str:
    try:
        day = datetime.date.fromisoformat(str(iso))
    except ValueError:
        return "—"
    with translation.override("ru"):  # Django's own genitive months: 12 декабря 2026
        return dateformat.format(day, "j E Y")


def _money(value: Any, *, signed: bool = False) -> str:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return "—"
    text = f"{abs(amount):,.2f}".replace(",", "\u00a0").replace(".", ",")
    sign = ("+" if amount >= 0 else "−") if signed else ("−" if amount < 0 else "")
    return f"{sign}{text}\u00a0₽"


def _is_positive(value: Any) -> bool:
    try:
        return Decimal(str(value)) > 0
    except (InvalidOperation, ValueError):
        return False


def _value(field: str, value: Any) -> str:
    if field == "first_delivery_date":
        return _day(value)
    text = str(value or "")
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"
