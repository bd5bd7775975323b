"""The proof of consent to processing personal data: each legal text exactly as shown, and each
consent given or withdrawn against one. Re-exported by accounts.models (Django registers them there);
accounts.legal renders the texts and records the consents."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class LegalText(models.Model):
    """One version of a legal text exactly as the site showed it (the consent, the privacy policy).

    Kept once per distinct text (its SHA-256), so a consent record proves which words the customer
    agreed to even after staff replace the template."""

    class Kind(models.TextChoices):
        CONSENT = "consent", _("consent to the processing of personal data")
        PRIVACY = "privacy", _("personal data processing policy")

    kind = models.CharField(_("document"), max_length=16, choices=Kind)
    version = models.CharField(_("version"), max_length=64)
    sha256 = models.CharField(_("SHA-256 of the text"), max_length=64, unique=True)
    text = models.TextField(_("text as shown"))
    created_at = models.DateTimeField(_("first shown at"), auto_now_add=True)

    class Meta:
        verbose_name = _("legal text")
        verbose_name_plural = _("legal texts")
        ordering = ["kind", "-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.version} ({self.sha256[:12]})"


class ConsentRecord(models.Model):
    """One consent given or withdrawn: who, which text, when, from which address and browser.

    Append-only: the operator must be able to show how consent was given, so a row is never changed
    or deleted (the admin shows them read-only; `save` refuses an update, `delete` refuses)."""

    class Action(models.TextChoices):
        GIVEN = "given", _("given")
        WITHDRAWN = "withdrawn", _("withdrawn")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consents", verbose_name=_("user")
    )
    text = models.ForeignKey(LegalText, on_delete=models.PROTECT, related_name="+", verbose_name=_("text"))
    action = models.CharField(_("action"), max_length=16, choices=Action, default=Action.GIVEN)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("browser"), max_length=512, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("consent record")
        verbose_name_plural = _("consent records")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.text} — {self.get_action_display()}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise ValueError("Consent records are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Consent records are append-only.")
