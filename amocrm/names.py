"""How the integration's outbox rows name themselves to staff (their __str__, in admin titles and
messages): what, which lead, in what state; in Russian, with "—" for a lead not yet known."""

from django.utils.translation import gettext

from accounts.signals import Action


def to_lead(what: object, lead_id: int | None, *, state: str = "", sent: bool = False) -> str:
    """`state`, or else sent/waiting by `sent`."""
    state = state or (gettext("sent") if sent else gettext("waiting"))
    values = {"what": what, "lead": lead_id or "—", "state": state}
    return gettext("%(what)s → lead %(lead)s (%(state)s)") % values


def token(base_url: str) -> str:
    return gettext("amoCRM token for %(url)s") % {"url": base_url}


def note(action: str, lead_id: int | None, *, sent: bool) -> str:
    return to_lead(Action.label_of(action), lead_id, sent=sent)


def task(lead_id: int | None, *, sent: bool) -> str:
    return to_lead(gettext("task"), lead_id, sent=sent)
