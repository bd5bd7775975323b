"""The stand-in's HTML page at `/`: the account's settings, every lead with its fields and notes, and
forms that act as a manager (edit a lead, restore a deleted one). Dates show in the account's time zone."""

import datetime
import html
import zoneinfo
from typing import Any

from tools.amocrm_standin.constants import ACCOUNT_ID, DATE_TYPES, PIPELINES
from tools.amocrm_standin.models import Account
from tools.amocrm_standin.validation import is_int


def render_page(account: Account, settings: dict[str, Any]) -> str:
    """The page; `settings` are the server's (the account's own are read here)."""
    e = html.escape
    with account.lock:
        leads = [account.render_lead(lead, with_contacts=True) for lead in account.leads.values()]
        notes = {lead["id"]: account.notes.of_lead(lead["id"]) for lead in leads}
        trash = [(lead["id"], lead["name"]) for lead in account.trash.values()]
        fields = list(account.fields["leads"].values())
        hooks = [
            h["destination"] + (" (switched off)" if h["disabled"] else "") for h in account.webhooks.values()
        ]
        settings = {**account.settings, **settings}
        zone = account.zone
    base_url = account.base_url
    statuses = PIPELINES[0]["statuses"]
    status_names = {s[0]: s[1] for s in statuses}
    parts = [
        "<!doctype html><html lang='ru'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        "<title>amoCRM stand-in</title></head><body>",
        f"<h1>amoCRM stand-in</h1><p>API: <code>{e(base_url)}/api/v4/</code> · "
        f"{len(leads)} leads · webhooks: {e(', '.join(hooks) or 'none')}</p>",
        f"<p>Аккаунт {ACCOUNT_ID} · настройки (POST /_standin/settings): "
        + " · ".join(f"{e(k)}={e(str(v))}" for k, v in settings.items())
        + "</p>",
    ]
    if not leads:
        parts.append("<p>No leads yet.</p>")
    for lead in reversed(leads):
        parts.append(f"<section><h2>#{lead['id']} {e(lead['name'])}</h2><dl>")
        parts.append(f"<dt>Бюджет</dt><dd>{lead['price']}</dd>")
        parts.append(
            f"<dt>Статус</dt><dd>{e(status_names.get(lead['status_id'], str(lead['status_id'])))}</dd>"
        )
        parts.append(f"<dt>Изменена</dt><dd>{_when(lead['updated_at'], zone)}</dd>")
        for item in lead["custom_fields_values"] or []:
            shown = ", ".join(_readable(item["field_type"], v, zone) for v in item["values"])
            parts.append(f"<dt>{e(item['field_name'])}</dt><dd>{e(shown)}</dd>")
        parts.append("</dl>")
        parts += _notes(notes[lead["id"]], zone)
        action = f"/_standin/leads/{lead['id']}/manager"
        options = "".join(
            f"<option value='{s[0]}'{' selected' if s[0] == lead['status_id'] else ''}>{e(s[1])}</option>"
            for s in statuses
        )
        parts.append(
            f"<form method='post' action='{action}'><label>Бюджет "
            f"<input name='price' type='number' min='0' value='{lead['price']}'></label> "
            f"<label>Статус <select name='status_id'>{options}</select></label> "
            "<button>Сохранить как менеджер</button></form>"
        )
        field_options = "".join(
            f"<option value='{f['id']}'>{e(f['name'])} ({f['type']})</option>" for f in fields
        )
        if field_options:
            parts.append(
                f"<form method='post' action='{action}'><label>Поле "
                f"<select name='field_id'>{field_options}</select></label> "
                "<label>Значение (текст, число, дата ГГГГ-ММ-ДД) <input name='value'></label> "
                "<label>или enum id <input name='enum_id' type='number'></label> "
                "<button>Изменить поле</button></form>"
            )
        parts.append("</section>")
    if trash:
        parts.append("<section><h2>Корзина</h2>")
        for lead_id, name in trash:
            parts.append(
                f"<form method='post' action='/_standin/leads/{lead_id}/restore'>#{lead_id} {e(name)} "
                "<button>Восстановить</button></form>"
            )
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _notes(notes: list[dict[str, Any]], zone: zoneinfo.ZoneInfo) -> list[str]:
    """A lead's notes as its card lists them, newest last; a service message names its service."""
    if not notes:
        return []
    items = []
    for note in notes:
        params = note["params"]
        text = f"{params['service']}: {params['text']}" if "service" in params else params["text"]
        shown = html.escape(text).replace("\n", "<br>")
        items.append(f"<li><time>{_when(note['created_at'], zone)}</time> {shown}</li>")
    return ["<h3>Примечания</h3><ol>", *items, "</ol>"]


def _when(timestamp: int | None, zone: zoneinfo.ZoneInfo) -> str:
    if not timestamp:
        return ""
    return datetime.datetime.fromtimestamp(timestamp, tz=zone).strftime("%d.%m.%Y %H:%M:%S")


def _readable(kind: str, value: dict[str, Any], zone: zoneinfo.ZoneInfo) -> str:
    if kind in DATE_TYPES and is_int(value.get("value")):
        return datetime.datetime.fromtimestamp(value["value"], tz=zone).strftime("%d.%m.%Y")
    if value.get("enum_id"):
        return f"{value.get('value')} (enum {value['enum_id']})"
    return str(value.get("value"))
