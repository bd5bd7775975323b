"""benchmarks.code_request_timing's "before": the site's settings with emails sent inside the
request (the transport as the default mailer, tasks run in the request that enqueues them, so the
sign-in code's task mails from there), as the site sent them before the outbox.

Only that benchmark names this module (DJANGO_SETTINGS_MODULE), so the site has no switch for it.
"""

from flower_account.settings import *  # noqa: F403
from flower_account.settings import MAILERS

MAILERS = {"default": MAILERS["transport"], "transport": MAILERS["transport"]}
TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
