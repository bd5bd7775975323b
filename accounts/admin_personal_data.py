"""Personal data in the admin: the consent records (on the customer's pages, never added, changed or
deleted) and the staff's authenticators (allauth.mfa)."""

from allauth.mfa.models import Authenticator
from django.contrib import admin
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from accounts.admin_forgiving import ForgivingAdminMixin
from accounts.models import ConsentRecord, User


class ConsentRecordInline(ForgivingAdminMixin, admin.TabularInline):
    """Every consent the customer gave or withdrew, on the user's page, read-only."""

    model = ConsentRecord
    fk_name = "user"
    extra = 0
    can_delete = False
    fields = ["created_at", "action", "document", "version", "sha256", "ip_address", "user_agent"]
    readonly_fields = fields

    @admin.display(description=_("document"))
    def document(self, obj: ConsentRecord) -> str:
        return obj.text.get_kind_display()

    @admin.display(description=_("version"))
    def version(self, obj: ConsentRecord) -> str:
        return obj.text.version

    @admin.display(description=_("SHA-256 of the text"))
    def sha256(self, obj: ConsentRecord) -> str:
        return obj.text.sha256

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("text")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def consents_summary(user: User) -> str:
    """One line per consent for the customer card: when, given or withdrawn, which text (its whole
    SHA-256, the evidence), from where (address and browser)."""
    records = user.consents.select_related("text")
    return (
        format_html_join(
            "",
            "<div>{} · {} · {} {} · SHA-256 {} · {} · {}</div>",
            (
                (
                    date_format(timezone.localtime(r.created_at), "SHORT_DATETIME_FORMAT"),
                    r.get_action_display(),
                    r.text.get_kind_display(),
                    r.text.version,
                    r.text.sha256,
                    r.ip_address or "—",
                    r.user_agent or "—",
                )
                for r in records
            ),
        )
        or "—"
    )


# allauth.mfa registers its own list; ours is forgiving like every list, and read-only.
admin.site.unregister(Authenticator)


@admin.register(Authenticator)
class AuthenticatorAdmin(ForgivingAdminMixin, admin.ModelAdmin):
    """Staff authenticators: listed so a superuser can remove a lost one (its owner then sets up a
    new one before the next admin page); never added or edited here."""

    list_display = ["user", "type", "created_at", "last_used_at"]
    list_filter = ["type"]
    list_select_related = ["user"]
    search_fields = ["user__email"]
    fields = ["user", "type", "created_at", "last_used_at"]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
