"""The account page's sentences with a number in them, for its Jinja2 content (flower_account/jinja2.py).

makemessages reads plurals in a template only from Django's own `blocktranslate`, so these few are
written here, with the msgids the page had as a Django template.
"""

import datetime

from django.utils.translation import ngettext

from accounts.formatting import day_month


def balance_covers(count: int, until: datetime.date) -> str:
    return ngettext(
        "The balance covers %(counter)s delivery, until %(day)s.",
        "The balance covers %(counter)s deliveries, until %(day)s.",
        count,
    ) % {"counter": count, "day": day_month(until)}


def skip_rule(days: int) -> str:
    return ngettext(
        "A delivery can be skipped until %(days)s day before it.",
        "A delivery can be skipped until %(days)s days before it.",
        days,
    ) % {"days": days}


def friends_signed_up(count: int) -> str:
    return ngettext(
        "%(counter)s person signed up through your link.",
        "%(counter)s people signed up through your link.",
        count,
    ) % {"counter": count}


def rewards_earned(count: int) -> str:
    return ngettext(
        "%(counter)s reward earned for a friend's first bouquet.",
        "%(counter)s rewards earned for friends' first bouquets.",
        count,
    ) % {"counter": count}
