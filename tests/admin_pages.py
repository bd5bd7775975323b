"""Reading admin pages in tests: the index's control room (each figure is a `<td data-figure="…">`)
and a change page's form."""

import re
from html import unescape

from django.urls import reverse


def figures(client) -> dict[str, str]:
    """The control room's figures by name, as text with whitespace collapsed."""
    page = client.get(reverse("admin:index")).content.decode()
    cells = re.findall(r'<td data-figure="([a-z_]+)">(.*?)</td>', page, flags=re.DOTALL)
    return {name: " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split()) for name, html in cells}


def links(client) -> dict[str, list[str]]:
    """The hrefs in each figure's cell, by figure name."""
    page = client.get(reverse("admin:index")).content.decode()
    cells = re.findall(r'<td data-figure="([a-z_]+)">(.*?)</td>', page, flags=re.DOTALL)
    return {name: [unescape(h) for h in re.findall(r'href="([^"]+)"', html)] for name, html in cells}


def change_form_data(client, url: str) -> dict[str, object]:
    """What a change page's form posts back unchanged: each field's current value ("" when none)."""
    form = client.get(url).context["adminform"].form
    values = {name: form[name].value() for name in form.fields}
    return {name: "" if value is None else value for name, value in values.items()}
