"""Reading rendered pages the way a customer sees them."""

import datetime
import html
import re

from django.http import HttpResponse
from django.utils import timezone


def page_text(response: HttpResponse) -> str:
    """The decoded page with non-breaking spaces (Russian thousand separators) as plain spaces."""
    return response.content.decode().replace("\xa0", " ").replace("&nbsp;", " ")


def field_errors(response: HttpResponse, field: str) -> str:
    """The error list rendered next to one form field (Django ties it to the input by id)."""
    match = re.search(rf'<ul class="errorlist" id="id_{field}_error">(.*?)</ul>', page_text(response), re.S)
    return html.unescape(match.group(1)) if match else ""


def input_value(response: HttpResponse, name: str) -> str | None:
    """The value attribute of the input called `name`, or None when it has none."""
    tag = re.search(rf'<input[^>]*\bname="{name}"[^>]*>', response.content.decode())
    assert tag, f"no input named {name!r}"
    value = re.search(r'\bvalue="([^"]*)"', tag.group(0))
    return html.unescape(value.group(1)) if value else None


def checked_value(response: HttpResponse, name: str) -> str | None:
    """The value of the checked radio button in the group `name`."""
    for tag in re.findall(rf'<input[^>]*\bname="{name}"[^>]*>', response.content.decode()):
        if re.search(r"\bchecked\b", tag):
            return html.unescape(re.search(r'\bvalue="([^"]*)"', tag).group(1))
    return None


def textarea_value(response: HttpResponse, name: str) -> str:
    match = re.search(
        rf'<textarea[^>]*\bname="{name}"[^>]*>\n?(.*?)</textarea>', response.content.decode(), re.S
    )
    assert match, f"no textarea named {name!r}"
    return html.unescape(match.group(1))


def on_its_day(delivery) -> datetime.datetime:
    """Noon of the delivery's own day, site time: staff may mark it delivered from then on."""
    return timezone.make_aware(datetime.datetime.combine(delivery.delivery_on, datetime.time(12)))


def due_today(delivery):
    """The delivery brought to today, so staff may mark it delivered in the admin."""
    type(delivery).objects.filter(pk=delivery.pk).update(delivery_on=timezone.localdate())
    delivery.refresh_from_db()
    return delivery
