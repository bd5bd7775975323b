"""gunicorn's logger with the site's redaction, for the optional access log (GUNICORN_ACCESS_LOG).

An access line holds the request line, the referrer and any header the format names: the webhook
secret, OAuth codes and reset tokens in URLs would be written in plain text. The patterns have one
owner, flower_account.logging; this class only puts its filter on gunicorn's two loggers.
"""

from gunicorn.glogging import Logger

from flower_account.logging import RedactSecretsFilter


class RedactingLogger(Logger):
    def setup(self, cfg) -> None:
        super().setup(cfg)
        for log in (self.access_log, self.error_log):
            # setup() runs again on a configuration reload: one filter per logger.
            if not any(isinstance(existing, RedactSecretsFilter) for existing in log.filters):
                log.addFilter(RedactSecretsFilter())
