import datetime
import uuid
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.validators import MaxLengthValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import schedule
from accounts.managers import UserManager


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


class Profile(models.Model):
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
        _("account sum, ₽"),
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
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(account_sum__gte=0), name="accounts_profile_sum_gte_0"),
        ]

    def __str__(self) -> str:
        return str(self.user)

    @property
    def referral_url(self) -> str:
        return f"{settings.SITE_URL}/{self.referral_code}/"

    def upcoming_deliveries(
        self, *, today: datetime.date | None = None, limit: int | None = None
    ) -> list[datetime.date]:
        """The next delivery dates, counted from the first delivery date by the interval."""
        return schedule.upcoming_deliveries(
            self.first_delivery_date,
            self.delivery_interval,
            today=today or timezone.localdate(),
            limit=settings.UPCOMING_DELIVERIES_SHOWN if limit is None else limit,
        )

    def next_delivery_on(self, *, today: datetime.date | None = None) -> datetime.date:
        return self.upcoming_deliveries(today=today, limit=1)[0]
