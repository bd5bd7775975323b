"""amoCRM in the admin: the connection (expiry only, never token values), the field/enum ids, the
lead sync state (its own list is admin_lead_sync's; here a column and a read-only section on the
Profile admin), and the webhook events amoCRM posted (read-only, with a "reprocess" action)."""

import datetime

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.text import Truncator
from django.utils.translation import gettext, ngettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from accounts import admin as accounts_admin
from accounts import formatting
from accounts.admin_card import CardSection
from accounts.admin_forgiving import ForgivingAdminMixin
from accounts.admin_titles import AccusativeTitlesMixin
from accounts.models import Profile
from accounts.signals import Action
from amocrm.admin_labels import (
    NoteKindFilter,
    WebhookActionFilter,
    field_label,
    iso_moment,
    value_label,
    webhook_action_label,
)
from amocrm.admin_lead_sync import LeadLinkMixin, lead_link, may_resync, resync, sync_error
from amocrm.models import (
    AmoCRMAccount,
    CircuitBreaker,
    CustomField,
    CustomFieldEnum,
    LeadNote,
    LeadSync,
    LeadTask,
    OAuthToken,
    ReconcileCursor,
    WebhookEvent,
)
from amocrm.services import enqueue, webhook_events
from amocrm.services.connection import can_connect, user_may_connect


@admin.register(OAuthToken)
class OAuthTokenAdmin(ForgivingAdminMixin, admin.ModelAdmin):
    change_list_template = "amocrm/oauthtoken_change_list.html"  # the connect button
    list_display = ["base_url", "expires_at", "last_refreshed_at", "updated_at"]
    # Only these are shown; the encrypted columns are never rendered, not even as ciphertext.
    fields = ["base_url", "expires_at", "last_refreshed_at", "created_at", "updated_at"]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False  # connect with the button above the list (/amocrm/oauth/start/) or amocrm_connect

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context=None):
        # The same button as on the index, for those who may connect.
        context = {"amocrm_can_connect": can_connect() and user_may_connect(request.user)}
        return super().changelist_view(request, {**context, **(extra_context or {})})


class ReadOnlyAdmin(ForgivingAdminMixin, admin.ModelAdmin):
    """Facts amoCRM or the integration keeps: staff read them, nobody types them."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AmoCRMAccount)
class AmoCRMAccountAdmin(ReadOnlyAdmin):
    list_display = ["name", "subdomain", "account_id", "timezone", "currency", "checked_at"]
    fields = list_display


@admin.register(CircuitBreaker)
class CircuitBreakerAdmin(ReadOnlyAdmin):
    list_display = ["name", "is_open", "reason", "opened_at", "retry_at", "calls_while_open", "detail"]
    fields = [*list_display, "probe_until", "cooldown_seconds", "failures", "updated_at"]


class NoteSentFilter(admin.SimpleListFilter):
    title = _("sent to amoCRM")
    parameter_name = "sent"

    def lookups(self, request, model_admin):
        return [("yes", _("sent")), ("waiting", _("waiting")), ("refused", _("refused by amoCRM"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(note_id__isnull=False)
        if self.value() == "waiting":
            return queryset.filter(note_id__isnull=True, error="")
        if self.value() == "refused":
            return queryset.exclude(error="")
        return queryset


@admin.register(LeadNote)
class LeadNoteAdmin(LeadLinkMixin, ReadOnlyAdmin):
    """The lead's history as the site sends it to amoCRM (what managers read in the lead's card)."""

    list_display = ["created_at", "profile", "text", "lead", "sent_at"]  # the text names the event
    list_filter = [NoteSentFilter, NoteKindFilter]
    search_fields = ["profile__user__email", "=lead_id", "text"]
    list_select_related = ["profile__user"]
    fields = ["profile", "kind", "text", "created_at", "lead_id", "note_id", "sent_at", "error"]

    @admin.display(description=_("event"), ordering="action")
    def kind(self, obj: LeadNote) -> str:
        return Action.label_of(obj.action)


@admin.register(LeadTask)
class LeadTaskAdmin(LeadLinkMixin, AccusativeTitlesMixin, ReadOnlyAdmin):
    """Customers' messages to their manager, as tasks on the lead in amoCRM (services.lead_tasks)."""

    accusative_name = pgettext_lazy("accusative", "amoCRM task")

    list_display = ["created_at", "profile", "text", "lead", "sent_at"]
    search_fields = ["profile__user__email", "=lead_id", "text"]
    list_select_related = ["profile__user"]
    fields = ["profile", "text", "complete_till", "created_at", "lead_id", "task_id", "sent_at", "error"]


@admin.register(ReconcileCursor)
class ReconcileCursorAdmin(AccusativeTitlesMixin, ReadOnlyAdmin):
    """When reading back amoCRM's changes last ran, what it read, and the drifts it repaired."""

    accusative_name = pgettext_lazy("accusative", "amoCRM reconciliation")

    list_display = ["entity", "last_finished_at", "last_read", "last_drifts", "total_drifts", "read_up_to"]
    fields = [*list_display, "last_started_at", "total_read", "page_from", "page", "running_until"]

    @admin.display(description=_("read up to"))
    def read_up_to(self, obj: ReconcileCursor) -> str:
        if not obj.watermark:
            return formatting.NOTHING
        return formatting.moment(datetime.datetime.fromtimestamp(obj.watermark, tz=datetime.UTC))


class CustomFieldEnumInline(ForgivingAdminMixin, admin.TabularInline):
    model = CustomFieldEnum
    fields = ["site_value", "value", "enum_id", "updated_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).select_related("field")  # site_value reads its key

    @admin.display(description=_("site value"))
    def site_value(self, obj: CustomFieldEnum) -> str:
        return value_label(obj.field.key, obj.key)

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CustomField)
class CustomFieldAdmin(ForgivingAdminMixin, admin.ModelAdmin):
    list_display = ["name", "key", "field_id", "field_type", "code", "updated_at"]
    search_fields = ["name", "code"]
    fields = ["key", "name", "field_id", "field_type", "code", "created_at", "updated_at"]
    readonly_fields = fields
    inlines = [CustomFieldEnumInline]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(WebhookEvent)
class WebhookEventAdmin(ForgivingAdminMixin, LeadLinkMixin, admin.ModelAdmin):
    """What amoCRM posted, one row per lead event, and what applying it did; read-only."""

    list_display = ["received_at", "event", "lead", "modified_at", "status", "changed", "short_error"]
    list_filter = ["status", WebhookActionFilter]
    search_fields = ["=lead_id", "dedupe_key", "error"]
    date_hierarchy = "received_at"
    actions = ["reprocess_selected"]
    fields = [
        "received_at",
        "account",
        "event",
        "lead",
        "modified_at",
        "status",
        "changed",
        "dropped_changes",
        "error",
        "processed_at",
        "dedupe_key",
        "payload",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: WebhookEvent | None = None) -> bool:
        return False

    @admin.display(description=_("event"), ordering="action")
    def event(self, obj: WebhookEvent) -> str:
        return webhook_action_label(obj.action) or "—"

    @admin.display(description=_("fields changed"))
    def changed(self, obj: WebhookEvent) -> str:
        return ", ".join(field_label(name) for name in obj.changes or []) or "—"

    @admin.display(description=_("changes dropped"))
    def dropped_changes(self, obj: WebhookEvent) -> str:
        """amoCRM's changes a later site change of the same field won over, one a line."""
        return (
            "\n".join(
                gettext("%(field)s: changed in amoCRM at %(crm)s, on the site later, at %(site)s")
                % {
                    "field": field_label(item.get("field", "?")),
                    "crm": iso_moment(item.get("crm_changed_at")),
                    "site": iso_moment(item.get("site_changed_at")),
                }
                for item in obj.dropped or []
            )
            or "—"
        )

    @admin.display(description=_("error"))
    def short_error(self, obj: WebhookEvent) -> str:
        return Truncator(obj.error).chars(120)

    def has_reprocess_permission(self, request: HttpRequest) -> bool:
        # The rows are read-only in the admin; the change permission says who may act on them.
        return request.user.has_perm("amocrm.change_webhookevent")

    @admin.action(description=_("Apply selected events again"), permissions=["reprocess"])
    def reprocess_selected(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        event_ids = webhook_events.webhook_events_reprocess(
            event_ids=list(queryset.values_list("pk", flat=True))
        )
        enqueue.webhook_events_after_commit(event_ids=event_ids)
        count = len(event_ids)
        self.message_user(
            request,
            ngettext(
                "%(count)d event queued to be applied again.",
                "%(count)d events queued to be applied again.",
                count,
            )
            % {"count": count},
            level=messages.SUCCESS,
        )


# accounts never imports amocrm, so the Profile admin gets its sync column and card section here.
# The index shows a banner while amoCRM is not being called (services.breaker).
admin.site.index_template = "amocrm/admin_index.html"

admin.site.unregister(Profile)


class SyncStatusFilter(admin.ChoicesFieldListFilter):
    """The sync state's filter, named so beside the account's own status."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.title = _("amoCRM sync")


@admin.register(Profile)
class ProfileAdmin(accounts_admin.ProfileAdmin):
    """The accounts Profile admin plus the sync state: a list column, a filter, a section of the card.

    The section joins the card by extending `card_sections` here, in the subclass this app registers
    anyway for its column: accounts needs no hook of its own and never imports amocrm. A card
    section rather than an inline: an inline formset would make every profile form post its
    management form, and staff never edit the sync state by hand.
    """

    list_display = [*accounts_admin.ProfileAdmin.list_display, "amocrm_status"]
    list_filter = [*accounts_admin.ProfileAdmin.list_filter, ("lead_sync__status", SyncStatusFilter)]
    search_fields = [*accounts_admin.ProfileAdmin.search_fields, "=lead_sync__lead_id"]
    list_select_related = [*accounts_admin.ProfileAdmin.list_select_related, "lead_sync"]
    actions = [*(accounts_admin.ProfileAdmin.actions or []), "resync_to_amocrm"]

    @staticmethod
    def _sync(obj: Profile) -> LeadSync | None:
        try:
            return obj.lead_sync
        except LeadSync.DoesNotExist:
            return None

    @admin.display(description=_("sync"), ordering="lead_sync__status")
    def amocrm_status(self, obj: Profile) -> str:
        sync = self._sync(obj)
        return sync.get_status_display() if sync else "—"

    def card_sections(self, request: HttpRequest, profile: Profile) -> list[CardSection]:
        # The state links to its sync record (attempts, values sent) and the lead to amoCRM.
        sync = self._sync(profile)
        context = {
            "sync": sync,
            "sync_url": reverse("admin:amocrm_leadsync_change", args=[sync.pk]) if sync else "",
            "lead": lead_link(sync.lead_id if sync else None),
            "explanation": sync_error(sync) if sync else None,  # in staff's words, as on its page
        }
        section = CardSection(gettext("amoCRM sync"), "amocrm/admin_card_sync.html", context)
        return [*super().card_sections(request, profile), section]

    def has_resync_permission(self, request: HttpRequest) -> bool:
        return may_resync(request)

    @admin.action(description=_("Resync selected with amoCRM"), permissions=["resync"])
    def resync_to_amocrm(self, request: HttpRequest, queryset: QuerySet[Profile]) -> None:
        resync(self, request, list(queryset.values_list("pk", flat=True)))
