"""amocrm.batches: one bad item never fails the batch's others."""

import pytest

from amocrm.batches import send_refusing_named
from amocrm.exceptions import AmoCRMNotFound, AmoCRMUnavailable, AmoCRMValidationError


class Account:
    """amoCRM refusing, with a 400, any batch holding a bad item; `names` says whether it says which."""

    def __init__(self, bad: set[str], *, names: bool) -> None:
        self.bad, self.names = bad, names
        self.calls: list[list[str]] = []
        self.accepted: list[str] = []

    def post(self, batch: list[str]) -> None:
        self.calls.append(batch)
        if self.bad & set(batch):
            raise AmoCRMValidationError("Request validation failed")
        self.accepted += batch

    def named(self, batch: list[str], error: AmoCRMValidationError) -> set[int]:
        return {i for i, item in enumerate(batch) if item in self.bad} if self.names else set()


def send(account: Account, items: list[str], **kwargs) -> dict[str, str]:
    refused: dict[str, str] = {}
    send_refusing_named(
        items,
        account.post,
        named=account.named,
        refuse=lambda item, error: refused.setdefault(item, type(error).__name__),
        **kwargs,
    )
    return refused


def test_the_items_a_400_names_are_refused_and_the_rest_sent_again_at_once():
    account = Account({"c", "e"}, names=True)

    refused = send(account, list("abcdef"))

    assert refused == {"c": "AmoCRMValidationError", "e": "AmoCRMValidationError"}
    assert account.accepted == ["a", "b", "d", "f"]
    assert account.calls == [list("abcdef"), ["a", "b", "d", "f"]]


def test_a_400_that_names_nothing_is_retried_item_by_item():
    account = Account({"c"}, names=False)

    refused = send(account, list("abcd"))

    assert refused == {"c": "AmoCRMValidationError"}
    assert account.accepted == ["a", "b", "d"]
    assert account.calls == [list("abcd"), ["a"], ["b"], ["c"], ["d"]]


def test_positions_beyond_the_batch_name_nothing_in_it():
    calls = []

    def refuse_all(batch):
        calls.append(batch)
        raise AmoCRMValidationError("Request validation failed")

    refused = {}
    send_refusing_named(
        ["a", "b"], refuse_all, named=lambda batch, error: {7}, refuse=lambda i, e: refused.setdefault(i, e)
    )

    assert list(refused) == ["a", "b"] and calls == [["a", "b"], ["a"], ["b"]]


def test_a_refusal_that_is_not_a_400_names_nothing():
    calls = []

    def not_found(batch):
        calls.append(batch)
        if "b" in batch:
            raise AmoCRMNotFound("gone")

    refused = {}
    send_refusing_named(
        ["a", "b"],
        not_found,
        named=lambda batch, error: pytest.fail("a 404 names no items"),
        refuse=lambda item, error: refused.setdefault(item, error),
        refusals=(AmoCRMValidationError, AmoCRMNotFound),
    )

    assert list(refused) == ["b"] and calls == [["a", "b"], ["a"], ["b"]]


def test_other_errors_are_the_callers():
    def down(batch):
        raise AmoCRMUnavailable("503")

    with pytest.raises(AmoCRMUnavailable):
        send_refusing_named(["a", "b"], down, named=lambda b, e: set(), refuse=lambda i, e: None)
