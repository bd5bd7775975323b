from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps  # a module: its AdminConfig is not a second default here
from django.utils.translation import gettext_lazy as _


class FlowerAccountConfig(AppConfig):
    default = True
    name = "flower_account"
    verbose_name = _("Site")


class SiteAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with the project's site (flower_account.admin_site)."""

    default = False
    default_site = "flower_account.admin_site.SiteAdmin"
