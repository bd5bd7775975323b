import datetime

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from amocrm import crypto


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
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("amoCRM OAuth token")
        verbose_name_plural = _("amoCRM OAuth tokens")

    def __str__(self) -> str:
        return f"amoCRM token for {self.base_url}"

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

    def reencrypt(self) -> None:
        """Encrypt both values again with the first of AMOCRM_TOKEN_KEYS; the caller saves."""
        self.access_token_encrypted = crypto.reencrypt(self.access_token_encrypted)
        self.refresh_token_encrypted = crypto.reencrypt(self.refresh_token_encrypted)

    def expires_within(self, margin: datetime.timedelta, *, now: datetime.datetime | None = None) -> bool:
        return self.expires_at <= (now or timezone.now()) + margin

    def is_expired(self, *, now: datetime.datetime | None = None) -> bool:
        return self.expires_within(datetime.timedelta(0), now=now)


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


class RateLimit(models.Model):
    """A request-spacing slot shared by every process and machine that talks to amoCRM.

    `next_at` is the earliest moment (database clock) the next request may start; see amocrm.ratelimit.
    """

    name = models.CharField(_("name"), max_length=64, unique=True)
    next_at = models.DateTimeField(_("next request at"))

    class Meta:
        verbose_name = _("rate limit")
        verbose_name_plural = _("rate limits")

    def __str__(self) -> str:
        return self.name
