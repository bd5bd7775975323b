"""Personal data in the admin: the consent records (on the customer's pages, never added, changed or
deleted) and the staff's authenticators (allauth.mfa)."""

from allauth.mfa.models import Authenticator
from django.contrib import admin
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from accounts import formatting
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
                    formatting.moment(r.created_at),
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
# allauth.mfa's model has no verbose_name ("Выберите authenticator"): named here, for display only
# (migrations read the names Meta was given, not these).
Authenticator._meta.verbose_name = _("staff authenticator")
Authenticator._meta.verbose_name_plural = _("staff authenticators")


class AuthenticatorTypeFilter(admin.SimpleListFilter):
    title = _("type")
    parameter_name = "type"

    def lookups(self, request, model_admin):
        return Authenticator.Type.choices

    def queryset(self, request, queryset):
        return queryset.filter(type=self.value()) if self.value() else queryset


@admin.register(Authenticator)
class AuthenticatorAdmin(ForgivingAdminMixin, admin.ModelAdmin):
    """Staff authenticators: listed so a superuser can remove a lost one (its owner then sets up a
    new one before the next admin page); never added or edited here."""

    # allauth names these fields without gettext ("created at"): the columns are named here.
    list_display = ["owner", "kind", "added_at", "last_used"]
    list_filter = [AuthenticatorTypeFilter]
    list_select_related = ["user"]
    search_fields = ["user__email"]
    fields = list_display
    readonly_fields = fields

    @admin.display(description=_("user"), ordering="user__email")
    def owner(self, obj: Authenticator) -> str:
        return str(obj.user)

    @admin.display(description=_("type"), ordering="type")
    def kind(self, obj: Authenticator) -> str:
        return obj.get_type_display()

    @admin.display(description=_("added at"), ordering="created_at")
    def added_at(self, obj: Authenticator) -> str:
        return formatting.moment(obj.created_at)

    @admin.display(description=_("last used at"), ordering="last_used_at")
    def last_used(self, obj: Authenticator) -> str:
        return formatting.moment(obj.last_used_at)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
