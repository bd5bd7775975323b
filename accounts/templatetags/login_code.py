"""How long a sign-in code lives, in whole minutes, for the page and the email that tell the
customer: read from allauth's setting so the text never disagrees with the code."""

from django import template
from django.conf import settings

register = template.Library()


@register.simple_tag
def login_code_minutes() -> int:
    return max(1, settings.ACCOUNT_LOGIN_BY_CODE_TIMEOUT // 60)
