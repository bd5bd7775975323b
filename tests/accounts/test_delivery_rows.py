import pytest
from django.urls import reverse

from accounts.delivery_rows import url_for_each


@pytest.mark.parametrize("name", ["skip", "unskip", "move", "details"])
def test_url_for_each_gives_what_reverse_gives_for_every_id(name):
    url = url_for_each(f"accounts:delivery_{name}")

    for pk in (1, 7, 10, 2_147_483_646):
        assert url(pk) == reverse(f"accounts:delivery_{name}", args=[pk])
