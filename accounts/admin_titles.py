"""Admin titles in the right Russian case.

Django builds "Выберите %s для изменения", "Добавить %s", "Изменить %s" from a model's verbose_name,
which is in the nominative: "Выберите доставка". An admin that names its model in the accusative
(`pgettext_lazy("accusative", "delivery")` → "доставку") gets those titles and the list's "Add"
button right; Django's own phrases are reused, so nothing else needs translating.
"""

from django.http import HttpRequest
from django.utils.translation import gettext


class AccusativeTitlesMixin:
    accusative_name = None  # the model's name after "Выберите"/"Добавить"; None keeps Django's title

    def _with_title(self, extra_context: dict | None, phrase: str) -> dict | None:
        if self.accusative_name is None:
            return extra_context
        return {"title": phrase % self.accusative_name, **(extra_context or {})}

    def changelist_view(self, request: HttpRequest, extra_context=None):
        if self.has_change_permission(request):
            phrase = gettext("Select %s to change")
        else:
            phrase = gettext("Select %s to view")
        context = self._with_title(extra_context, phrase)
        if self.accusative_name is not None:
            context["accusative_name"] = self.accusative_name  # admin/change_list_object_tools.html
        return super().changelist_view(request, context)

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None):
        return super().add_view(request, form_url, self._with_title(extra_context, gettext("Add %s")))

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        phrase = gettext("Change %s") if self.has_change_permission(request) else gettext("View %s")
        return super().change_view(request, object_id, form_url, self._with_title(extra_context, phrase))
