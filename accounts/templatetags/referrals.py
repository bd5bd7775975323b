"""Who invited the visitor, for the signup page a referral link leads to (views.referral_landing)."""

from django import template
from django.conf import settings

from accounts import services

register = template.Library()


@register.simple_tag(takes_context=True)
def invited_by(context: template.Context) -> str | None:
    """The referrer's first name only (no surname, no address): "" when they gave none, None when
    nobody invited this visitor."""
    request = context.get("request")
    if request is None:
        return None
    referrer = services.referrer_find(referral_code=request.session.get(services.REFERRAL_SESSION_KEY))
    if referrer is None:
        return None
    first_name = referrer.user.first_name.split()
    return first_name[0] if first_name else ""


@register.simple_tag
def referral_reward() -> object:
    """What a referrer earns per friend, from the setting that pays it (accounts.services)."""
    return settings.REFERRAL_REWARD_AMOUNT
