"""The one rule for a batch amoCRM refuses (leads, notes): it answers 400 for the whole batch when
one item is bad (and, for leads, 404 when one is gone). The items a 400 names are refused and the
others are sent again at once; a refusal that names none is retried item by item, so one bad
customer never fails the 49 others."""

from collections.abc import Callable, Collection

from amocrm.exceptions import AmoCRMError, AmoCRMValidationError


def send_refusing_named[T](
    items: list[T],
    call: Callable[[list[T]], None],
    *,
    named: Callable[[list[T], AmoCRMValidationError], Collection[int]],
    refuse: Callable[[T, AmoCRMError], None],
    refusals: tuple[type[AmoCRMError], ...] = (AmoCRMValidationError,),
) -> None:
    """Send `items` through `call`. On one of `refusals`, `named(batch, error)` gives the positions
    in the batch the 400 names (a refusal that is not a 400 names none); each refused item is
    passed to `refuse` with the error. Other errors propagate."""
    try:
        call(items)
    except refusals as e:
        picked = set(named(items, e)) if isinstance(e, AmoCRMValidationError) else set()
        picked &= set(range(len(items)))  # a position beyond the batch names nothing in it
        if not picked and len(items) > 1:
            for item in items:
                send_refusing_named([item], call, named=named, refuse=refuse, refusals=refusals)
            return
        for index, item in enumerate(items):
            if not picked or index in picked:
                refuse(item, e)
        rest = [item for index, item in enumerate(items) if picked and index not in picked]
        if rest:
            send_refusing_named(rest, call, named=named, refuse=refuse, refusals=refusals)
