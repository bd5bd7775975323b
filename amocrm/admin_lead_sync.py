"""The lead sync in the admin: its list (each row's error in staff's words), a row's page with what
amoCRM refused, what to do and a “Retry” button, and the resync the Profile admin offers too.

What an error means is its class's (amocrm.exceptions `explain`); this module only shows it. A row
is never deleted here: without it the next sync would make the customer a second lead. Imported by
amocrm.admin, which registers the rest.
"""

from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import PermissionDenied
from django.db.models import CharField, Count, QuerySet, Value
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext, ngettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from accounts.admin_forgiving import ForgivingAdminMixin
from accounts.admin_lists import WideListMixin, shortened
from accounts.admin_titles import AccusativeTitlesMixin
from amocrm.admin_labels import values_sent
from amocrm.exceptions import StaffExplanation, explain
from amocrm.models import LeadSync
from amocrm.services import enqueue
from amocrm.services.connection import api_base_url, is_enabled


def lead_link(lead_id: int | None, *, base_url: str | None = None) -> str:
    """The lead's id, linking to its card in amoCRM; `base_url`: the account's address, if known."""
    if not lead_id:
        return "—"
    return format_html(
        '<a href="{}/leads/detail/{}" target="_blank" rel="noopener noreferrer">{}</a>',
        api_base_url() if base_url is None else base_url,
        lead_id,
        lead_id,
    )


class LeadLinkMixin:
    """A "lead" column linking each row's `lead_id` to amoCRM. The account's address is read once per
    list and carried on the rows, not read again for each of a hundred rows."""

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        base_url = Value(api_base_url(), output_field=CharField())
        return super().get_queryset(request).annotate(amocrm_base_url=base_url)

    @admin.display(description=_("amoCRM lead"), ordering="lead_id")
    def lead(self, obj) -> str:
        return lead_link(obj.lead_id, base_url=getattr(obj, "amocrm_base_url", None))


def may_resync(request: HttpRequest) -> bool:
    """A resync sends customers' data to amoCRM again: view-only staff may not start one."""
    return request.user.has_perm("amocrm.change_leadsync")


def resync(modeladmin: admin.ModelAdmin, request: HttpRequest, profile_ids: list[int]) -> bool:
    """Queue a full resync of the profiles and tell staff; False when nothing could be queued."""
    if not is_enabled():
        modeladmin.message_user(
            request, _("The amoCRM integration is off: nothing was queued."), level=messages.WARNING
        )
        return False
    enqueue.lead_sync_enqueue(profile_ids=profile_ids, full=True)
    modeladmin.message_user(
        request,
        ngettext(
            "%(count)d profile queued for a full resync with amoCRM.",
            "%(count)d profiles queued for a full resync with amoCRM.",
            len(profile_ids),
        )
        % {"count": len(profile_ids)},
        level=messages.SUCCESS,
    )
    return True


def sync_error(sync: LeadSync) -> StaffExplanation | None:
    """The row's last error in staff's words; None when it has none, or one kept before kinds were."""
    return explain(sync.error_kind) if sync.last_error and sync.error_kind else None


class ContactEmailFilter(admin.SimpleListFilter):
    title = _("email on the amoCRM contact")
    parameter_name = "contact_email"

    def lookups(self, request, model_admin):
        return [("differs", _("differs from the login"))]

    def queryset(self, request, queryset):
        return queryset.exclude(contact_email="") if self.value() == "differs" else queryset


@admin.register(LeadSync)
class LeadSyncAdmin(
    ForgivingAdminMixin, LeadLinkMixin, AccusativeTitlesMixin, WideListMixin, admin.ModelAdmin
):
    accusative_name = pgettext_lazy("accusative", "amoCRM lead sync")
    change_form_template = "amocrm/leadsync_change_form.html"  # the error and “Retry”
    list_display = ["profile_email", "status", "lead", "attempts_made", "next_attempt_at", "error"]
    list_filter = ["status", ContactEmailFilter]
    search_fields = ["profile__user__email", "=lead_id", "=contact_id"]
    list_select_related = ["profile__user"]
    actions = ["resync_selected"]
    # What staff act on first; the outbox's own bookkeeping folded away below it.
    fieldsets = [
        (None, {"fields": ["profile", "status", "lead", "attempts", "next_attempt_at", "amocrm_answer"]}),
        (
            _("Details"),
            {
                "classes": ["collapse"],
                "fields": [
                    "synced_at",
                    "pending_since",
                    "contact_id",
                    "contact_phone",
                    "contact_email",
                    "deleted_lead_id",
                    "values_sent",
                    "claimed_until",
                    "create_started_at",
                    "revision",
                    "created_at",
                    "updated_at",
                ],
            },
        ),
    ]
    readonly_fields = flatten_fieldsets(fieldsets)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # rows appear with profile saves

    def has_change_permission(self, request: HttpRequest, obj: LeadSync | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: LeadSync | None = None) -> bool:
        return False  # see the module docstring: “Retry” is what fixes a row

    @admin.display(description=_("customer"), ordering="profile__user__email")
    def profile_email(self, obj: LeadSync) -> str:
        return shortened(obj.profile.user.email)

    @admin.display(description=_("attempts"), ordering="attempts")
    def attempts_made(self, obj: LeadSync) -> int:
        return obj.attempts

    @admin.display(description=_("error"))
    def error(self, obj: LeadSync) -> str:
        said = sync_error(obj)
        return said.problem if said else Truncator(obj.last_error).chars(120) or "—"

    @admin.display(description=_("last values sent"))
    def values_sent(self, obj: LeadSync) -> str:
        return values_sent(obj.synced_values)

    @admin.display(description=_("amoCRM's answer"))
    def amocrm_answer(self, obj: LeadSync) -> str:
        return obj.last_error or "—"

    def has_resync_permission(self, request: HttpRequest) -> bool:
        return may_resync(request)

    @admin.action(description=_("Resync selected with amoCRM"), permissions=["resync"])
    def resync_selected(self, request: HttpRequest, queryset: QuerySet[LeadSync]) -> None:
        resync(self, request, list(queryset.values_list("profile_id", flat=True)))

    def get_urls(self):
        retry = self.admin_site.admin_view(require_POST(self.retry_view))
        return [path("<int:pk>/retry/", retry, name="amocrm_leadsync_retry"), *super().get_urls()]

    def retry_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """POST (CSRF-checked by admin_view): sync this row's profile again, as the resync action does."""
        if not may_resync(request):
            raise PermissionDenied
        sync = get_object_or_404(LeadSync, pk=pk)
        if resync(self, request, [sync.profile_id]):
            self.log_change(request, sync, gettext("Retry queued."))
        return HttpResponseRedirect(reverse("admin:amocrm_leadsync_change", args=[sync.pk]))

    def render_change_form(
        self, request: HttpRequest, context, add=False, change=False, form_url="", obj=None
    ):
        # From the row the page shows, not a second read: the worker may sync it in between, and the
        # page would then say "synced" beside a "Retry".
        retryable, allowed = obj is not None and obj.status != LeadSync.Status.SYNCED, may_resync(request)
        context.update(
            subtitle=obj.profile.user.email if obj else None,
            sync_error=sync_error(obj) if obj else None,
            may_retry=retryable and allowed,
            retry_refused=retryable and not allowed,  # the guide says to press "Retry": told who may
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def changelist_view(self, request: HttpRequest, extra_context=None):
        # The progress of a resync (or of anything queued): how many wait, are done, have failed.
        counts = dict(LeadSync.objects.values_list("status").annotate(n=Count("pk")))
        pending = counts.get(LeadSync.Status.PENDING, 0)
        if pending and request.method == "GET":
            self.message_user(
                request,
                _("In progress: %(pending)d waiting for amoCRM, %(synced)d synced, %(failed)d failed.")
                % {
                    "pending": pending,
                    "synced": counts.get(LeadSync.Status.SYNCED, 0),
                    "failed": counts.get(LeadSync.Status.FAILED, 0),
                },
                level=messages.INFO,
            )
        return super().changelist_view(request, extra_context)
