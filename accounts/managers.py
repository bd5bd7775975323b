from django.contrib.auth.models import BaseUserManager
from django.db import models
from django.db.models import DecimalField, F, Func, OuterRef, Subquery
from django.utils import timezone
from django.utils.functional import cached_property

from accounts import emails
from flower_account import prepared


class UserManager(BaseUserManager):
    """Users log in by email; the address is stored normalised (accounts.emails: NFKC, case-folded),
    so `Anna@X.ru` is `anna@x.ru` and `ſam@x.ru` is `sam@x.ru`."""

    use_in_migrations = True

    @classmethod
    def normalize_email(cls, email: str | None) -> str:
        return emails.normalize(email)

    def get(self, *args, **kwargs):
        """As `QuerySet.get`. `get(pk=<int>)` is how Django's auth backend reads the signed-in user on
        every request: that one lookup runs SQL built once per process (flower_account.prepared)."""
        pk = kwargs.get("pk")
        if args or len(kwargs) != 1 or type(pk) is not int or self._db is not None:
            return super().get(*args, **kwargs)
        user = self._by_pk.first(pk=pk)
        if user is None:
            raise self.model.DoesNotExist(f"{self.model._meta.object_name} matching query does not exist.")
        return user

    @cached_property
    def _by_pk(self) -> prepared.PreparedQuery:
        return prepared.PreparedQuery(lambda pk: self.get_queryset().filter(pk=pk)[:1], pk=prepared.ID)

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


def _per_profile(
    model: type[models.Model], link: str, select: str, output_field: models.Field, **equal: str
) -> Func:
    """`(SELECT <select> FROM <model's table> WHERE <link> is the row's profile [AND field = value …])`:
    a correlated subquery over a profile's own rows. Django builds it in a few microseconds where a
    `Subquery` or a GROUP BY over every column takes about a millisecond (the account page builds
    one on every request), and the profile's id is an `F("pk")`, so the alias follows the queryset
    when it is nested in another (`exclude(pk__in=…)`). `equal` holds our own constants only."""
    meta = model._meta
    conditions = [f'own."{meta.get_field(link).column}" = %(expressions)s']
    conditions += [f"own.\"{meta.get_field(name).column}\" = '{value}'" for name, value in equal.items()]
    # Names from the models' meta, values our own constants: nothing here comes from a request.
    sql = f'(SELECT {select} FROM "{meta.db_table}" own WHERE {" AND ".join(conditions)})'  # noqa: S608
    return Func(F("pk"), template=sql, output_field=output_field)


class ProfileQuerySet(models.QuerySet):
    def with_referral_stats(self) -> "ProfileQuerySet":
        """`referral_count` (friends who signed up by the link) and `rewards_count` (rewards credited)."""
        ledger = self.model._meta.get_field("ledger_entries").related_model
        return self.annotate(
            referral_count=_per_profile(self.model, "referred_by", "COUNT(*)", models.IntegerField()),
            rewards_count=_per_profile(
                ledger, "profile", "COUNT(*)", models.IntegerField(), reason=ledger.Reason.REFERRAL
            ),
        )

    def with_awaiting_sum(self) -> "ProfileQuerySet":
        """`awaiting_sum`: the total of the profile's invoices awaiting payment (0 when none), in the
        same query; `Profile.invoiced_sum()` reads it instead of asking again."""
        invoice = self.model._meta.get_field("invoices").related_model
        return self.annotate(
            awaiting_sum=_per_profile(
                invoice,
                "profile",
                'COALESCE(SUM(own."amount"), 0.00)',
                DecimalField(max_digits=12, decimal_places=2),
                status=invoice.Status.AWAITING,
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
