from decimal import Decimal

from django.contrib.auth.models import BaseUserManager
from django.db import models
from django.db.models import Count, DecimalField, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts import emails


class UserManager(BaseUserManager):
    """Users log in by email; the address is stored normalised (accounts.emails: NFKC, case-folded),
    so `Anna@X.ru` is `anna@x.ru` and `ſam@x.ru` is `sam@x.ru`."""

    use_in_migrations = True

    @classmethod
    def normalize_email(cls, email: str | None) -> str:
        return emails.normalize(email)

    def get_by_natural_key(self, username: str):
        # An exact match on the normalised address: one account at most, whatever the database's
        # case rules (PostgreSQL's UPPER() makes `ſam` equal `SAM`).
        return self.get(email=self.normalize_email(username))

    def _create_user(self, email: str, password: str | None, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email: str, password: str | None = None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        if extra_fields.get("is_staff") is not True or extra_fields.get("is_superuser") is not True:
            raise ValueError("A superuser must have is_staff=True and is_superuser=True.")
        return self._create_user(email, password, **extra_fields)


class ProfileQuerySet(models.QuerySet):
    def with_referral_stats(self) -> "ProfileQuerySet":
        """`referral_count` (friends who signed up by the link) and `rewards_count` (rewards credited)."""
        return self.annotate(
            referral_count=Count("referrals", distinct=True),
            rewards_count=Count("ledger_entries", filter=Q(ledger_entries__reason="referral"), distinct=True),
        )

    def with_awaiting_sum(self) -> "ProfileQuerySet":
        """`awaiting_sum`: the total of the profile's invoices awaiting payment (0 when none), in the
        same query; `Profile.invoiced_sum()` reads it instead of asking again."""
        invoice = self.model._meta.get_field("invoices").related_model
        awaiting = invoice.objects.filter(profile=OuterRef("pk"), status=invoice.Status.AWAITING).order_by()
        total = awaiting.values("profile").annotate(total=Sum("amount")).values("total")
        return self.annotate(
            awaiting_sum=Coalesce(
                Subquery(total), Decimal("0.00"), output_field=DecimalField(max_digits=12, decimal_places=2)
            )
        )

    def with_next_delivery(self) -> "ProfileQuerySet":
        """`loaded_next_delivery_on`: the profile's next scheduled delivery from today on (None while
        paused), in the same query; `Profile.next_delivery_on()` reads it instead of asking again.
        It is read once, when loaded: for a bulk reader that uses the profiles at once (the sync)."""
        delivery = self.model._meta.get_field("deliveries").related_model
        upcoming = delivery.objects.filter(
            profile=OuterRef("pk"), status=delivery.Status.SCHEDULED, delivery_on__gte=timezone.localdate()
        ).order_by("delivery_on")
        return self.annotate(loaded_next_delivery_on=Subquery(upcoming.values("delivery_on")[:1]))
