"""Finding a new lead's existing contact by email, so a customer known to amoCRM is linked, never
duplicated: one search each for a few new leads, as amoCRM suggests; for many at once (a first
sync, an import) one listing of the account's contacts, 250 a request, shared by a whole run."""

import logging

from accounts import emails
from amocrm.client import AmoCRMClient

logger = logging.getLogger(__name__)

SEARCH_EACH_UP_TO = 30  # new leads whose contacts are searched one by one; more: list them once


class ContactFinder:
    """Finds a new lead's existing contact by email. Many new leads at once (a first sync, an import):
    the account's contacts are listed once, 250 a request, and matched here, for every batch of the
    run (pass one finder to each); a few: one search each, as amoCRM suggests."""

    def __init__(self, client: AmoCRMClient) -> None:
        self.client = client
        self.by_email: dict[str, int] | None = None
        self.listed = False

    def find(self, email: str, *, among: int) -> int | None:
        """The contact id for `email`, one of `among` new leads (how many decides listing vs search)."""
        if among > SEARCH_EACH_UP_TO and not self.listed:
            self.listed = True  # once: a listing cut short (a huge account) falls back to searching
            self.by_email = self.client.contacts_by_email(max_pages=among)
            logger.info("amocrm.contacts_listed leads=%s contacts=%s", among, len(self.by_email or {}))
        if self.by_email is not None:
            return self.by_email.get(emails.normalize(email))
        return (self.client.contact_find_by_email(email) or {}).get("id")
