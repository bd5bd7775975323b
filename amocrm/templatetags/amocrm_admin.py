"""The admin index's amoCRM banner: staff see at once when amoCRM is not being called, and why."""

from django import template

from amocrm.services.breaker import breaker_state

register = template.Library()


@register.inclusion_tag("amocrm/breaker_banner.html")
def amocrm_breaker_banner() -> dict:
    return {"breaker": breaker_state()}
