from django.apps import AppConfig


class AmocrmConfig(AppConfig):
    name = "amocrm"
    verbose_name = "amoCRM"
