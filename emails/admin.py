"""The outbox for staff: what waits, what went, what failed and why, and "send again".

Read-only, and never the email itself: bodies carry sign-in codes and password-reset links, which
would let anyone with access to this page sign in as the customer. The envelope is enough to answer
"did my email go?".
"""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.admin_forgiving import ForgivingAdminMixin
from emails import enqueue, outbox
from emails.models import Email


@admin.register(Email)
class EmailAdmin(ForgivingAdminMixin, admin.ModelAdmin):
    list_display = ["subject", "recipients", "status", "attempts", "last_error", "created_at", "sent_at"]
    list_filter = ["status"]
    search_fields = ["recipients"]
    date_hierarchy = "created_at"
    # Never `message`: see the module docstring.
    fields = ["subject", "recipients", "status", "attempts", "next_attempt_at", "claimed_until", "last_error"]
    fields += ["failed_on_server"]
    fields += ["created_at", "sent_at"]
    readonly_fields = fields
    actions = ["send_again"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("emails.change_email")

    @admin.action(description=_("Send selected again (waiting or failed ones)"), permissions=["retry"])
    def send_again(self, request: HttpRequest, queryset: QuerySet[Email]) -> None:
        email_ids = outbox.emails_retry(email_ids=list(queryset.values_list("pk", flat=True)))
        enqueue.emails_send_enqueue(email_ids=email_ids)
        count = len(email_ids)
        self.message_user(
            request,
            ngettext(
                "%(count)d email queued to be sent again.", "%(count)d emails queued to be sent again.", count
            )
            % {"count": count},
        )
