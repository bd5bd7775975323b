"""The customer card: a profile's admin page is the one place staff read and edit a customer.

Above the form: the invoices (each awaiting one with a one-click "Payment received" for its own
amount), the deliveries, the history the customer reads ("What happened"), and whatever other apps
add. The form itself carries the user's email, name and active flag, so the user and the profile
are one entry for staff; the Users list keeps staff accounts (accounts.admin.UserAdmin).

A section is plain data (a title, a template, its context). Another app adds one by overriding
`card_sections` in its subclass of the profile admin: the CRM app already re-registers the profile
admin to add its list column, so its sync-state section goes there too, and accounts never imports it.
"""

import datetime
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin import widgets
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from accounts import formatting, history, payments
from accounts.models import Delivery, Invoice, Profile, User

# The user's fields edited on the card; labels, validators and help texts are the model's own.
USER_FIELDS = ["email", "first_name", "last_name", "is_active"]
DELIVERIES_EACH_WAY = 5  # the next five and the last five
INVOICES_SHOWN = 10
HISTORY_SHOWN = 12


@dataclass(frozen=True)
class CardSection:
    """One box of the card: `template` renders it with `section` (this) in its context."""

    title: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)


class ProfileAdminForm(forms.ModelForm):
    """The profile's fields plus its user's (USER_FIELDS): one form, one save, for one customer."""

    email = User._meta.get_field("email").formfield(widget=widgets.AdminEmailInputWidget)
    first_name = User._meta.get_field("first_name").formfield(widget=widgets.AdminTextInputWidget)
    last_name = User._meta.get_field("last_name").formfield(widget=widgets.AdminTextInputWidget)
    is_active = User._meta.get_field("is_active").formfield()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "account_sum" in self.fields:
            # The page posts back the balance it showed, so "changed" means staff typed a new one, not
            # that a payment or a delivery moved the balance while the card was open.
            self.fields["account_sum"].show_hidden_initial = True
        user = self.instance.user if self.instance.user_id else None
        for name in USER_FIELDS:
            if user is not None:
                self.initial.setdefault(name, getattr(user, name))  # what the fields show and compare with

    def clean_account_sum(self):
        profile = self.instance
        if "account_sum" not in self.changed_data:
            # Untouched: the sum as stored now (the instance is read on this POST), so saving a card
            # opened before a payment or a delivery neither undoes nor repeats it as a correction.
            return profile.account_sum
        wanted = self.cleaned_data["account_sum"]
        shown = self._shown_account_sum()
        if profile.pk and shown is not None and shown != profile.account_sum:
            # Typed over a balance that has moved since (a payment, a delivery): a new sum meant
            # against the old one would undo that move. Staff see the balance now and decide again.
            raise forms.ValidationError(
                gettext(
                    "The balance changed to %(now)s while this page was open: "
                    "check it and enter the new sum again."
                )
                % {"now": formatting.rubles(profile.account_sum)},
                code="balance_moved",
            )
        # The instance still holds the stored sum: the form's values reach it after the clean_ methods.
        if profile.pk and wanted is not None and wanted > profile.account_sum:
            invoice = payments.awaiting_invoice(profile=profile)
            if invoice is not None:
                # Raising the sum by hand and then confirming the invoice would count one payment twice.
                raise forms.ValidationError(
                    gettext(
                        "An invoice for %(amount)s awaits payment: record the payment with "
                        "“Payment received” on the invoice (above), so it is counted once."
                    )
                    % {"amount": formatting.rubles(invoice.amount)},
                    code="invoice_awaiting",
                )
        return wanted

    def _shown_account_sum(self):
        """The balance the page showed (its hidden initial), or None when the post has none."""
        field = self.fields["account_sum"]
        try:
            return field.to_python(self.data.get(self.add_initial_prefix("account_sum")))
        except forms.ValidationError:
            return None

    def _post_clean(self) -> None:
        super()._post_clean()
        user = self.instance.user if self.instance.user_id else None
        if user is None or not self.user_changed():
            return  # nothing of the user's to check (an old address is not staff's to fix here)
        for name in USER_FIELDS:
            if name in self.cleaned_data:
                setattr(user, name, self.cleaned_data[name])
        try:
            # The user model's own rules: one script in the address, unique whatever the case.
            user.full_clean(exclude=["password"])
        except ValidationError as e:
            for name, errors in e.update_error_dict({}).items():
                self.add_error(name if name in self.fields else None, errors)

    def user_changed(self) -> list[str]:
        return [name for name in USER_FIELDS if name in self.changed_data]


def invoices_section(profile: Profile, *, may_pay: bool, card_url: str) -> CardSection:
    """`card_url`: where a payment returns to (the card as it was opened, with the list's filters)."""
    invoices = list(profile.invoices.order_by("-created_at", "-pk")[:INVOICES_SHOWN])
    rows = [
        {
            "invoice": invoice,
            "is_awaiting": invoice.status == Invoice.Status.AWAITING,
            "pay_url": reverse("admin:accounts_invoice_pay", args=[invoice.pk]),
            "change_url": reverse("admin:accounts_invoice_change", args=[invoice.pk]),
        }
        for invoice in invoices
    ]
    context = {"rows": rows, "may_pay": may_pay, "card_url": card_url, "balance": profile.account_sum}
    return CardSection(gettext("Invoices and balance"), "admin/accounts/card/invoices.html", context)


def deliveries_section(profile: Profile, *, today: datetime.date | None = None) -> CardSection:
    today = today or timezone.localdate()
    deliveries = profile.deliveries.select_related("bouquet_category")
    upcoming = list(deliveries.filter(delivery_on__gte=today).order_by("delivery_on")[:DELIVERIES_EACH_WAY])
    past = list(deliveries.filter(delivery_on__lt=today).order_by("-delivery_on")[:DELIVERIES_EACH_WAY])

    def rows(deliveries: list[Delivery]) -> list[dict[str, Any]]:
        return [
            {
                "delivery": delivery,
                "is_off": delivery.status in (Delivery.Status.CANCELLED, Delivery.Status.SKIPPED),
                "url": reverse("admin:accounts_delivery_change", args=[delivery.pk]),
            }
            for delivery in deliveries
        ]

    groups = [(gettext("Next"), rows(upcoming)), (gettext("Recent"), rows(past))]
    context = {
        "groups": [{"title": title, "rows": group} for title, group in groups if group],
        "count": profile.deliveries.count(),
        "all_url": reverse("admin:accounts_delivery_changelist") + f"?profile__id__exact={profile.pk}",
    }
    return CardSection(gettext("Deliveries"), "admin/accounts/card/deliveries.html", context)


def history_section(profile: Profile) -> CardSection:
    page = history.page_get(profile=profile, number=None, per_page=HISTORY_SHOWN)
    context = {"items": page.items, "more": page.has_next}
    return CardSection(gettext("What happened"), "admin/accounts/card/history.html", context)


def _user_value(name: str):
    """The user's field as staff who may only view the card read it (the form edits it otherwise)."""
    model_field = User._meta.get_field(name)

    @admin.display(description=model_field.verbose_name, boolean=isinstance(model_field, models.BooleanField))
    def value(self, obj: Profile):
        return getattr(obj.user, name)

    return value


class ProfileCardMixin:
    """The card on the profile's change page; profiles come from signup, never added or deleted by hand."""

    form = ProfileAdminForm
    email, first_name, last_name, is_active = (_user_value(name) for name in USER_FIELDS)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a customer signs up themselves (their consent, their invoice)

    def has_delete_permission(self, request: HttpRequest, obj: Profile | None = None) -> bool:
        # Its invoices and deliveries are never deleted, so Django's page could only refuse; a
        # customer's data goes by erasure (accounts.erasure), which the CRM is told about.
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Profile | None = None):
        fields = list(super().get_readonly_fields(request, obj))
        # The user's fields stay the user's to change: staff who may edit profiles but not users
        # read them (an email or the active flag is a login, not a bouquet preference).
        if not request.user.has_perm(f"{User._meta.app_label}.change_user"):
            fields += [name for name in USER_FIELDS if name not in fields]
        return fields

    def card_sections(self, request: HttpRequest, profile: Profile) -> list[CardSection]:
        """The card's sections, in order; a subclass appends its own (the CRM app: the sync state)."""
        may_pay = self.admin_site.get_model_admin(Invoice).has_change_permission(request)
        return [
            invoices_section(profile, may_pay=may_pay, card_url=request.get_full_path()),
            deliveries_section(profile),
            history_section(profile),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["card_sections"] = self.card_sections(request, obj) if obj is not None and obj.pk else []
        return super().render_change_form(request, context, add, change, form_url, obj)
