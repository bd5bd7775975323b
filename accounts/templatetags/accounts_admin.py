"""The admin index's customers panel: what goes out today and tomorrow, who signed up lately, and
the invoices awaiting payment, each figure a link to the list where staff act on it. A box shows
only to staff who may open what it links to (a staff account without permissions sees none)."""

from urllib.parse import urlencode

from django import template
from django.urls import reverse

from accounts import formatting
from accounts.models import Delivery, Invoice
from accounts.selectors import staff_overview

register = template.Library()


@register.filter
def rubles(value, signed: str = "") -> str:
    """{{ invoice.amount|rubles }}: "2 500,00 ₽", as everywhere in the admin (accounts.formatting);
    {{ entry.amount|rubles:"signed" }}: "+2 500,00 ₽" for a credit, "−2 500,00 ₽" for a debit."""
    return formatting.rubles(value, signed=bool(signed))


@register.inclusion_tag("admin/accounts/control_room.html", takes_context=True)
def customers_control_room(context: template.Context) -> dict:
    request = context.get("request")
    may = {
        name: request is not None and request.user.has_perm(f"accounts.view_{name}")
        for name in ("delivery", "profile", "invoice")
    }
    if not any(may.values()):
        return {"may": may}
    overview = staff_overview()
    deliveries = reverse("admin:accounts_delivery_changelist")
    profiles = reverse("admin:accounts_profile_changelist")
    scheduled = f"status__exact={Delivery.Status.SCHEDULED}"
    return {
        "may": may,
        "overview": overview,
        "urls": {
            "today": f"{deliveries}?day=today&{scheduled}",
            "tomorrow": f"{deliveries}?day=tomorrow&{scheduled}",
            "sheet": reverse("admin:accounts_delivery_sheet"),
            "xlsx": reverse("admin:accounts_delivery_file", args=["tomorrow", "xlsx"]),
            "customers_today": _created(profiles, overview.midnight, overview.next_midnight),
            "customers_week": _created(profiles, overview.week_start, overview.next_midnight),
            "invoices_awaiting": f"{reverse('admin:accounts_invoice_changelist')}"
            f"?status__exact={Invoice.Status.AWAITING}",
        },
    }


def _created(url: str, since, until) -> str:
    # The admin date filter's own parameters (str() of local midnights), so its choice is highlighted.
    return f"{url}?{urlencode({'created_at__gte': str(since), 'created_at__lt': str(until)})}"
