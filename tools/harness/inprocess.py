"""Django in this process, on a run's database: customers through the ORM, a table the run needs.

Import nothing from the site before `django_setup()`; the functions here import what they use.
"""

from __future__ import annotations

import datetime
import os
import statistics
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tools.harness.processes import HOST, HarnessError
from tools.harness.site import PASSWORD


def django_setup(env: dict[str, str]) -> None:
    """Django in this process with a run's environment (and so on its database)."""
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "flower_account.settings"
    import django

    django.setup()


def create_customer(email: str, password: str = PASSWORD) -> Any:
    """A customer (user + profile) through the ORM with the site's settings (Argon2 and all); the
    profile. The hash is paid here, before any clock starts."""
    from django.utils import timezone

    from accounts import services
    from accounts.models import BouquetCategory, User

    user = User.objects.create_user(email=email, password=password)
    return services.profile_create(
        user=user,
        bouquet_category=BouquetCategory.objects.order_by("pk").first(),
        delivery_address="Москва, ул. Цветочная, д. 1, кв. 2",
        first_delivery_date=timezone.localdate() + datetime.timedelta(days=7),
        delivery_interval="biweekly",
        wishes="Больше зелени.",
        invoice_amount=Decimal("5000"),
    )


def bulk_customers(
    prefix: str,
    count: int,
    first_delivery_date: datetime.date,
    account_sum: Callable[[int], Decimal] = lambda n: Decimal("5000.00"),
) -> list[Any]:
    """`count` customers `<prefix>-<n>@example.com` (no usable password) with weekly seasonal profiles,
    straight into the database (bulk_create: no hashes, no signals); the profiles."""
    from accounts.models import BouquetCategory, Profile, User

    category = BouquetCategory.objects.get(slug="seasonal")
    users = User.objects.bulk_create(
        [User(email=f"{prefix}-{n}@example.com", password="!unusable") for n in range(count)]  # noqa: S106
    )
    return Profile.objects.bulk_create(
        [
            Profile(
                user=user,
                bouquet_category=category,
                delivery_address=f"Москва, ул. Цветочная, д. {n + 1}",
                first_delivery_date=first_delivery_date,
                delivery_interval="weekly",
                wishes="Больше зелени",
                account_sum=account_sum(n),
            )
            for n, user in enumerate(users)
        ]
    )


def create_table(model: Any) -> None:
    """`model`'s table, unless it exists: for a run that needs one table, not every migration."""
    from django.db import connection

    if model._meta.db_table not in connection.introspection.table_names():
        with connection.schema_editor() as editor:
            editor.create_model(model)


def queries_of(user: Any, path: str) -> list[dict[str, str]]:
    """The SQL of GET `path` logged in as `user` (the second of two requests; the first warms up),
    as Django captures it: each query's "sql" and "time"."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    setup_test_environment()  # the test Client as the tests use it (in-memory email, template signals)
    client = Client(HTTP_HOST=HOST)
    client.force_login(user)

    def get() -> None:
        response = client.get(path)
        if response.status_code != 200:
            raise HarnessError(f"GET {path} answered {response.status_code}")

    get()
    with CaptureQueriesContext(connection) as captured:
        get()
    return captured.captured_queries


def hash_time(hasher_path: str | None = None) -> float:
    """The median of five hashes of PASSWORD in this process (no site, no HTTP), with the hasher class
    at `hasher_path`, or by default the first of the site's PASSWORD_HASHERS."""
    from django.contrib.auth.hashers import make_password
    from django.utils.module_loading import import_string

    hasher = "default" if hasher_path is None else import_string(hasher_path)()
    times = []
    for _ in range(5):
        started = time.perf_counter()
        make_password(PASSWORD, hasher=hasher)
        times.append(time.perf_counter() - started)
    return statistics.median(times)
