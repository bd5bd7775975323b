import datetime
import functools
import uuid
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts import emails, formatting, phones, schedule

# Re-exported: callers keep importing every account model from here.
from accounts.consents import ConsentRecord, LegalText  # noqa: F401
from accounts.courier_fields import COURIER_FIELDS, CourierDetails
from accounts.history_line import HistoryLine  # noqa: F401
from accounts.managers import ProfileQuerySet, UserManager
from accounts.signals import Action
from flower_account import prepared


class User(AbstractUser):
    """A customer or a staff member; the email address is the login."""

    username = None
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    email = models.EmailField(_("email address"), unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            # The unique index above is case-sensitive on PostgreSQL; this one is not.
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = type(self).objects.normalize_email(self.email)
        try:
            emails.validate_one_script(self.email)
        except ValidationError as e:
            raise ValidationError({"email": e.messages}, code="email_script") from None


class BouquetCategory(models.Model):
    """A kind of bouquet customers can subscribe to; staff edit the list in the admin."""

    name = models.CharField(_("name"), max_length=100)
    slug = models.SlugField(_("slug"), max_length=50, unique=True)
    price = models.DecimalField(
        _("price per bouquet, ₽"),
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.00"))],
    )
    is_active = models.BooleanField(_("offered to customers"), default=True)
    ordering = models.PositiveSmallIntegerField(_("ordering"), default=0)

    class Meta:
        verbose_name = _("bouquet category")
        verbose_name_plural = _("bouquet categories")
        ordering = ["ordering", "name"]
        constraints = [
            models.CheckConstraint(condition=models.Q(price__gte=0), name="accounts_category_price_gte_0"),
        ]

    def __str__(self) -> str:
        return self.name


class Profile(CourierDetails):
    """A customer's subscription: bouquet preferences, balance and referral identity."""

    class DeliveryInterval(models.TextChoices):
        WEEKLY = schedule.WEEKLY, _("once a week")
        BIWEEKLY = schedule.BIWEEKLY, _("once every two weeks")
        MONTHLY = schedule.MONTHLY, _("once a month")

    class AccountStatus(models.TextChoices):
        NEW = "new", _("new")
        ACTIVE = "active", _("active")
        PAUSED = "paused", _("paused")
        CLOSED = "closed", _("closed")

    class ReferralWithheld(models.TextChoices):
        """Why the referrer got no reward for this customer's first bouquet (accounts.referrals)."""

        SAME_MAILBOX = "same_mailbox", _("the same mailbox as the referrer")
        SAME_ADDRESS = "same_address", _("the same delivery address as the referrer")
        SAME_PHONE = "same_phone", _("the same phone as the referrer")
        REFERRER_NEVER_PAID = "referrer_never_paid", _("the referrer had paid no invoice")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile", verbose_name=_("user")
    )
    bouquet_category = models.ForeignKey(
        BouquetCategory, on_delete=models.PROTECT, related_name="profiles", verbose_name=_("bouquet category")
    )
    delivery_address = models.CharField(_("delivery address"), max_length=255)
    first_delivery_date = models.DateField(_("first delivery date"))
    delivery_interval = models.CharField(
        _("delivery interval"), max_length=16, choices=DeliveryInterval, default=DeliveryInterval.WEEKLY
    )
    wishes = models.TextField(_("bouquet wishes"), blank=True, validators=[MaxLengthValidator(1000)])
    account_sum = models.DecimalField(
        _("balance, ₽"),
        max_digits=10,
        decimal_places=2,
        default=Decimal("0.00"),
        validators=[MinValueValidator(Decimal("0.00"))],
    )
    account_status = models.CharField(
        _("account status"), max_length=16, choices=AccountStatus, default=AccountStatus.NEW
    )
    referral_code = models.UUIDField(_("referral code"), default=uuid.uuid4, unique=True, editable=False)
    referred_by = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="referrals",
        verbose_name=_("referred by"),
    )
    referral_reward_withheld = models.CharField(
        _("referral reward withheld"),
        max_length=32,
        choices=ReferralWithheld,
        blank=True,
        help_text=_("Why the referrer got no reward for this customer's first bouquet; empty when they did."),
    )
    # E.164 (+79001234567), or empty; clean() parses whatever was given (accounts.phones).
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    paused_until = models.DateField(
        _("paused until"), null=True, blank=True, help_text=_("Empty while paused: paused indefinitely.")
    )
    wants_reminders = models.BooleanField(_("email reminders before deliveries"), default=True)
    wants_delivery_notices = models.BooleanField(
        _("emails when a delivery is moved, cancelled or delivered"), default=True
    )
    low_balance_emailed_at = models.DateTimeField(
        _("low balance email sent at"),
        null=True,
        blank=True,
        help_text=_("Cleared once the balance covers the next delivery again: one email per shortfall."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ProfileQuerySet.as_manager()

    class Meta:
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(account_sum__gte=0), name="accounts_profile_sum_gte_0"),
        ]

    def __str__(self) -> str:
        return str(self.user)

    def clean_fields(self, exclude=None) -> None:
        super().clean_fields(exclude=exclude)
        # Only when the phone itself is being cleaned: a number stored before phones were parsed
        # (kept by migration 0005) must not block changes to the other fields.
        if self.phone and "phone" not in (exclude or ()):
            try:
                self.phone = phones.to_e164(self.phone)
            except phones.InvalidPhone:
                raise ValidationError({"phone": phones.INVALID_MESSAGE}, code="phone") from None

    @property
    def phone_display(self) -> str:
        """The phone as people write it: +7 900 123-45-67."""
        return phones.formatted(self.phone)

    @property
    def referral_url(self) -> str:
        return f"{settings.SITE_URL}/{self.referral_code}/"

    @property
    def is_paused(self) -> bool:
        return self.account_status == self.AccountStatus.PAUSED

    def invoiced_sum(self, *, today: datetime.date | None = None) -> Decimal:
        """The balance plus the invoices awaiting payment: the sum the customer chose, paid or not
        (what a sales pipeline shows; `today` is accepted for readers that pass it to every method)."""
        return self.account_sum + self.awaiting_payment()

    def awaiting_payment(self) -> Decimal:
        """The total of the invoices awaiting payment (0 when none)."""
        if self.pk is None:
            return Decimal("0.00")
        # Loaded `with_awaiting_sum()` (a bulk reader, the account page): no query of its own.
        awaiting = getattr(self, "awaiting_sum", None)
        if awaiting is None:
            total = self.invoices.filter(status=Invoice.Status.AWAITING).aggregate(total=models.Sum("amount"))
            awaiting = total["total"] or Decimal("0.00")
        return awaiting

    @property
    def is_paid(self) -> bool:
        """No invoice awaits payment (only signup issues one: paid means the first payment came)."""
        return self.awaiting_payment() <= 0

    @property
    def subscription_status(self) -> str:
        """The one status of the subscription (an AccountStatus value): the badge, the progress line
        and the lead's «Статус аккаунта» are all derived from it. Closed and paused are what the
        customer (or staff, or a manager) chose; otherwise it is "active" once paid and "new" until
        then, whatever the stored status says (a resume or a manager's field edit cannot make an
        unpaid subscription active, nor can a payment leave a paid one "new")."""
        if self.account_status in (self.AccountStatus.CLOSED, self.AccountStatus.PAUSED):
            return self.account_status
        return self.AccountStatus.ACTIVE if self.is_paid else self.AccountStatus.NEW

    @property
    def subscription_status_display(self) -> str:
        return str(self.AccountStatus(self.subscription_status).label)

    def planned_dates(
        self, *, start: datetime.date, until: datetime.date, at_least: int = 0
    ) -> list[datetime.date]:
        """The schedule's dates from `start` to `until`, at least `at_least` of them (arithmetic only)."""
        return schedule.planned_deliveries(
            self.first_delivery_date, self.delivery_interval, start=start, until=until, at_least=at_least
        )

    def upcoming_deliveries(
        self, *, today: datetime.date | None = None, limit: int | None = None, include_skipped: bool = False
    ) -> list["Delivery"]:
        """Scheduled (and, if asked, skipped) deliveries from today on: rows the schedule service keeps."""
        statuses = (Delivery.Status.SCHEDULED, *([Delivery.Status.SKIPPED] if include_skipped else []))
        limit = settings.UPCOMING_DELIVERIES_SHOWN if limit is None else limit
        if limit <= 0:
            return []
        return _upcoming_read(statuses, limit).all(profile_id=self.pk, today=today or timezone.localdate())

    def next_delivery_on(self, *, today: datetime.date | None = None) -> datetime.date | None:
        """The next scheduled delivery; None while paused (or before the schedule is generated)."""
        if self.pk is None:
            return None
        if today is None and hasattr(self, "loaded_next_delivery_on"):
            return self.loaded_next_delivery_on  # loaded `with_next_delivery()` (the lead sync): no query
        upcoming = self.upcoming_deliveries(today=today, limit=1)
        return upcoming[0].delivery_on if upcoming else None

    def schedule_next_on(self, *, today: datetime.date | None = None) -> datetime.date:
        """The next date of the schedule itself, skips and pauses aside (the preferences form's default)."""
        return schedule.upcoming_deliveries(
            self.first_delivery_date, self.delivery_interval, today=today or timezone.localdate(), limit=1
        )[0]


class Delivery(CourierDetails):
    """One bouquet on one date, with the category, price and address as they were when it was planned;
    its courier details are the customer's changes for that day only (blank: the profile's)."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("scheduled")
        SKIPPED = "skipped", _("skipped")
        DELIVERED = "delivered", _("delivered")
        CANCELLED = "cancelled", _("cancelled")

    profile = models.ForeignKey(
        Profile, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("profile")
    )
    delivery_on = models.DateField(_("delivery date"))
    bouquet_category = models.ForeignKey(
        BouquetCategory, on_delete=models.PROTECT, related_name="+", verbose_name=_("bouquet category")
    )
    price = models.DecimalField(_("price, ₽"), max_digits=10, decimal_places=2)
    delivery_address = models.CharField(_("delivery address"), max_length=255)
    status = models.CharField(_("status"), max_length=16, choices=Status, default=Status.SCHEDULED)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    reminded_at = models.DateTimeField(_("reminder sent at"), null=True, blank=True)
    moved_from = models.DateField(
        _("moved from"),
        null=True,
        blank=True,
        help_text=_("The schedule's date the customer moved this delivery from; that date stays taken."),
    )
    skip_link_used_date = models.DateField(
        _("skip link used for"),
        null=True,
        blank=True,
        help_text=_("The date whose emailed skip link was used: it works no more, un-skip or not."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        ordering = ["delivery_on", "pk"]
        constraints = [
            # One row per customer and day: a date leaving the schedule is cancelled, revived if it returns.
            models.UniqueConstraint(fields=["profile", "delivery_on"], name="accounts_delivery_one_per_day"),
            models.CheckConstraint(condition=models.Q(price__gte=0), name="accounts_delivery_price_gte_0"),
        ]
        indexes = [models.Index(fields=["delivery_on", "status"], name="accounts_delivery_day_status")]

    def __str__(self) -> str:
        return f"{self.profile} — {date_format(self.delivery_on, 'DATE_FORMAT')}"

    @staticmethod
    def first_open_on(*, today: datetime.date | None = None) -> datetime.date:
        """The first delivery date anything may still change: earlier ones are on the couriers' list.

        The one owner of the cut-off (`DELIVERY_SKIP_CUTOFF_DAYS`): skip, un-skip, move and every
        reschedule (preferences, pause, resume, the CRM, the daily roll) follow it.
        """
        return (today or timezone.localdate()) + datetime.timedelta(days=settings.DELIVERY_SKIP_CUTOFF_DAYS)

    def skip_deadline(self) -> datetime.date:
        """The last day the customer may still skip this delivery."""
        return self.delivery_on - datetime.timedelta(days=settings.DELIVERY_SKIP_CUTOFF_DAYS)

    def is_locked(self, *, today: datetime.date | None = None) -> bool:
        """Past the cut-off: the delivery stays exactly as it is (date, bouquet, price, address, status)."""
        return self.delivery_on < self.first_open_on(today=today)

    def can_skip(self, *, today: datetime.date | None = None) -> bool:
        return self.status == self.Status.SCHEDULED and not self.is_locked(today=today)

    def can_unskip(self, *, today: datetime.date | None = None) -> bool:
        return self.status == self.Status.SKIPPED and not self.is_locked(today=today)

    def is_due(self, *, today: datetime.date | None = None) -> bool:
        """Its day has come (the site's day): staff may mark it delivered from then on, never before."""
        return self.delivery_on <= (today or timezone.localdate())

    @property
    def is_paid(self) -> bool:
        """Debited already, or the balance covers the price: the courier collects nothing."""
        return self.status == self.Status.DELIVERED or self.profile.account_sum >= self.price

    @property
    def is_moved(self) -> bool:
        return self.moved_from is not None

    def courier_details(self) -> dict[str, str]:
        """The effective courier details: this day's own, else the profile's; the recipient is the
        customer (name, phone) unless someone else was named."""
        profile = self.profile
        details = {name: getattr(self, name) or getattr(profile, name) for name in COURIER_FIELDS}
        details["recipient_name"] = details["recipient_name"] or profile.user.first_name
        details["recipient_phone"] = details["recipient_phone"] or profile.phone
        return details

    @property
    def has_own_courier_details(self) -> bool:
        return any(getattr(self, name) for name in COURIER_FIELDS)


class LedgerEntry(models.Model):
    """One change of a customer's account sum; the sum always equals the total of these."""

    class Reason(models.TextChoices):
        SIGNUP = "signup", _("top-up at signup")
        MANAGER = "manager", _("change by the manager")
        DELIVERY = "delivery", _("delivery")
        REFERRAL = "referral", _("referral reward")
        STAFF = "staff", _("correction by staff")
        PAYMENT = "payment", _("payment received")

    profile = models.ForeignKey(
        Profile, on_delete=models.CASCADE, related_name="ledger_entries", verbose_name=_("profile")
    )
    amount = models.DecimalField(_("amount, ₽"), max_digits=10, decimal_places=2)
    reason = models.CharField(_("reason"), max_length=16, choices=Reason)
    note = models.CharField(_("note"), max_length=255, blank=True)
    delivery = models.ForeignKey(
        Delivery,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_entries",
        verbose_name=_("delivery"),
    )
    # One-to-one: the database itself refuses a second entry for the same paid invoice.
    # RESTRICT, not PROTECT: an invoice never goes alone, but a customer deleted goes with both.
    invoice = models.OneToOneField(
        "Invoice",
        on_delete=models.RESTRICT,
        null=True,
        blank=True,
        related_name="ledger_entry",
        verbose_name=_("invoice"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["-created_at", "-pk"]
        constraints = [
            # A delivery is debited once and earns a referral reward once, however often staff click.
            models.UniqueConstraint(
                fields=["delivery", "reason"],
                condition=models.Q(delivery__isnull=False),
                name="accounts_ledger_once_per_delivery",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.profile}: {formatting.rubles(self.amount, signed=True)} ({self.get_reason_display()})"


class Invoice(models.Model):
    """A sum the customer is asked to pay. The balance grows only when a payment for it is confirmed:
    then its one ledger entry (`ledger_entry`) is posted, by `accounts.payments.invoice_pay`."""

    class Status(models.TextChoices):
        AWAITING = "awaiting", _("awaiting payment")
        # Agreeing with "счёт" (masculine): "оплачен", "отменён", not the delivery's "отменена".
        PAID = "paid", pgettext_lazy("invoice", "paid")
        CANCELLED = "cancelled", pgettext_lazy("invoice", "cancelled")

    class Source(models.TextChoices):
        STAFF = "staff", _("staff in the admin")
        CRM = "crm", _("the manager in the CRM")
        MIGRATION = "migration", _("paid before invoices existed")

    profile = models.ForeignKey(
        Profile, on_delete=models.CASCADE, related_name="invoices", verbose_name=_("profile")
    )
    amount = models.DecimalField(_("amount, ₽"), max_digits=10, decimal_places=2)
    status = models.CharField(_("status"), max_length=16, choices=Status, default=Status.AWAITING)
    source = models.CharField(_("payment confirmed by"), max_length=16, choices=Source, blank=True)
    confirmed_by = models.CharField(_("confirmed by"), max_length=255, blank=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="accounts_invoice_amount_gt_0"),
            models.CheckConstraint(
                condition=~models.Q(status="paid") | models.Q(paid_at__isnull=False),
                name="accounts_invoice_paid_has_paid_at",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.profile}: {formatting.rubles(self.amount)} ({self.get_status_display()})"


class AccountEvent(models.Model):
    """Something the customer did on the site (a skip, a pause, new preferences), for their own
    history on the account page. Deliveries, payments and invoices are not copied here: the page
    reads them from their own tables."""

    profile = models.ForeignKey(
        Profile, on_delete=models.CASCADE, related_name="events", verbose_name=_("profile")
    )
    action = models.CharField(_("action"), max_length=32)
    details = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("account event")
        verbose_name_plural = _("account events")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["profile", "created_at"], name="accounts_event_profile_time")]

    def __str__(self) -> str:
        return f"{self.profile}: {Action.label_of(self.action)}"


@functools.cache
def _upcoming_read(statuses: tuple[str, ...], limit: int) -> prepared.PreparedQuery:
    """`Profile.upcoming_deliveries` for one set of statuses and one limit, its SQL built once per
    process (flower_account.prepared): the account page reads them on every visit."""
    return prepared.PreparedQuery(
        lambda profile_id, today: Delivery.objects.filter(
            profile_id=profile_id, delivery_on__gte=today, status__in=statuses
        ).order_by("delivery_on")[:limit],
        profile_id=prepared.ID,
        today=prepared.DAY,
    )
