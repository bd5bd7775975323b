import datetime

import pytest
from django.urls import reverse
from django.utils import formats, translation

from accounts.delivery_rows import delivery_rows, url_for_each
from accounts.formatting import day_month
from accounts.models import Delivery


@pytest.mark.parametrize("name", ["skip", "unskip", "move", "details"])
def test_url_for_each_gives_what_reverse_gives_for_every_id(name):
    url = url_for_each(f"accounts:delivery_{name}")

    for pk in (1, 7, 10, 2_147_483_646):
        assert url(pk) == reverse(f"accounts:delivery_{name}", args=[pk])


@pytest.mark.parametrize("language", ["ru", "en"])
def test_a_rows_dates_read_as_the_formats_would_print_them(language):
    """The rows spell dates without a formatter per date; the words must stay the formats' own."""
    with translation.override(language):
        for offset in range(0, 366, 5):  # every month and every weekday
            day = datetime.date(2026, 1, 1) + datetime.timedelta(days=offset)
            assert day_month(day) == formats.date_format(day, "j E")
            assert day_month(day, year=True) == formats.date_format(day, "j E Y")
            row = delivery_rows([Delivery(pk=offset + 1, delivery_on=day, status="scheduled")], today=day)[0][
                0
            ]
            assert (row.day, row.iso, row.pk) == (
                formats.date_format(day, "j E"),
                day.isoformat(),
                str(offset + 1),
            )
            assert row.weekday == formats.date_format(day, "l").lower()
