"""The admin's list footer (templates/admin/pagination.html): how many rows, in Russian plurals."""

from django import template
from django.contrib.admin.views.main import ChangeList
from django.utils.text import capfirst

from flower_account.admin_site import COUNTS

register = template.Library()


@register.simple_tag
def result_count(cl: ChangeList) -> str:
    phrase = COUNTS.get(cl.opts.label_lower)
    if phrase is not None:
        return phrase % {"count": cl.result_count}
    return f"{capfirst(cl.opts.verbose_name_plural)}: {cl.result_count}"
