"""Querysets whose SQL is built once per process: the reads every account page makes.

Django builds a queryset's SQL anew on every evaluation: the lookups, the joins of `select_related`,
the annotations' subqueries, each compiled to text again. For the account page's reads (the
session, the profile with its counts, the upcoming deliveries) that was about half of each read's
cost, ~1 ms a page (benchmarks/README.md). A `PreparedQuery` builds its queryset once per database
alias with marker values in place of the real ones, keeps the SQL and where each marker landed among
its parameters, and on each call runs that SQL with the call's values. The rows become instances
through Django's own `ModelIterable` (select_related, annotations, converters), as the queryset's
would.

Only plain values can be parameters: a number, a string, a date or a datetime, each compared with
its own column (`field=value`, `field__gte=value`). A value that shapes the SQL (a list for `__in`,
a slice bound) must be written into the queryset itself.
"""

import copy
import datetime
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connections, models, router
from django.db.models.sql.compiler import SQLCompiler
from django.utils import timezone

# Markers for the usual kinds of value: none a real row or a real day has.
ID = -7_301_911
TEXT = "\x00prepared-marker"
DAY = datetime.date(1901, 3, 7)
MOMENT = datetime.datetime(1901, 3, 7, 1, 2, 3, tzinfo=datetime.UTC)


@dataclass(frozen=True)
class _Built:
    queryset: models.QuerySet
    compiler: SQLCompiler  # compiled: it holds what ModelIterable reads (select, klass_info, annotations)
    sql: str
    params: tuple[Any, ...]
    slots: dict[str, int]  # a value's name → its index in params


class PreparedQuery:
    """`build(**markers)` gives the queryset; `all(**values)` runs its SQL with `values` instead.

    Each marker must be a value no other parameter of the query equals (the query is checked when it
    is built). Safe across threads: each call compiles nothing and shares nothing it changes."""

    def __init__(self, build: Callable[..., models.QuerySet], **markers: Any) -> None:
        self._build, self._markers = build, markers
        self._model: type[models.Model] | None = None
        self._built: dict[str, _Built] = {}
        self._lock = threading.Lock()

    def all(self, **values: Any) -> list[models.Model]:
        if values.keys() != self._markers.keys():
            raise TypeError(f"expected values for {sorted(self._markers)}, got {sorted(values)}")
        if self._model is None:
            self._model = self._build(**self._markers).model
        built = self._built_for(router.db_for_read(self._model))
        connection = connections[built.queryset.db]
        params = list(built.params)
        for name, index in built.slots.items():
            params[index] = _adapted(_checked(name, values[name], self._markers[name]), connection)
        # A copy of the compiled compiler answers with the kept SQL and this call's values; the
        # thread's own connection runs it.
        compiler = copy.copy(built.compiler)
        compiler.connection = connection
        compiler.as_sql = lambda *args, **kwargs: (built.sql, tuple(params))
        query = copy.copy(built.queryset.query)
        query.get_compiler = lambda *args, **kwargs: compiler
        # The kept queryset's state with this query: not `_chain()`, which clones the whole query
        # again, nor `copy.copy()`, which would evaluate it (QuerySet.__getstate__).
        queryset = object.__new__(type(built.queryset))
        queryset.__dict__.update(built.queryset.__dict__, _query=query)
        return list(queryset)

    def first(self, **values: Any) -> models.Model | None:
        rows = self.all(**values)
        return rows[0] if rows else None

    def _built_for(self, alias: str) -> _Built:
        built = self._built.get(alias)
        if built is None:
            with self._lock:
                built = self._built.get(alias) or self._compile(alias)
                self._built[alias] = built
        return built

    def _compile(self, alias: str) -> _Built:
        queryset = self._build(**self._markers).using(alias)
        compiler = queryset.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        connection = connections[alias]
        slots = {}
        for name, marker in self._markers.items():
            found = [i for i, value in enumerate(params) if value == _adapted(marker, connection)]
            if len(found) != 1:
                raise ValueError(f"marker {name}={marker!r} is {len(found)} of the parameters {params!r}")
            slots[name] = found[0]
        return _Built(queryset, compiler, sql, tuple(params), slots)


def _checked(name: str, value: Any, marker: Any) -> Any:
    """`value`, if it is of its marker's kind: the SQL compares it as it is, without the field's own
    conversion (a date given a datetime would compare as text; a naive time would be read as UTC)."""
    if value is None:
        return value  # compares with nothing, as Django's `= NULL` would not: no row
    if isinstance(marker, datetime.datetime):
        right = isinstance(value, datetime.datetime) and timezone.is_aware(value)
    elif isinstance(marker, datetime.date):
        right = isinstance(value, datetime.date) and not isinstance(value, datetime.datetime)
    else:
        right = isinstance(value, type(marker)) and not isinstance(value, bool)
    if not right:
        raise TypeError(f"{name}={value!r} is not a value of its marker's kind ({marker!r})")
    return value


def _adapted(value: Any, connection) -> Any:
    """A value as the database backend passes it (SQLite: dates and datetimes as text, in UTC)."""
    if isinstance(value, datetime.datetime):
        return connection.ops.adapt_datetimefield_value(value)
    if isinstance(value, datetime.date):
        return connection.ops.adapt_datefield_value(value)
    return value
