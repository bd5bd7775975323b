"""Phrases of Django and other packages that their Russian catalogs lack, marked here so that
makemessages keeps them in locale/ru (LOCALE_PATHS is searched before the packages' own catalogs)."""

from django.utils.translation import gettext_noop, ngettext_lazy

STRINGS = [
    # django/contrib/admin/templates/admin/date_hierarchy.html: "Filter by дата создания" otherwise.
    gettext_noop("Filter by %(field_name)s"),
    # django/contrib/admin/options.py: Django's Russian puts the model's name first and agrees the
    # verb with a masculine one ("доставка … был успешно изменен"); ours says "Сохранено: доставка
    # «…»", right for every model.
    gettext_noop("The {name} “{obj}” was added successfully."),
    gettext_noop("You may edit it again below."),  # follows the line above on "save and continue"
    gettext_noop("The {name} “{obj}” was added successfully. You may add another {name} below."),
    gettext_noop("The {name} “{obj}” was changed successfully."),
    gettext_noop("The {name} “{obj}” was changed successfully. You may edit it again below."),
    gettext_noop("The {name} “{obj}” was changed successfully. You may add another {name} below."),
    gettext_noop("The %(name)s “%(obj)s” was deleted successfully."),
    ngettext_lazy(
        "%(count)s %(name)s was changed successfully.", "%(count)s %(name)s were changed successfully."
    ),
    # django/contrib/admin/actions.py: Django's Russian says "Успешно удалены 26 профили" (the
    # model's plural name is the same for every number); ours names the model apart from the number.
    gettext_noop("Successfully deleted %(count)d %(items)s."),
    # django/contrib/admin/templates/admin/pagination.html: "Паджинация профили" for screen readers.
    gettext_noop("Pagination %(name)s"),
    # django/db/models/fields/__init__.py (BLANK_CHOICE_LABEL, Django 6.1): the empty choice of every
    # select, the admin's action select among them.
    gettext_noop("- Select an option -"),
    # Names django_tasks_db gives without a Russian catalogue (its app's name without gettext),
    # translated where the admin shows them (accounts.admin_permissions).
    gettext_noop("Tasks Database Backend"),
    gettext_noop("Task Result"),
]
