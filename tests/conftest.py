import datetime
from decimal import Decimal
from itertools import count

import pytest
from django.utils import timezone

from accounts import payments, services
from accounts.models import BouquetCategory, User

PASSWORD = "Tulips-and-peonies-42"


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    # The manifest storage needs `collectstatic`; unit tests render templates without it.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _clear_cache():
    # Rate-limit counters live in the cache; each test starts with none.
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def fast_hashing(settings):
    """MD5 instead of Argon2, for tests that make hundreds of accounts and do not test passwords."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def category(db) -> BouquetCategory:
    return BouquetCategory.objects.get(slug="romantic")


@pytest.fixture
def user_factory(db):
    numbers = count(1)

    def make(email: str | None = None, password: str = PASSWORD, **extra) -> User:
        return User.objects.create_user(
            email=email or f"customer{next(numbers)}@example.ru", password=password, **extra
        )

    return make


@pytest.fixture
def profile_factory(db, user_factory):
    def make(user: User | None = None, *, paid: bool = True, **overrides):
        data = {
            "bouquet_category": BouquetCategory.objects.get(slug="romantic"),
            "delivery_address": "Москва, ул. Ленина, 25, кв. 10",
            "first_delivery_date": timezone.localdate() + datetime.timedelta(days=3),
            "delivery_interval": "weekly",
            "wishes": "Больше зелени, без роз",
            "account_sum": Decimal("5000.00"),
        }
        data.update(overrides)
        # A customer who has paid (unless `paid=False`): the first invoice is the sum, confirmed
        # (quietly: no note for managers).
        amount = data.pop("account_sum")
        profile = services.profile_create(user=user or user_factory(), invoice_amount=amount, **data)
        if paid and amount:
            payments.invoice_pay(invoice=profile.invoices.get(), source="crm", confirmed_by="conftest")
            profile.refresh_from_db()
        return profile

    return make


@pytest.fixture
def customer(profile_factory):
    """A signed-up customer's profile."""
    return profile_factory()


@pytest.fixture
def customer_client(client, customer):
    client.force_login(customer.user)
    return client


@pytest.fixture
def signup_data(password):
    """The signup form as a customer fills it in; override any input by its name."""

    def make(**overrides) -> dict[str, str]:
        data = {
            "first_name": "Анна",
            "phone": "+7 900 123-45-67",
            "email": "anna@example.ru",
            "password1": password,
            "password2": password,
            "bouquet_category": "romantic",
            "delivery_address": "Москва, ул. Тверская, 7, кв. 12",
            "first_delivery_date": (timezone.localdate() + datetime.timedelta(days=10)).isoformat(),
            "delivery_interval": "biweekly",
            "wishes": "Побольше пионов, без лилий",
            "account_sum": "3000,50",
        }
        data.update(overrides)
        return data

    return make


@pytest.fixture
def superuser(user_factory) -> User:
    return user_factory(email="boss@example.ru", is_staff=True, is_superuser=True)


@pytest.fixture
def superuser_client(client, superuser):
    client.force_login(superuser)
    return client


def _use_task_backend(settings, backend: str) -> None:
    from django.tasks import task_backends

    settings.TASKS = {"default": {"BACKEND": backend}}
    # django.tasks caches its backends and does not listen to setting changes.
    task_backends.__dict__.pop("settings", None)
    task_backends._settings = None
    for alias in ("default",):
        if hasattr(task_backends._connections, alias):
            delattr(task_backends._connections, alias)


@pytest.fixture(autouse=True)
def _tasks_dummy(settings):
    """Tasks are recorded, never run, unless a test asks for `tasks_immediate`."""
    _use_task_backend(settings, "django.tasks.backends.dummy.DummyBackend")
    yield
    _use_task_backend(settings, "django.tasks.backends.dummy.DummyBackend")


@pytest.fixture
def tasks_immediate(settings, _tasks_dummy):
    """Enqueued tasks run at once, in the enqueuing thread (on_commit callbacks still wait for commit)."""
    _use_task_backend(settings, "django.tasks.backends.immediate.ImmediateBackend")


@pytest.fixture
def enqueued(_tasks_dummy):
    """The tasks enqueued so far (DummyBackend results)."""
    from django.tasks import default_task_backend

    return default_task_backend.results
