"""Invoices in the admin: the list, and the "Payment received" page where staff confirm what the
customer paid (accounts.payments posts it). Imported by accounts.admin, which registers the rest."""

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts import formatting, payments
from accounts.admin_forgiving import ForgivingAdminMixin
from accounts.admin_money import MoneyMixin
from accounts.models import Invoice


class PaymentForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Amount received, ₽"),
        max_digits=10,
        decimal_places=2,
        min_value=Decimal("0.01"),
        localize=True,
        help_text=_("What the customer actually paid; it is added to the balance once."),
    )


@admin.register(Invoice)
class InvoiceAdmin(ForgivingAdminMixin, MoneyMixin, admin.ModelAdmin):
    """Invoices come from signup; staff confirm a payment with the "Payment received" button."""

    list_display = ["created_at", "profile", "amount", "status", "source", "paid_at"]
    list_filter = ["status", "source"]
    search_fields = ["profile__user__email"]
    list_select_related = ["profile__user"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "profile",
        "amount",
        "status",
        "source",
        "confirmed_by",
        "paid_at",
        "created_at",
        "payment_received",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Invoice | None = None) -> bool:
        return False  # a paid invoice is part of the ledger's story

    @admin.display(description=_("payment"))
    def payment_received(self, obj: Invoice) -> str:
        if obj.status != Invoice.Status.AWAITING:
            return "—"
        url = reverse("admin:accounts_invoice_pay", args=[obj.pk])
        return format_html('<a class="button" href="{}">{}</a>', url, gettext("Payment received"))

    def get_urls(self):
        return [
            path(
                "<int:pk>/pay/",
                self.admin_site.admin_view(self.pay_view),
                name="accounts_invoice_pay",
            ),
            *super().get_urls(),
        ]

    def pay_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """GET: the amount to confirm (the invoice's by default); POST (CSRF-checked by admin_view):
        confirm it. A second confirmation of the same payment changes nothing."""
        invoice = get_object_or_404(Invoice.objects.select_related("profile__user"), pk=pk)
        if not self.has_change_permission(request, invoice):
            raise PermissionDenied
        # Back where staff clicked (the customer card), when that is a page of this site.
        back = request.POST.get("next") or request.GET.get("next") or ""
        if not url_has_allowed_host_and_scheme(back, {request.get_host()}, require_https=request.is_secure()):
            back = ""
        change_url = reverse("admin:accounts_invoice_change", args=[invoice.pk])
        form = PaymentForm(request.POST or None, initial={"amount": invoice.amount})
        # An amount other than the invoice's (a typo, a field pasted into) goes in only once staff
        # confirm it on a second page, as Django's admin asks before a deletion.
        needs_confirmation = (
            request.method == "POST"
            and form.is_valid()
            and form.cleaned_data["amount"] != invoice.amount
            and request.POST.get("confirm") != "yes"
        )
        if request.method == "POST" and form.is_valid() and not needs_confirmation:
            try:
                _invoice, paid_now = payments.invoice_pay(
                    invoice=invoice,
                    amount=form.cleaned_data["amount"],
                    source=Invoice.Source.STAFF,
                    confirmed_by=request.user.get_username(),
                )
            except payments.PaymentError as e:
                self.message_user(request, str(e), messages.ERROR)
            else:
                if paid_now:
                    amount = formatting.rubles(form.cleaned_data["amount"])
                    self.log_change(
                        request, invoice, gettext("Payment received: %(amount)s.") % {"amount": amount}
                    )
                    self.message_user(request, gettext("Payment recorded: the balance is topped up."))
                else:
                    self.message_user(
                        request, gettext("This invoice was already paid: nothing added."), messages.INFO
                    )
            return HttpResponseRedirect(back or change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Payment received"),
            "invoice": invoice,
            "form": form,
            "opts": self.opts,
            "change_url": change_url,
            "needs_confirmation": needs_confirmation,
            "next": back,
            "back_url": back or change_url,
        }
        return TemplateResponse(request, "admin/accounts/invoice/pay.html", context)
