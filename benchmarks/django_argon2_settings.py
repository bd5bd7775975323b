"""benchmarks.login_cost's "before": the site's settings with Django's default Argon2 parameters.

Only that benchmark names this module (DJANGO_SETTINGS_MODULE), so the site itself has no switch
back to the heavier hasher.
"""

from flower_account.settings import *  # noqa: F403
from flower_account.settings import PASSWORD_HASHERS

PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher", *PASSWORD_HASHERS[1:]]
