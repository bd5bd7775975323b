"""The admin answering a request it cannot serve with Django's own error answers, never a 500.

Two holes in Django's admin, both reached only by a hand-made request:
- a list filtered by a date outside what Python and the time zone can hold: `?created_at__year=1`
  (the date hierarchy makes 0001-01-01 00:00 in Moscow, before year 1 in UTC) and
  `?created_at__gte=0001-01-01 00:00:00` raise OverflowError when the query runs,
  `?created_at__year=9999` a ValueError for year 10000. Django turns other bad filters into
  IncorrectLookupParameters (a redirect to `?e=1`); these now join them.
- a value that cannot be an id (`abc`, or a number beyond the column's range) posted in an
  autocomplete field: the form refuses it, then re-rendering the widget looks it up as an id and
  raises ValueError (or OverflowError). The widget now shows only values that can be ids; the
  form's "invalid choice" error stays. (Other foreign keys and change pages already answer such a
  value with that error and "not found"; tests hold those too.)
Every admin and inline of the site uses ForgivingAdminMixin (tests/accounts/test_admin_forgiving.py
holds that).
"""

from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import ValidationError
from django.http import HttpRequest


class ForgivingChangeList(ChangeList):
    def get_filters(self, request: HttpRequest):
        try:
            return super().get_filters(request)
        except (OverflowError, ValueError) as e:  # the date hierarchy's bounds, a year too far
            raise IncorrectLookupParameters(e) from e

    def get_results(self, request: HttpRequest) -> None:
        try:
            super().get_results(request)
        except OverflowError as e:  # the query's dates, converted to UTC when it runs
            raise IncorrectLookupParameters(e) from e


def _can_be(field, value) -> bool:
    """Whether `value` can be a value of the model field `field` (type and the column's range)."""
    try:
        field.run_validators(field.to_python(value))
    except ValidationError:
        return False
    return True


class ForgivingAutocompleteSelect(AutocompleteSelect):
    def optgroups(self, name, value, attr=None):
        target = self.field.target_field
        return super().optgroups(name, [v for v in value if _can_be(target, v)], attr)


class ForgivingAdminMixin:
    """For ModelAdmins and inlines (an inline has no change list of its own)."""

    def get_changelist(self, request: HttpRequest, **kwargs):
        return ForgivingChangeList

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = ForgivingAutocompleteSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
