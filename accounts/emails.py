"""Email addresses as the site stores and compares them: one spelling per mailbox.

Django's EmailValidator takes ASCII local parts only, but matches letters case-insensitively, so
`ı`, `İ`, `ſ` and `K` (Kelvin sign) pass it as i, i, s and k. `normalize`, applied once on the way
in (signup, login, password reset, the admin), is Unicode NFKC, then case folding: `ſam@…` and
`Kate@…` become the `sam@…` and `kate@…` they look like, and the database compares exact strings
(never PostgreSQL's UPPER(), which also maps `ſ` to `S`). `validate_one_script` refuses what no
mail provider hands out: a local part or domain label that mixes alphabets (`exаmple` with a
Cyrillic "а"), Latin letters beyond ASCII (`mıke`, dotless ı) or combining marks (`MİKE` folds to
`mi̇ke`). ASCII addresses and domain labels wholly in one other alphabet (`почта.рф`) pass.
"""

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

LOOKALIKE_MESSAGE = _(
    "Type the address exactly as your mail service gave it: it cannot mix alphabets or use "
    "look-alike letters."
)


def normalize(email: str | None) -> str:
    """`  ＭＩＫＥ@Example.RU ` → `mike@example.ru`: NFKC, then case folding."""
    return unicodedata.normalize("NFKC", (email or "").strip()).casefold()


# Providers whose help pages say which spellings reach one mailbox (docs/security.md). Gmail ignores
# dots and everything after "+"; Yandex ignores everything after "+", treats "." and "-" in a login
# alike and serves each login on all its domains. Every other provider (mail.ru, bk.ru, list.ru,
# inbox.ru, corporate domains, …) is compared as written: calling two people one wrongly costs an
# honest referrer their reward, and a paid invoice is asked of every referrer anyway.
GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
YANDEX_DOMAINS = frozenset({"yandex.ru", "ya.ru", "yandex.com", "yandex.by", "yandex.kz", "yandex.ua"})


def mailbox(email: str | None) -> str:
    """The mailbox an address reaches: `I.van+promo@googlemail.com` → `ivan@gmail.com`.

    For telling one person's addresses apart (the referral reward), never for storing or mailing.
    """
    email = normalize(email)
    local, _, domain = email.rpartition("@")
    if domain in GMAIL_DOMAINS:
        return f"{local.partition('+')[0].replace('.', '')}@gmail.com"
    if domain in YANDEX_DOMAINS:
        return f"{local.partition('+')[0].replace('.', '-')}@yandex.ru"
    return email


def same(first: str | None, second: str | None) -> bool:
    """The same address once case, width and surrounding spaces are ignored (NFKC, casefold): the one
    rule wherever the site compares addresses (its own, a CRM contact's, a webhook's). Not `mailbox()`,
    which folds a provider's aliases for the referral check only."""
    return normalize(first) == normalize(second)


def validate_one_script(email: str) -> None:
    """Raise ValidationError (code `email_script`) for a look-alike address (see the module)."""
    local, _, domain = email.rpartition("@")
    if not all(_is_one_script(part) for part in [local, *domain.split(".")]):
        raise ValidationError(LOOKALIKE_MESSAGE, code="email_script")


def _is_one_script(text: str) -> bool:
    if text.isascii():
        return True
    scripts = set()
    for char in text:
        if char.isascii():
            if char.isalpha():
                scripts.add("ASCII")
            continue  # digits, dots, hyphens, plus signs
        if not unicodedata.category(char).startswith("L"):
            return False  # combining marks, other scripts' digits, symbols
        script = unicodedata.name(char, "UNKNOWN").split(" ")[0]
        if script == "LATIN":
            return False  # ı, é, ĸ: Latin beyond ASCII is where look-alikes live
        scripts.add(script)
    return len(scripts) == 1
