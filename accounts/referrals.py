"""Whether a referral earns its reward (issue 26, item 7; docs/security.md).

A customer who never paid signed a second account up through their own link and was rewarded once
its first bouquet came. Now the referrer must have paid at least one invoice, and a friend who looks
like the referrer themselves earns nothing: the same mailbox (accounts.emails.mailbox: plus-addresses
and dots where the provider ignores them), the same delivery address (spelled loosely alike) or the
same phone. The reason is kept on the friend's profile for staff (`referral_reward_withheld`).
"""

import re

from accounts import emails
from accounts.models import Invoice, Profile

# Words a Russian address may spell out, shorten or leave off; they tell no two addresses apart.
_ADDRESS_FILLER = frozenset(
    {"г", "город", "ул", "улица", "д", "дом", "кв", "квартира", "корп", "корпус", "к", "стр", "строение"}
)


def address_key(address: str) -> str:
    """`Москва, ул. Лёнина, д.25, кв 10` and `москва ленина 25 10` → one key: case, ё, punctuation and
    the filler words above do not count; the order of what is left does."""
    words = re.findall(r"\w+", address.casefold().replace("ё", "е"))
    return " ".join(word for word in words if word not in _ADDRESS_FILLER)


def reward_refusal(*, referrer: Profile, friend: Profile) -> Profile.ReferralWithheld | None:
    """Why `referrer` earns nothing for `friend`, or None when the reward is due."""
    if emails.mailbox(referrer.user.email) == emails.mailbox(friend.user.email):
        return Profile.ReferralWithheld.SAME_MAILBOX
    # No address (blank, or only punctuation and filler words) is no one's: two such are not one person.
    if (key := address_key(referrer.delivery_address)) and key == address_key(friend.delivery_address):
        return Profile.ReferralWithheld.SAME_ADDRESS
    if referrer.phone and referrer.phone == friend.phone:
        return Profile.ReferralWithheld.SAME_PHONE
    if not referrer.invoices.filter(status=Invoice.Status.PAID).exists():
        return Profile.ReferralWithheld.REFERRER_NEVER_PAID
    return None
