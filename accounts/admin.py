from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from accounts.models import BouquetCategory, Profile, User


class ProfileInline(admin.StackedInline):
    model = Profile
    fk_name = "user"
    can_delete = False
    autocomplete_fields = ["referred_by"]
    readonly_fields = ["referral_code", "created_at", "updated_at"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "first_name", "last_name", "profile__delivery_address"]
    inlines = [ProfileInline]
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


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = [
        "user",
        "bouquet_category",
        "delivery_interval",
        "first_delivery_date",
        "account_sum",
        "account_status",
        "created_at",
    ]
    list_filter = ["bouquet_category", "delivery_interval", "account_status", "created_at"]
    search_fields = ["user__email", "delivery_address", "phone"]
    list_select_related = ["user", "bouquet_category"]
    autocomplete_fields = ["user", "referred_by"]
    readonly_fields = ["referral_code", "referral_url", "created_at", "updated_at"]
    date_hierarchy = "created_at"
    fieldsets = [
        (None, {"fields": ["user", "account_status", "account_sum"]}),
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
        (_("Referrals"), {"fields": ["referral_code", "referral_url", "referred_by"]}),
        (_("Dates"), {"fields": ["created_at", "updated_at"]}),
    ]

    @admin.display(description=_("referral link"))
    def referral_url(self, obj: Profile) -> str:
        return obj.referral_url


@admin.register(BouquetCategory)
class BouquetCategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "price", "is_active", "ordering"]
    list_editable = ["price", "is_active", "ordering"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
