"""Money in the admin's lists as "2 500,00 ₽" (accounts.formatting.rubles) instead of Django's
"2500,00": each money column of `list_display` (every DecimalField of the site is a sum in roubles)
is shown through `rubles`, sorted by its field, headed by the field's name without its ", ₽"."""

import functools
from collections.abc import Callable

from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.http import HttpRequest
from django.utils.functional import lazy

from accounts import formatting


def _heading(field: models.Field) -> str:
    return str(field.verbose_name).removesuffix(", ₽")


@functools.cache  # one column per field: Django finds it again in sortable_by by identity
def money_column(field: models.Field) -> Callable:
    @admin.display(description=lazy(_heading, str)(field), ordering=field.name)
    def column(obj: models.Model) -> str:
        return formatting.rubles(getattr(obj, field.name))

    column.__name__ = field.name  # the column's CSS class: "column-account_sum", as before
    return column


class MoneyColumnsMixin:
    def get_list_display(self, request: HttpRequest) -> list:
        columns = []
        for name in super().get_list_display(request):
            try:
                field = self.model._meta.get_field(name) if isinstance(name, str) else None
            except FieldDoesNotExist:
                field = None
            editable = name in (self.list_editable or ())
            is_money = isinstance(field, models.DecimalField) and not editable
            columns.append(money_column(field) if is_money else name)
        return columns
