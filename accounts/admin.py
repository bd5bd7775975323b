import datetime

from allauth.account.models import EmailAddress
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext_lazy
from django_tasks_db.models import DBTaskResult

from accounts import (
    admin_invoices,  # noqa: F401 - registers the invoices' admin
    admin_personal_data,
    admin_sheet,
    formatting,
    phones,
    services,
)
from accounts.admin_card import ProfileCardMixin
from accounts.admin_forgiving import ForgivingAdminMixin
from accounts.admin_lists import WideListMixin, shortened
from accounts.admin_money import MoneyMixin
from accounts.admin_permissions import PermissionLabelsMixin
from accounts.admin_titles import AccusativeTitlesMixin
from accounts.forms import PhoneField
from accounts.models import BouquetCategory, Delivery, Profile, User


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


@admin.register(User)
class UserAdmin(ForgivingAdminMixin, AccusativeTitlesMixin, PermissionLabelsMixin, DjangoUserAdmin):
    """Staff accounts. A customer (a user with a profile) is one entry for staff: the customer card,
    which edits the user's email, name and active flag too; their user page leads there."""

    accusative_name = pgettext_lazy("accusative", "user")
    actions = ["delete_selected"]
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "first_name", "last_name"]
    inlines = [admin_personal_data.ConsentRecordInline]
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

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).filter(profile__isnull=True)

    # Django's own action under its own name (so it replaces the site-wide one), named in the right
    # case: its "Удалить выбранные %(verbose_name_plural)s" agrees with things, not with people.
    @admin.action(description=_("Delete selected users"), permissions=["delete"])
    def delete_selected(self, request: HttpRequest, queryset):
        return delete_selected(self, request, queryset)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        try:
            profile = Profile.objects.filter(user__pk=unquote(object_id)).only("pk").first()
        except (ValueError, ValidationError, OverflowError):
            profile = None  # not an id: Django's own "not found" answers below
        if profile is not None:
            return HttpResponseRedirect(reverse("admin:accounts_profile_change", args=[profile.pk]))
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(Profile)
class ProfileAdmin(
    ProfileCardMixin,
    ForgivingAdminMixin,
    WideListMixin,
    MoneyMixin,
    PhoneSearchMixin,
    PhoneFieldMixin,
    admin.ModelAdmin,
):
    """The customer card (accounts.admin_card): the profile, its user, and what happened to them."""

    # What staff look a customer up for, in the width a 1280 px screen leaves (accounts.admin_lists);
    # the CRM app's admin adds the sync state. Dates and the schedule are on the profile's page.
    list_display = ["customer", "phone_number", "account_sum", "status", "bouquet_category"]
    list_filter = ["bouquet_category", "delivery_interval", "account_status", "created_at"]
    search_fields = ["user__email", "delivery_address", "phone"]
    list_select_related = ["user", "bouquet_category"]
    autocomplete_fields = ["referred_by"]
    readonly_fields = [
        "referral_code",
        "referral_url",
        "referral_reward_withheld",
        "ledger_history",
        "consents",
        "created_at",
        "updated_at",
    ]
    date_hierarchy = "created_at"
    fieldsets = [
        (_("Customer"), {"fields": ["email", ("first_name", "last_name"), "is_active"]}),
        (_("Subscription"), {"fields": ["account_status", "paused_until", "account_sum"]}),
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
        (_("Account history"), {"fields": ["ledger_history"]}),
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

    @admin.display(description=_("last ledger entries"))
    def ledger_history(self, obj: Profile) -> str:
        # Read-only: a change of the sum above is posted to the ledger as a staff correction.
        entries = obj.ledger_entries.select_related("delivery")[:20] if obj.pk else []
        return (
            format_html_join(
                "",
                "<div>{} · {} · {} {}</div>",
                (
                    (
                        formatting.moment(e.created_at),
                        e.get_reason_display(),
                        formatting.rubles(e.amount, signed=True),
                        # A delivery's debit notes its date (ISO): shown as a date, like the others.
                        date_format(e.delivery.delivery_on, "j E Y") if e.delivery else e.note,
                    )
                    for e in entries
                ),
            )
            or "—"
        )

    def save_model(self, request: HttpRequest, obj: Profile, form, change: bool) -> None:
        if changed_on_user := form.user_changed():
            obj.user.save(update_fields=changed_on_user)  # checked by the form (User.full_clean)
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
    admin_sheet.DeliverySheetMixin,
    ForgivingAdminMixin,
    AccusativeTitlesMixin,
    WideListMixin,
    MoneyMixin,
    PhoneSearchMixin,
    admin.ModelAdmin,
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
            completed = admin_sheet.mark_delivered(self, request, delivery)
            if completed is None:
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
class GroupAdmin(ForgivingAdminMixin, AccusativeTitlesMixin, PermissionLabelsMixin, DjangoGroupAdmin):
    accusative_name = pgettext_lazy("accusative", "group")
