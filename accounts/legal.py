"""The legal texts (consent to processing, privacy policy) and the record of each consent.

The texts are templates (`templates/legal/<kind>.html`); a file of the same name under
`LEGAL_TEXTS_DIR` replaces the shipped one without a release. Each template names its version in its
first line, `{# version: 2025-09-01 #}`; what was shown is kept once per distinct rendered text
(LegalText, by SHA-256), and every consent points at it, so the exact words stay provable after the
template changes.
"""

import dataclasses
import hashlib
import re

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest
from django.template.loader import get_template

from accounts.models import ConsentRecord, LegalText

TEMPLATES = {LegalText.Kind.CONSENT: "legal/consent.html", LegalText.Kind.PRIVACY: "legal/privacy.html"}
VERSION_RE = re.compile(r"\{#\s*version:\s*(\S+)\s*#\}")


@dataclasses.dataclass(frozen=True)
class Document:
    kind: str
    version: str
    text: str  # the rendered HTML body, exactly as the page shows it

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


def operator() -> dict[str, str]:
    """Who processes the data, as the settings name them (the texts and the footer show it)."""
    return {
        "name": settings.OPERATOR_NAME,
        "inn": settings.OPERATOR_INN,
        "address": settings.OPERATOR_ADDRESS,
        "email": settings.OPERATOR_EMAIL,
    }


def document_render(*, kind: str) -> Document:
    template = get_template(TEMPLATES[kind])
    match = VERSION_RE.search(template.template.source)
    text = template.render({"operator": operator(), "site_url": settings.SITE_URL}).strip()
    return Document(kind=kind, version=match.group(1) if match else "unversioned", text=text)


def consent_record(
    *, user: AbstractBaseUser, kind: str, request: HttpRequest, action: str = ConsentRecord.Action.GIVEN
) -> ConsentRecord:
    """Append one consent (given or withdrawn) for the text of `kind` as it renders now."""
    document = document_render(kind=kind)
    text, _ = LegalText.objects.get_or_create(
        sha256=document.sha256,
        defaults={"kind": kind, "version": document.version, "text": document.text},
    )
    return ConsentRecord.objects.create(
        user=user,
        text=text,
        action=action,
        ip_address=client_ip(request),
        user_agent=request.headers.get("User-Agent", "")[:512],
    )


def client_ip(request: HttpRequest) -> str | None:
    """The customer's address as allauth's rate limits see it (TRUSTED_PROXY_COUNT decides)."""
    return get_adapter(request).get_client_ip(request) or None
