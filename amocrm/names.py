"""How the integration's outbox rows name themselves to staff (their __str__, in admin titles and
messages): what, which lead, in what state; in Russian, with "—" for a lead not yet known."""

from django.utils.translation import gettext


def to_lead(what: object, lead_id: int | None, *, state: str = "", sent: bool = False) -> str:
    """`state`, or else sent/waiting by `sent`."""
    state = state or (gettext("sent") if sent else gettext("waiting"))
    values = {"what": what, "lead": lead_id or "—", "state": state}
    return gettext("%(what)s → lead %(lead)s (%(state)s)") % values
