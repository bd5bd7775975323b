"""Money in the admin as "2 500,00 ₽" (accounts.formatting.rubles) instead of Django's "2500,00".

Every DecimalField of the site is a sum in roubles. In a list, each money column of `list_display`
is shown through `rubles`, sorted by its field; on a change page (and an inline), each read-only
money field is. Either is headed by the field's name without its ", ₽". An editable sum stays an
input as Django makes it ("5000,00"). Without declared fieldsets a read-only money field is listed
once, in the read-only fields' place (Django's form, asked for every field, would name it again).
"""

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


@functools.cache  # one callable per field: Django finds it again (sortable_by, readonly_fields) by identity
def money_column(field: models.Field) -> Callable:
    @admin.display(description=lazy(_heading, str)(field), ordering=field.name)
    def column(obj: models.Model) -> str:
        return formatting.rubles(getattr(obj, field.name))

    column.__name__ = field.name  # the CSS class stays "column-account_sum" / "field-account_sum"
    return column


class MoneyMixin:
    """For ModelAdmins (lists and change pages) and inlines (their read-only fields)."""

    def _money(self, name: object) -> object:
        """The money column standing for the field `name`, or `name` itself."""
        try:
            field = self.model._meta.get_field(name) if isinstance(name, str) else None
        except FieldDoesNotExist:
            field = None
        return money_column(field) if isinstance(field, models.DecimalField) else name

    def get_list_display(self, request: HttpRequest) -> list:
        editable = set(getattr(self, "list_editable", ()) or ())
        return [n if n in editable else self._money(n) for n in super().get_list_display(request)]

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list:
        return [self._money(name) for name in super().get_readonly_fields(request, obj)]

    def get_fields(self, request: HttpRequest, obj=None) -> list:
        fields = super().get_fields(request, obj)
        shown = {f.__name__ for f in fields if callable(f) and f is self._money(f.__name__)}
        return [f for f in fields if not (isinstance(f, str) and f in shown)]

    def get_fieldsets(self, request: HttpRequest, obj=None) -> list:
        # Declared fieldsets name the field; the read-only one is shown by its money column.
        readonly = {getattr(f, "__name__", f) for f in self.get_readonly_fields(request, obj) if callable(f)}

        def swap(name):  # a name, or a line of names shown side by side
            if isinstance(name, list | tuple):
                return tuple(swap(n) for n in name)
            return self._money(name) if name in readonly else name

        return [
            (title, {**options, "fields": [swap(f) for f in options["fields"]]})
            for title, options in super().get_fieldsets(request, obj)
        ]
