"""Which hosts may be sent our tokens and client secret: amoCRM's own, read as host names.

A host taken from amoCRM's answers (a token's `api_domain`, the subdomain answer, the OAuth
callback's `referer`) is untrusted text: `evil.example/.amocrm.ru` ends in `.amocrm.ru` as a string,
but pasted into `https://{…}` it names `evil.example`. So the text must be a bare host name (labels
of letters, digits and hyphens only; no `/ ? # @ :` or spaces), it must end in an allowed domain on a
label boundary (`xamocrm.ru` does not), and URLs are built from the parsed host, never the text.
"""

import re

# The domains amoCRM accounts live under (Russian amoCRM, its .com, and Kommo).
AMOCRM_DOMAINS = ("amocrm.ru", "amocrm.com", "kommo.com")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_MAX_HOST = 253


def host_parse(value: object) -> str | None:
    """The value as a lower-case ASCII host name (a Unicode name in punycode), or None when it is
    anything else: a URL, a host with a port or user, an IP address is fine only as labels."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > _MAX_HOST * 4:
        return None
    try:
        # IDNA turns a Unicode name into the punycode amoCRM would serve; it also maps look-alike
        # dots and full-width characters, so the result is checked again below, label by label.
        ascii_host = text.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    if len(ascii_host) > _MAX_HOST:
        return None
    labels = ascii_host.split(".")
    if not all(_LABEL.fullmatch(label) for label in labels):
        return None
    return ascii_host


def amocrm_host(value: object) -> str | None:
    """The value as an account host under one of amoCRM's domains (`flowers.amocrm.ru`), else None."""
    host = host_parse(value)
    if host is None:
        return None
    if any(host.endswith(f".{domain}") for domain in AMOCRM_DOMAINS):
        return host
    return None


def host_url(host: str) -> str:
    """The https base URL of a host `amocrm_host` accepted."""
    return f"https://{host}"
