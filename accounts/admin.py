import csv
import datetime

from allauth.account.models import EmailAddress
from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html_join
from django.utils.translation import gettext, ngettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from django_tasks_db.models import DBTaskResult

from accounts import (
    admin_invoices,  # noqa: F401 - registers the invoices' admin
    admin_personal_data,
    delivery_actions,
    ledger,
    payments,
    phones,
    services,
    spreadsheet,
)
from accounts.admin_forgiving import ForgivingAdminMixin
from accounts.admin_lists import WideListMixin, shortened
from accounts.admin_titles import AccusativeTitlesMixin
from accounts.forms import PhoneField
from accounts.models import BouquetCategory, Delivery, Invoice, Profile, User


class PhoneFieldMixin:
    """The phone typed any usual way, stored E.164, shown formatted (accounts.forms.PhoneField)."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "phone":
            return PhoneField(label=db_field.verbose_name.capitalize(), required=not db_field.blank)
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class PhoneSearchMixin:
    """Staff search a phone as they read it (8 900 123-45-67); profiles store it E.164."""

    phone_lookup = "phone"

    def get_search_results(self, request, queryset, search_term):
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        try:
            e164 = phones.to_e164(search_term)
        except phones.InvalidPhone:
            return found, may_have_duplicates
        return found | queryset.filter(**{self.phone_lookup: e164}), may_have_duplicates


class ProfileInline(ForgivingAdminMixin, PhoneFieldMixin, admin.StackedInline):
    model = Profile
    fk_name = "user"
    can_delete = False
    autocomplete_fields = ["referred_by"]
    # The sum changes through the ledger: on the profile's own page (which posts the difference).
    readonly_fields = ["account_sum", "referral_code", "referral_reward_withheld", "created_at", "updated_at"]


@admin.register(User)
class UserAdmin(ForgivingAdminMixin, AccusativeTitlesMixin, DjangoUserAdmin):
    accusative_name = pgettext_lazy("accusative", "user")
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "first_name", "last_name", "profile__delivery_address"]
    inlines = [ProfileInline, admin_personal_data.ConsentRecordInline]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        (_("Personal info"), {"fields": ["first_name", "last_name"]}),
        (
            _("Permissions"),
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        (_("Important dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]}),
    ]

    def get_inlines(self, request, obj):
        # A user being added has no profile yet; staff add one after saving, if at all.
        return self.inlines if obj else []

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        changed = [name for inline in formsets for f in inline.forms for name in f.changed_data]
        if change and "email" in form.changed_data:
            changed.append("email")
        services.profile_edited_by_staff(user=form.instance, fields=changed)


class ProfileAdminForm(forms.ModelForm):
    def clean_account_sum(self):
        wanted = self.cleaned_data["account_sum"]
        profile = self.instance
        # The instance still holds the stored sum: the form's values reach it after the clean_ methods.
        if profile.pk and wanted is not None and wanted > profile.account_sum:
            invoice = payments.awaiting_invoice(profile=profile)
            if invoice is not None:
                # Raising the sum by hand and then confirming the invoice would count one payment twice.
                raise forms.ValidationError(
                    gettext(
                        "An invoice for %(amount)s ₽ awaits payment: record the payment with "
                        "“Payment received” on the invoice (below), so it is counted once."
                    )
                    % {"amount": invoice.amount},
                    code="invoice_awaiting",
                )
        return wanted


@admin.register(Profile)
class ProfileAdmin(ForgivingAdminMixin, WideListMixin, PhoneSearchMixin, PhoneFieldMixin, admin.ModelAdmin):
    form = ProfileAdminForm
    # What staff look a customer up for, in the width a 1280 px screen leaves (accounts.admin_lists);
    # the CRM app's admin adds the sync state. Dates and the schedule are on the profile's page.
    list_display = ["customer", "phone_number", "account_sum", "status", "bouquet_category"]
    list_filter = ["bouquet_category", "delivery_interval", "account_status", "created_at"]
    search_fields = ["user__email", "delivery_address", "phone"]
    list_select_related = ["user", "bouquet_category"]
    autocomplete_fields = ["user", "referred_by"]
    readonly_fields = [
        "referral_code",
        "referral_url",
        "referral_reward_withheld",
        "ledger_history",
        "invoices_awaiting",
        "consents",
        "created_at",
        "updated_at",
    ]
    date_hierarchy = "created_at"
    fieldsets = [
        (None, {"fields": ["user", "account_status", "paused_until", "account_sum"]}),
        (
            _("Bouquet preferences"),
            {
                "fields": [
                    "bouquet_category",
                    "delivery_address",
                    "first_delivery_date",
                    "delivery_interval",
                    "wishes",
                    "phone",
                ]
            },
        ),
        (
            _("Referrals"),
            {"fields": ["referral_code", "referral_url", "referred_by", "referral_reward_withheld"]},
        ),
        (_("Account history"), {"fields": ["invoices_awaiting", "ledger_history"]}),
        (_("Personal data"), {"fields": ["consents"]}),
        (_("Dates"), {"fields": ["created_at", "updated_at"]}),
    ]

    @admin.display(description=_("customer"), ordering="user__email")
    def customer(self, obj: Profile) -> str:
        return shortened(obj.user.email, chars=40)

    @admin.display(description=_("phone"), ordering="phone")
    def phone_number(self, obj: Profile) -> str:
        return phones.formatted(obj.phone) if obj.phone else "—"

    @admin.display(description=_("status"), ordering="account_status")
    def status(self, obj: Profile) -> str:
        return obj.get_account_status_display()

    @admin.display(description=_("consents"))
    def consents(self, obj: Profile) -> str:
        return admin_personal_data.consents_summary(obj.user) if obj.pk else "—"

    @admin.display(description=_("referral link"))
    def referral_url(self, obj: Profile) -> str:
        return obj.referral_url

    @admin.display(description=_("invoices awaiting payment"))
    def invoices_awaiting(self, obj: Profile) -> str:
        # Where staff look for the customer: each awaiting invoice links to its "Payment received" page.
        invoices = obj.invoices.filter(status=Invoice.Status.AWAITING) if obj.pk else []
        return (
            format_html_join(
                "",
                '<div>{} ₽ · <a href="{}">{}</a></div>',
                (
                    (
                        i.amount,
                        reverse("admin:accounts_invoice_pay", args=[i.pk]),
                        gettext("Payment received"),
                    )
                    for i in invoices
                ),
            )
            or "—"
        )

    @admin.display(description=_("last ledger entries"))
    def ledger_history(self, obj: Profile) -> str:
        # Read-only: a change of the sum above is posted to the ledger as a staff correction.
        entries = obj.ledger_entries.all()[:20] if obj.pk else []
        return (
            format_html_join(
                "",
                "<div>{} · {} · {} ₽ {}</div>",
                (
                    (
                        date_format(timezone.localtime(e.created_at), "SHORT_DATETIME_FORMAT"),
                        e.get_reason_display(),
                        e.amount,
                        e.note,
                    )
                    for e in entries
                ),
            )
            or "—"
        )

    def save_model(self, request: HttpRequest, obj: Profile, form, change: bool) -> None:
        services.profile_save_by_staff(
            profile=obj,
            is_new=not change,
            staff_email=request.user.get_username(),
            changed=form.changed_data,
        )


class DeliveryDayFilter(admin.SimpleListFilter):
    title = _("delivery day")
    parameter_name = "day"

    def lookups(self, request, model_admin):
        return [("today", _("Today")), ("tomorrow", _("Tomorrow")), ("week", _("This week"))]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        if self.value() == "today":
            return queryset.filter(delivery_on=today)
        if self.value() == "tomorrow":
            return queryset.filter(delivery_on=today + datetime.timedelta(days=1))
        if self.value() == "week":
            monday = today - datetime.timedelta(days=today.weekday())
            return queryset.filter(delivery_on__range=(monday, monday + datetime.timedelta(days=6)))
        return queryset


@admin.register(Delivery)
class DeliveryAdmin(
    ForgivingAdminMixin, AccusativeTitlesMixin, WideListMixin, PhoneSearchMixin, admin.ModelAdmin
):
    accusative_name = pgettext_lazy("accusative", "delivery")
    phone_lookup = "profile__phone"
    # The address and the status first of all, at 1280 px (accounts.admin_lists); the rest is on the page.
    list_display = ["delivery_on", "customer", "delivery_address", "bouquet", "status"]
    list_filter = [DeliveryDayFilter, "status", "bouquet_category"]
    search_fields = ["profile__user__email", "delivery_address", "profile__phone"]
    list_select_related = ["profile__user", "bouquet_category"]
    date_hierarchy = "delivery_on"
    ordering = ["delivery_on", "pk"]
    actions = ["mark_delivered"]
    readonly_fields = [
        "profile",
        "delivery_on",
        "bouquet_category",
        "price",
        "delivery_address",
        "status",
        "delivered_at",
        "moved_from",
        "reminded_at",
        "created_at",
        "updated_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # deliveries come from the schedule

    @admin.display(description=_("customer"), ordering="profile__user__email")
    def customer(self, obj: Delivery) -> str:
        return shortened(obj.profile.user.email)

    @admin.display(description=_("bouquet"), ordering="bouquet_category__name")
    def bouquet(self, obj: Delivery) -> str:
        return obj.bouquet_category.name

    def has_delete_permission(self, request: HttpRequest, obj: Delivery | None = None) -> bool:
        return False

    @admin.action(description=_("Mark delivered (debit the bouquet price)"), permissions=["change"])
    def mark_delivered(self, request: HttpRequest, queryset) -> None:
        done = already = 0
        for delivery in queryset.select_related("profile__user"):
            try:
                completed = delivery_actions.delivery_complete(delivery_id=delivery.pk)
            except ledger.InsufficientBalance as e:
                self.message_user(
                    request,
                    gettext(
                        "Not marked: %(customer)s has %(balance)s ₽, the bouquet costs %(price)s ₽. "
                        "Top up or correct the balance first."
                    )
                    % {"customer": delivery.profile, "balance": e.balance, "price": delivery.price},
                    messages.WARNING,
                )
                continue
            except delivery_actions.DeliveryError as e:
                self.message_user(request, f"{delivery}: {e}", messages.WARNING)
                continue
            done += completed
            already += not completed
        if done:
            self.message_user(
                request,
                ngettext(
                    "%(count)d delivery marked delivered.", "%(count)d deliveries marked delivered.", done
                )
                % {"count": done},
                messages.SUCCESS,
            )
        if already:
            self.message_user(
                request,
                ngettext(
                    "%(count)d delivery was already delivered: nothing debited again.",
                    "%(count)d deliveries were already delivered: nothing debited again.",
                    already,
                )
                % {"count": already},
                messages.INFO,
            )

    def get_urls(self):
        return [
            path(
                "export-tomorrow/",
                self.admin_site.admin_view(self.export_tomorrow),
                name="accounts_delivery_export_tomorrow",
            ),
            *super().get_urls(),
        ]

    def export_tomorrow(self, request: HttpRequest) -> HttpResponse:
        """CSV for the couriers: tomorrow's scheduled deliveries with address, category, wishes, phone."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        day = timezone.localdate() + datetime.timedelta(days=1)
        deliveries = Delivery.objects.filter(
            delivery_on=day, status=Delivery.Status.SCHEDULED
        ).select_related("profile__user", "bouquet_category")
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="deliveries-{day.isoformat()}.csv"'
        response.write("\ufeff")  # a BOM, so spreadsheet programs read the Cyrillic as UTF-8
        # Every cell quoted (OWASP's advice too): a separator or quote in an address stays in its cell.
        writer = csv.writer(response, quoting=csv.QUOTE_ALL)
        # The first five columns are the ones couriers knew; the details follow (Delivery.courier_details).
        writer.writerow(
            [
                gettext("Date"),
                gettext("Address"),
                gettext("Category"),
                gettext("Wishes"),
                gettext("Phone"),
                gettext("Time"),
                gettext("Entrance"),
                gettext("Floor"),
                gettext("Intercom"),
                gettext("Recipient"),
                gettext("Recipient's phone"),
                gettext("Note for the courier"),
            ]
        )
        windows = dict(Delivery.TimeWindow.choices)
        for delivery in deliveries.order_by("delivery_address", "pk"):
            details = delivery.courier_details()
            writer.writerow(
                [
                    delivery.delivery_on.isoformat(),
                    *map(
                        spreadsheet.cell,
                        [
                            delivery.delivery_address,
                            delivery.bouquet_category.name,
                            delivery.profile.wishes,
                            # 8 (900) 123-45-67: dialled as it is, no quote needed; foreign
                            # numbers stay international and get the quote.
                            phones.dialled_locally(delivery.profile.phone),
                            str(windows.get(details["time_window"], "")),
                            details["entrance"],
                            details["floor"],
                            details["intercom"],
                            details["recipient_name"],
                            phones.dialled_locally(details["recipient_phone"]),
                            details["courier_note"],
                        ],
                    ),
                ]
            )
        return response


@admin.register(BouquetCategory)
class BouquetCategoryAdmin(ForgivingAdminMixin, AccusativeTitlesMixin, admin.ModelAdmin):
    accusative_name = pgettext_lazy("accusative", "bouquet category")
    list_display = ["name", "slug", "price", "is_active", "ordering"]
    list_editable = ["price", "is_active", "ordering"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


# Models staff never use: e-mail addresses are the user's login, edited on the user (allauth's list
# would let the two disagree), and the worker's task rows are plumbing: what staff act on (changes
# waiting or failed, webhook events) has its own lists and figures on the index.
admin.site.unregister(EmailAddress)
admin.site.unregister(DBTaskResult)
admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(ForgivingAdminMixin, AccusativeTitlesMixin, DjangoGroupAdmin):
    accusative_name = pgettext_lazy("accusative", "group")
