"""The admin never answers 500 to a hand-made request (accounts/admin_forgiving.py): filters with
dates no list can serve get Django's "invalid lookup" answer (a redirect to ?e=1), on every list
and every date column; a value that is no id in an autocomplete field is a form error."""

from http import HTTPStatus

import pytest
from django.contrib import admin
from django.db import models
from django.test import RequestFactory

from accounts.admin_forgiving import ForgivingAdminMixin, ForgivingChangeList
from tests.admin_pages import change_form_data

pytestmark = [
    pytest.mark.django_db,
    # A hand-made `…__gte=0001-01-01 00:00:00` is a naive datetime: Django warns, production goes on.
    pytest.mark.filterwarnings("ignore:DateTimeField .* received a naive datetime:RuntimeWarning"),
]

OUT_OF_RANGE = [
    "{f}__year=1",
    "{f}__year=1&{f}__month=1&{f}__day=1",
    "{f}__year=9999",
    "{f}__year=9999&{f}__month=12",
    "{f}__gte=0001-01-01",
    "{f}__gte=0001-01-01+00:00:00",
    "{f}__lt=9999-12-31+23:59:59",
    "{f}__year=99999999999999999999",
]


def date_columns(model) -> list[str]:
    return [f.name for f in model._meta.get_fields() if isinstance(f, models.DateField) and f.concrete]


LISTS = [
    (f"/admin/{model._meta.app_label}/{model._meta.model_name}/", column)
    for model in admin.site._registry
    for column in date_columns(model)
]


def test_every_admin_list_and_form_forgives_what_it_cannot_serve(superuser):
    request = RequestFactory().get("/")
    request.user = superuser
    admins = list(admin.site._registry.values())
    inlines = [inline for model_admin in admins for inline in model_admin.inlines]  # add pages show none

    assert [type(a).__name__ for a in admins if a.get_changelist(request) is not ForgivingChangeList] == []
    assert [type(a).__name__ for a in admins if not isinstance(a, ForgivingAdminMixin)] == []
    assert inlines and [c.__name__ for c in inlines if not issubclass(c, ForgivingAdminMixin)] == []


@pytest.mark.parametrize(("url", "column"), LISTS)
def test_a_date_out_of_range_is_an_invalid_lookup_not_a_500(superuser_client, customer, url, column):
    superuser_client.raise_request_exception = False
    for query in OUT_OF_RANGE:
        response = superuser_client.get(f"{url}?{query.format(f=column)}")

        assert response.status_code in (HTTPStatus.OK, HTTPStatus.FOUND), (query, response.status_code)
        if response.status_code == HTTPStatus.FOUND:
            assert response.url.endswith("?e=1"), response.url


NO_ID = ["0001-01-01", "abc", "1e309", "-1", "99999999999999999999999", "9223372036854775808"]


@pytest.mark.parametrize("value", NO_ID)
@pytest.mark.parametrize("field", ["referred_by", "bouquet_category"])  # autocomplete, plain select
def test_a_value_that_is_no_id_in_a_foreign_key_is_a_form_error(superuser_client, customer, field, value):
    superuser_client.raise_request_exception = False
    url = f"/admin/accounts/profile/{customer.pk}/change/"

    response = superuser_client.post(url, {**change_form_data(superuser_client, url), field: value})

    assert response.status_code == HTTPStatus.OK
    assert field in response.context["adminform"].form.errors


@pytest.mark.parametrize("object_id", ["abc", "99999999999999999999999", "9223372036854775808", "-1"])
def test_a_change_page_for_an_id_that_cannot_be_is_not_found(superuser_client, object_id):
    superuser_client.raise_request_exception = False

    response = superuser_client.get(f"/admin/accounts/profile/{object_id}/change/")

    assert response.status_code == HTTPStatus.FOUND and response.url == "/admin/"
