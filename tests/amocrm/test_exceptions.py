"""What each amoCRM error says of itself: the callers read these facts, never a list of classes."""

import pytest

from amocrm import exceptions as e


@pytest.mark.parametrize(
    ("error_class", "opens"),
    [
        (e.AmoCRMForbidden, True),
        (e.AmoCRMPaymentRequired, True),
        (e.AmoCRMError, False),
        (e.AmoCRMAuthError, False),
        (e.AmoCRMNotConfigured, False),
        (e.AmoCRMNotFound, False),
        (e.AmoCRMRateLimited, False),
        (e.AmoCRMUnavailable, False),
        (e.AmoCRMValidationError, False),
        (e.AmoCRMMappingError, False),
        (e.AmoCRMLeadTaken, False),
    ],
)
def test_only_a_block_or_a_lapsed_plan_opens_the_breaker(error_class, opens):
    assert error_class("refused").opens_breaker is opens


def test_a_subclass_that_says_it_does_not_open_the_breaker_is_not_treated_as_a_block():
    class Narrow(e.AmoCRMForbidden):
        opens_breaker = False

    assert Narrow("no rights to this entity").opens_breaker is False
