import datetime
from collections.abc import Iterable

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from amocrm import crypto, names

# Re-exported: callers keep importing every amoCRM model from here.
from amocrm.control import CircuitBreaker, HealthCheck, RateLimit  # noqa: F401
from amocrm.exceptions import KIND_KEPT, AmoCRMNotFound

ERROR_KEPT = 2000  # how much of an error message the outbox rows keep for staff


class OAuthToken(models.Model):
    """The OAuth token pair of one amoCRM account, encrypted at rest.

    The plain values exist only in memory (`access_token`, `refresh_token`); the columns hold
    Fernet ciphertext, and nothing here ever prints a token.
    """

    base_url = models.URLField(_("account base URL"), unique=True)
    access_token_encrypted = models.TextField(_("access token (encrypted)"), editable=False)
    refresh_token_encrypted = models.TextField(_("refresh token (encrypted)"), editable=False)
    expires_at = models.DateTimeField(_("access token expires at"))
    last_refreshed_at = models.DateTimeField(_("last refreshed at"), null=True, blank=True)
    # amoCRM refused the refresh token (the integration was switched off or uninstalled): nothing is
    # sent until staff reconnect, which stores a new pair and clears it.
    revoked_at = models.DateTimeField(_("revoked in amoCRM at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("amoCRM OAuth token")
        verbose_name_plural = _("amoCRM OAuth tokens")
        # Connecting binds the integration to one amoCRM user's consent: not every staff login may.
        permissions = [("connect_amocrm", _("Can connect amoCRM"))]

    def __str__(self) -> str:
        return names.token(self.base_url)

    def __repr__(self) -> str:
        return f"<OAuthToken pk={self.pk} base_url={self.base_url!r} expires_at={self.expires_at!r}>"

    @property
    def access_token(self) -> str:
        return crypto.decrypt(self.access_token_encrypted)

    @property
    def refresh_token(self) -> str:
        return crypto.decrypt(self.refresh_token_encrypted)

    def set_tokens(
        self, *, access_token: str, refresh_token: str, expires_in: int, now: datetime.datetime | None = None
    ) -> None:
        """Replace the pair; the caller saves (the three values must change together)."""
        now = now or timezone.now()
        self.access_token_encrypted = crypto.encrypt(access_token)
        self.refresh_token_encrypted = crypto.encrypt(refresh_token)
        self.expires_at = now + datetime.timedelta(seconds=expires_in)
        self.last_refreshed_at = now
        self.revoked_at = None

    def reencrypt(self) -> None:
        """Encrypt both values again with the first of AMOCRM_TOKEN_KEYS; the caller saves."""
        self.access_token_encrypted = crypto.reencrypt(self.access_token_encrypted)
        self.refresh_token_encrypted = crypto.reencrypt(self.refresh_token_encrypted)

    def expires_within(self, margin: datetime.timedelta, *, now: datetime.datetime | None = None) -> bool:
        return self.expires_at <= (now or timezone.now()) + margin

    def is_expired(self, *, now: datetime.datetime | None = None) -> bool:
        return self.expires_within(datetime.timedelta(0), now=now)

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class AmoCRMAccount(models.Model):
    """The connected amoCRM account as amoCRM describes it (GET /api/v4/account), read on connect and
    daily: webhooks are recognised by its id (a subdomain can be renamed), and every `date` field is
    written and read in its time zone."""

    account_id = models.PositiveBigIntegerField(_("account id"), unique=True)
    subdomain = models.CharField(_("subdomain"), max_length=64)
    name = models.CharField(_("name"), max_length=255, blank=True)
    currency = models.CharField(_("currency"), max_length=8, blank=True)
    # Until the account is read, its zone is taken to be the site's (most Russian accounts keep Moscow time).
    timezone = models.CharField(_("time zone"), max_length=64, default=settings.TIME_ZONE)
    checked_at = models.DateTimeField(_("read from amoCRM at"))

    class Meta:
        verbose_name = _("amoCRM account")
        verbose_name_plural = _("amoCRM account")

    def __str__(self) -> str:
        return f"{self.name or self.subdomain} ({self.account_id})"


class CustomField(models.Model):
    """Where one of the values the site syncs lives in amoCRM: the id of a lead custom field.

    Filled by `manage.py amocrm_setup_fields`; payloads use these ids, never field names.
    """

    class Key(models.TextChoices):
        ACCOUNT_SUM = "account_sum", _("account sum")
        BOUQUET_CATEGORY = "bouquet_category", _("bouquet category")
        DELIVERY_ADDRESS = "delivery_address", _("delivery address")
        DELIVERY_DATE = "delivery_date", _("delivery date")
        DELIVERY_INTERVAL = "delivery_interval", _("delivery interval")
        WISHES = "wishes", _("bouquet wishes")
        EMAIL = "email", _("email")
        REFERRAL_URL = "referral_url", _("referral link")
        ACCOUNT_STATUS = "account_status", _("account status")

    key = models.CharField(_("site value"), max_length=32, choices=Key, unique=True)
    field_id = models.PositiveBigIntegerField(_("amoCRM field id"), unique=True)
    field_type = models.CharField(_("amoCRM field type"), max_length=32)
    code = models.CharField(_("amoCRM field code"), max_length=64, blank=True)
    name = models.CharField(_("amoCRM field name"), max_length=255)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("amoCRM custom field")
        verbose_name_plural = _("amoCRM custom fields")
        ordering = ["field_id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.field_id})"


class CustomFieldEnum(models.Model):
    """One choice of a select field: a site value (category slug, interval, status) → amoCRM enum id."""

    field = models.ForeignKey(
        CustomField, on_delete=models.CASCADE, related_name="enums", verbose_name=_("field")
    )
    key = models.CharField(_("site value"), max_length=64)
    enum_id = models.PositiveBigIntegerField(_("amoCRM enum id"))
    value = models.CharField(_("amoCRM enum text"), max_length=255)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("amoCRM enum")
        verbose_name_plural = _("amoCRM enums")
        ordering = ["field", "enum_id"]
        constraints = [
            models.UniqueConstraint(fields=["field", "key"], name="amocrm_enum_field_key_unique"),
            models.UniqueConstraint(fields=["field", "enum_id"], name="amocrm_enum_field_enum_id_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.value} ({self.enum_id})"


class LeadSyncQuerySet(models.QuerySet):
    def oldest_pending_since(self) -> datetime.datetime | None:
        """When the longest-waiting profile change was made (None: nothing waits)."""
        return self.filter(status=LeadSync.Status.PENDING).aggregate(oldest=models.Min("pending_since"))[
            "oldest"
        ]


class LeadSync(models.Model):
    """Where one profile stands with its amoCRM lead: the durable sync state (the outbox row).

    A profile save marks the row pending in the same transaction (amocrm.signals), so nothing is lost
    between the save and the worker. The worker claims the row for a short lease, sends only what
    differs from `synced_values`, and records the result. `create_started_at` is committed before a
    lead is created and cleared once its id is stored: a retry that finds it set looks the lead up
    in amoCRM before creating one, so a worker killed mid-create never makes a second lead.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SYNCED = "synced", _("synced")
        FAILED = "failed", _("failed")
        UNLINKED = "unlinked", _("lead deleted in amoCRM")

    profile = models.OneToOneField(
        "accounts.Profile", on_delete=models.CASCADE, related_name="lead_sync", verbose_name=_("profile")
    )
    lead_id = models.PositiveBigIntegerField(_("amoCRM lead id"), null=True, blank=True, unique=True)
    contact_id = models.PositiveBigIntegerField(_("amoCRM contact id"), null=True, blank=True, db_index=True)
    # The lead a manager deleted: it may come back from amoCRM's trash (restore_lead, same id), and
    # the next sync asks for it before creating a new one.
    deleted_lead_id = models.PositiveBigIntegerField(_("deleted amoCRM lead id"), null=True, blank=True)
    # What the contact card holds, as last seen (set when we make the contact; None: unknown, for a
    # contact that was linked): a contact hook whose phone equals it is our own echo.
    contact_phone = models.CharField(  # noqa: DJ001 - None (unknown) differs from "" (none)
        _("phone on the amoCRM contact"), max_length=32, null=True, blank=True
    )
    # The contact's email when it differs from the customer's login (never applied: shown to staff).
    contact_email = models.CharField(_("email on the amoCRM contact"), max_length=254, blank=True)
    # The customer deleted the account: the contact's name, phone and email are to be cleared by the
    # next sync (amocrm.services.erasure), which then empties this.
    contact_erase_requested_at = models.DateTimeField(_("contact to be erased since"), null=True, blank=True)
    # The pipeline stage last seen on the lead: reading the lead back tells a stage change from this.
    crm_status_id = models.PositiveBigIntegerField(_("amoCRM stage last seen"), null=True, blank=True)
    # When amoCRM last changed the lead / the contact, as applied here: anything older changes nothing
    # (a webhook retried late, a webhook racing a reconciliation).
    crm_modified_at = models.DateTimeField(_("lead changed in amoCRM at"), null=True, blank=True)
    contact_modified_at = models.DateTimeField(_("contact changed in amoCRM at"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status, default=Status.PENDING)
    # Bumped by every profile save: a sync that started before the last save leaves the row pending.
    revision = models.PositiveIntegerField(_("revision"), default=0)
    attempts = models.PositiveIntegerField(_("failed attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    pending_since = models.DateTimeField(_("pending since"), null=True, blank=True)
    claimed_until = models.DateTimeField(_("worker lease until"), null=True, blank=True)
    create_started_at = models.DateTimeField(_("lead creation started at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    # Which error `last_error` is (AmoCRMError.kind): the admin explains it in staff's words.
    error_kind = models.CharField(_("error kind"), max_length=KIND_KEPT, blank=True)
    synced_values = models.JSONField(_("last values sent"), default=dict, blank=True)
    # The conflict clock: per field key (and "phone"), when the site last changed it (ISO time). An
    # amoCRM change of a field loses only to a later site change of that field (never `updated_at`).
    site_changed_at = models.JSONField(_("changed on the site at, by field"), default=dict, blank=True)
    synced_at = models.DateTimeField(_("synced at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = LeadSyncQuerySet.as_manager()

    class Meta:
        verbose_name = _("amoCRM lead sync")
        verbose_name_plural = _("amoCRM lead syncs")
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="amocrm_leadsync_due_idx")]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="synced") | models.Q(lead_id__isnull=False),
                name="amocrm_leadsync_synced_has_lead",
            ),
        ]

    def __str__(self) -> str:
        return names.to_lead(self.profile, self.lead_id, state=self.get_status_display())

    def site_changed(self, key: str) -> datetime.datetime | None:
        """When the site last changed the field `key` (None: not since it was first synced)."""
        stamp = (self.site_changed_at or {}).get(key)
        return datetime.datetime.fromisoformat(stamp) if stamp else None

    def stamp_site_changes(self, keys: Iterable[str], *, now: datetime.datetime) -> None:
        """The site changed these fields now; the caller saves."""
        self.site_changed_at = {**(self.site_changed_at or {}), **dict.fromkeys(keys, now.isoformat())}

    def is_claimed(self, *, now: datetime.datetime) -> bool:
        return self.claimed_until is not None and self.claimed_until > now

    def is_waiting_for_retry(self, *, now: datetime.datetime) -> bool:
        """A retry is already scheduled: a new save need not enqueue another task before it."""
        return (
            self.status == self.Status.PENDING
            and self.attempts > 0
            and self.next_attempt_at is not None
            and self.next_attempt_at > now
        )

    def mark_pending(self, *, now: datetime.datetime) -> None:
        """The profile changed; the caller saves. A failed row gets a fresh start."""
        if self.status != self.Status.PENDING:
            self.pending_since = now
            self.attempts = 0
            self.next_attempt_at = now
        self.status = self.Status.PENDING
        self.revision += 1

    def mark_synced(
        self, *, values: dict, lead_id: int, contact_id: int | None, revision: int, now: datetime.datetime
    ) -> bool:
        """Record what amoCRM now holds; False (still pending) when the profile changed meanwhile."""
        self.lead_id = lead_id
        self.contact_id = contact_id or self.contact_id
        self.synced_values = values
        self.synced_at = now
        self.create_started_at = None
        self.claimed_until = None
        self.attempts = 0
        self.last_error = self.error_kind = ""
        if self.revision != revision:
            self.status = self.Status.PENDING
            self.next_attempt_at = now
            return False
        self.status = self.Status.SYNCED
        self.pending_since = None
        self.next_attempt_at = None
        return True

    def mark_retry(self, *, error: str, kind: str, delay: datetime.timedelta, now: datetime.datetime) -> None:
        """A transient failure: try again after `delay`, however long amoCRM stays down."""
        self.status = self.Status.PENDING
        self.attempts += 1
        self.next_attempt_at = now + delay
        self.last_error, self.error_kind = error[:ERROR_KEPT], kind
        self.claimed_until = None

    def mark_linked(self, *, lead_id: int, contact_id: int | None, now: datetime.datetime) -> None:
        """Linked to a lead whose contents are unknown (duplicate control merged ours into it): still
        pending, with nothing recorded as sent, so the next sync sends every field."""
        self.mark_synced(values={}, lead_id=lead_id, contact_id=contact_id, revision=self.revision, now=now)
        self.mark_pending(now=now)

    def mark_waiting(self, *, error: str, kind: str, until: datetime.datetime) -> None:
        """amoCRM may not be called (the breaker is open): wait untouched, not failed, no attempt counted."""
        self.status = self.Status.PENDING
        self.next_attempt_at = until
        self.last_error, self.error_kind = error[:ERROR_KEPT], kind
        self.claimed_until = None

    def mark_failed(self, *, error: str, kind: str = "") -> None:
        """A permanent failure for staff (amoCRM's message kept), counted as an attempt; resync retries it."""
        self.status = self.Status.FAILED
        self.attempts += 1
        self.last_error, self.error_kind = error[:ERROR_KEPT], kind
        self.next_attempt_at = None
        self.claimed_until = None

    def mark_unlinked(self) -> None:
        """The lead was deleted in amoCRM: unlink it, and remember it in case it is restored; the next
        change or a resync looks for it, then creates a new one if it is still gone."""
        self.last_error = f"The lead {self.lead_id} was deleted in amoCRM; a resync makes a new one."
        self.error_kind = AmoCRMNotFound.__name__  # explained as a 404: "Retry" makes a new lead
        self.status = self.Status.UNLINKED
        self.deleted_lead_id = self.lead_id or self.deleted_lead_id
        self.lead_id = None
        self.create_started_at = None
        self.synced_values = {}
        self.next_attempt_at = None

    def mark_relinked(self, *, now: datetime.datetime) -> None:
        """The deleted lead is back (restored from amoCRM's trash): link it again and send every field
        once, since the profile may have changed while it was gone."""
        self.lead_id = self.deleted_lead_id
        self.deleted_lead_id = None
        self.synced_values = {}
        self.last_error = self.error_kind = ""
        self.mark_pending(now=now)


class ReconcileCursor(models.Model):
    """How far reading back amoCRM's changes has come, per kind of entity (amocrm_reconcile).

    `watermark` is the `updated_at` up to which every change has been applied; a run in progress
    saves its place page by page (`page_from`, `page`), so an interrupted run resumes there.
    `running_until` is the lease that keeps two runs from reading at once.
    """

    class Entity(models.TextChoices):
        LEADS = "leads", _("leads")
        CONTACTS = "contacts", _("contacts")

    entity = models.CharField(_("entity"), max_length=16, choices=Entity, primary_key=True)
    watermark = models.PositiveBigIntegerField(_("read up to (Unix time)"), default=0)
    page_from = models.PositiveBigIntegerField(_("run in progress: from (Unix time)"), null=True, blank=True)
    page = models.PositiveIntegerField(_("run in progress: page"), default=1)
    running_until = models.DateTimeField(_("run lease until"), null=True, blank=True)
    last_started_at = models.DateTimeField(_("last run started at"), null=True, blank=True)
    last_finished_at = models.DateTimeField(_("last run finished at"), null=True, blank=True)
    last_read = models.PositiveIntegerField(_("read in the last run"), default=0)
    last_drifts = models.PositiveIntegerField(_("drifts repaired in the last run"), default=0)
    total_read = models.PositiveBigIntegerField(_("read in all"), default=0)
    total_drifts = models.PositiveBigIntegerField(_("drifts repaired in all"), default=0)

    class Meta:
        verbose_name = _("amoCRM reconciliation")
        verbose_name_plural = _("amoCRM reconciliation")

    def __str__(self) -> str:
        return str(self.get_entity_display())


class LeadNote(models.Model):
    """One line of a lead's history in amoCRM: an event of the customer's subscription (signup, a
    skipped delivery, a pause…), kept here until amoCRM has it (the notes' outbox).

    Recorded in the transaction of the change, so none is lost; `sending_started_at` is committed
    before the POST, so a retry after a crash first looks for the note in amoCRM and never posts it
    twice. `error` is set when amoCRM refused the note itself (it is then not tried again).
    """

    profile = models.ForeignKey(
        "accounts.Profile", on_delete=models.CASCADE, related_name="lead_notes", verbose_name=_("profile")
    )
    action = models.CharField(_("event"), max_length=32)
    text = models.TextField(_("text"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sending_started_at = models.DateTimeField(_("sending started at"), null=True, blank=True)
    lead_id = models.PositiveBigIntegerField(_("amoCRM lead id"), null=True, blank=True)
    note_id = models.PositiveBigIntegerField(_("amoCRM note id"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("amoCRM lead note")
        verbose_name_plural = _("amoCRM lead notes")
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["profile", "note_id"], name="amocrm_leadnote_unsent_idx")]

    def __str__(self) -> str:
        return names.note(self.action, self.lead_id, sent=bool(self.note_id))


class LeadTask(models.Model):
    """A message the customer wrote to their manager, as a task for the lead's responsible user in
    amoCRM (services.lead_tasks), kept here until amoCRM has it: the notes' outbox rules (recorded
    in the change's transaction; `sending_started_at` committed before the POST; `error` when
    amoCRM refused it)."""

    profile = models.ForeignKey(
        "accounts.Profile", on_delete=models.CASCADE, related_name="lead_tasks", verbose_name=_("profile")
    )
    text = models.TextField(_("text"))
    complete_till = models.DateTimeField(_("due"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sending_started_at = models.DateTimeField(_("sending started at"), null=True, blank=True)
    lead_id = models.PositiveBigIntegerField(_("amoCRM lead id"), null=True, blank=True)
    task_id = models.PositiveBigIntegerField(_("amoCRM task id"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("amoCRM task")
        verbose_name_plural = _("amoCRM tasks")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return names.task(self.lead_id, sent=bool(self.task_id))


class WebhookEvent(models.Model):
    """One lead or contact event amoCRM posted to /amocrm/webhook/: stored as received, applied by a
    worker.

    A body may carry several entities and event kinds; each item is its own row, so duplicates
    are dropped by `dedupe_key` (entity, event, id, `last_modified`, a hash of the item) and the
    worker orders an entity's events by `modified_at`.
    """

    class Status(models.TextChoices):
        RECEIVED = "received", _("received")
        PROCESSED = "processed", _("processed")
        FAILED = "failed", _("failed")
        IGNORED = "ignored", _("ignored")

    received_at = models.DateTimeField(_("received at"), auto_now_add=True, db_index=True)

    class Entity(models.TextChoices):
        LEAD = "lead", _("lead")
        CONTACT = "contact", _("contact")

    account = models.CharField(_("amoCRM account"), max_length=64, blank=True)
    entity = models.CharField(_("entity"), max_length=8, choices=Entity, default=Entity.LEAD)
    action = models.CharField(_("event"), max_length=16, blank=True)
    lead_id = models.PositiveBigIntegerField(_("amoCRM lead id"), null=True, blank=True)
    contact_id = models.PositiveBigIntegerField(_("amoCRM contact id"), null=True, blank=True)
    modified_at = models.DateTimeField(_("changed in amoCRM at"), null=True, blank=True)
    dedupe_key = models.CharField(_("dedupe key"), max_length=128, unique=True)
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status, default=Status.RECEIVED)
    changes = models.JSONField(_("fields changed"), default=list, blank=True)
    # amoCRM's changes a later site change of the same field won over: [{field, crm_changed_at,
    # site_changed_at}], for staff (nothing is dropped silently).
    dropped = models.JSONField(_("changes dropped"), default=list, blank=True)
    error = models.TextField(_("error"), blank=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("amoCRM webhook event")
        verbose_name_plural = _("amoCRM webhook events")
        ordering = ["-received_at", "-pk"]
        indexes = [
            models.Index(fields=["lead_id", "status", "modified_at"], name="amocrm_webhook_lead_idx"),
            models.Index(fields=["contact_id", "status", "modified_at"], name="amocrm_webhook_contact_idx"),
        ]

    def __str__(self) -> str:
        entity_id = self.contact_id if self.entity == self.Entity.CONTACT else self.lead_id
        return f"{self.get_entity_display()} {entity_id or '—'} ({self.get_status_display()})"

    def mark(
        self, status: str, *, error: str = "", changes: list | None = None, dropped: list | None = None
    ) -> None:
        """Record the outcome; the caller saves."""
        self.status = status
        self.error = error[:4000]
        self.changes = changes or []
        self.dropped = dropped or []
        self.processed_at = timezone.now()
