"""The Jinja2 environment of Django's Jinja2 backend: the account page's content, nothing else.

Why: the account page is the one every customer opens on every visit, and Django's engine spent
~2 ms of its ~8 on ~270 nodes (a translation ~12 µs, a variable ~7 µs); Jinja2 compiles a template
to Python once and renders the same content in ~0.25 ms. The layout (base.html), every other page
and every email stay Django templates.

How it reads: `_("Text")` is Django's gettext, so makemessages finds each string as it finds
`_("…")` in a Django template; a sentence with values is `_("… %(name)s …")|safe|format(name=…)`
(the msgid a `blocktranslate` would make; `safe` keeps the translation's own markup, `format`
escapes the values). Sentences with a number in them (`ngettext`) are written in Python
(accounts/page_texts.py): makemessages reads no plural in a template but Django's own tags.
"""

import functools

from django.template.defaultfilters import floatformat, linebreaksbr, urlencode
from django.urls import get_script_prefix, reverse
from django.utils.text import capfirst
from django.utils.translation import gettext
from jinja2 import Environment

from accounts import page_texts
from accounts.formatting import day_month


@functools.cache
def _reversed(name: str, script_prefix: str) -> str:
    return reverse(name)


def url(name: str) -> str:
    """`reverse(name)` for a URL without arguments, looked up once per process and script prefix
    (the page has eight, ~15 µs each)."""
    return _reversed(name, get_script_prefix())


def environment(**options) -> Environment:
    # Every value escaped: Django's backend asks for it too; said here so no option can turn it off.
    env = Environment(
        autoescape=True, **{name: value for name, value in options.items() if name != "autoescape"}
    )
    env.globals.update({"_": gettext, "url": url, "page_texts": page_texts})
    env.filters.update(
        {
            "capfirst": capfirst,
            "day_month": day_month,
            "floatformat": floatformat,
            "linebreaksbr": linebreaksbr,
            "urlencode": urlencode,  # Django's: urlencode("") quotes "/" too
        }
    )
    return env
