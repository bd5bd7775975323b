import datetime
import ipaddress
import socket
from decimal import Decimal
from itertools import count
from unittest import mock

import pytest
from django.core import mail
from django.utils import timezone

from accounts import notices, payments, services
from accounts.models import BouquetCategory, User
from emails.models import Email

PASSWORD = "Tulips-and-peonies-42"


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    # The manifest storage needs `collectstatic`; unit tests render templates without it.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # WhiteNoise otherwise indexes every file under STATIC_ROOT each time a test's client loads the
    # middleware: ~50 ms a test once `collectstatic` has filled it (the browser tests and benchmarks
    # do). With autorefresh it looks a file up when asked for it, as under `make run`.
    settings.WHITENOISE_AUTOREFRESH = True


@pytest.fixture(autouse=True)
def _admin_2fa_off_unless_marked(request, settings):
    # ADMIN_REQUIRE_2FA is on by default (and in production); tests about other admin behaviour log
    # staff in with force_login and no authenticator app. Tests of the rule itself are marked.
    if request.node.get_closest_marker("admin_2fa") is None:
        settings.ADMIN_REQUIRE_2FA = False


@pytest.fixture(autouse=True)
def _clear_cache():
    # Rate-limit counters live in the cache; each test starts with none.
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


# -- suite hygiene: no internet, no slow hashing (issue 22) ----------------------------------------
# Other fixtures go above or below this block; keep it whole.

FAST_HASHER = "django.contrib.auth.hashers.MD5PasswordHasher"


class NetworkBlocked(RuntimeError):
    """A test reached for a host outside this machine. Not an OSError, so no client mistakes it
    for a network outage and retries it quietly."""


_blocked: list[str] = []


def _is_local(host: object) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode()
    name = str(host).split("%", 1)[0].strip("[]").lower()  # "fe80::1%eth0", "[::1]"
    if name in ("", "localhost") or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    # The unspecified address is what servers bind to; connecting to it reaches this machine.
    return address.is_loopback or address.is_unspecified


def _refuse(what: str) -> None:
    _blocked.append(what)
    raise NetworkBlocked(f"tests reach only 127.0.0.1/::1/localhost; this one tried {what}")


def _guarded_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse DNS lookups and connections to anything but this machine; unix sockets pass."""
    real_getaddrinfo = socket.getaddrinfo
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def getaddrinfo(host, *args, **kwargs):
        if not _is_local(host):
            _refuse(f"to resolve {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    def check(sock: socket.socket, address) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address[0]):
            _refuse(f"to connect to {address!r}")

    def connect(self, address):
        check(self, address)
        return real_connect(self, address)

    def connect_ex(self, address):
        check(self, address)
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


@pytest.fixture(autouse=True, scope="session")
def _network_guard_installed():
    with pytest.MonkeyPatch.context() as monkeypatch:
        _guarded_network(monkeypatch)
        yield


@pytest.fixture(autouse=True)
def _network_guard(_network_guard_installed):
    """A test that tried the internet fails, even when the code under test swallowed the error."""
    _blocked.clear()
    yield _blocked
    if _blocked:
        attempts, _blocked[:] = list(_blocked), []
        pytest.fail("a test tried to reach the internet: " + "; ".join(attempts), pytrace=False)


@pytest.fixture(autouse=True)
def _fast_password_hashing(request, settings):
    """MD5 first: a test's accounts cost microseconds, not Argon2's ~50 ms each. Tests of password
    hashing itself opt back in with `@pytest.mark.argon2`; Argon2 hashes still verify either way."""
    if request.node.get_closest_marker("argon2") is None:
        settings.PASSWORD_HASHERS = [FAST_HASHER, *settings.PASSWORD_HASHERS]


# -- end of suite hygiene -----------------------------------------------------------------------


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


def _no_email(**kwargs) -> None:
    pass


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
        queued = len(getattr(mail, "outbox", []))
        last_row = Email.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        # The welcome and payment emails of a customer made for a test are not what the test watches
        # (tests/accounts/test_notices.py does): they are not even rendered (half the cost of making
        # a customer), and whatever else was queued is taken back, so the outbox (locmem, or the
        # site's table when a test put it back) is left as it was.
        with mock.patch.multiple(notices, welcome_send=_no_email, payment_received_send=_no_email):
            profile = services.profile_create(user=user or user_factory(), invoice_amount=amount, **data)
            if paid and amount:
                payments.invoice_pay(invoice=profile.invoices.get(), source="crm", confirmed_by="conftest")
                profile.refresh_from_db()
        del getattr(mail, "outbox", [])[queued:]
        Email.objects.filter(pk__gt=last_row).delete()
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
            "consent": "on",  # the separate consent to processing (152-FZ), never ticked in advance
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
def tasks_database(settings, _tasks_dummy):
    """Tasks are rows, as in production: a worker (flower_account.worker) runs them."""
    _use_task_backend(settings, "django_tasks_db.DatabaseBackend")


@pytest.fixture
def enqueued(_tasks_dummy):
    """The tasks enqueued so far (DummyBackend results)."""
    from django.tasks import default_task_backend

    return default_task_backend.results
