"""gunicorn settings for production: `gunicorn -c gunicorn.conf.py flower_account.wsgi`.

Tuned for the 2-core machines we run on: Argon2 password hashing makes login and signup CPU-bound,
so more processes than cores buys nothing there, while threads keep slow clients and database
waits from blocking a worker. Scale out with more machines rather than more workers per core.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() + 1))
threads = int(os.environ.get("GUNICORN_THREADS", 4))
worker_class = "gthread"
timeout = 30  # a request that runs longer is stuck: the worker is restarted
graceful_timeout = 20
keepalive = 5
max_requests = 2000  # recycle workers now and then so slow leaks never matter
max_requests_jitter = 200
accesslog = "-" if os.environ.get("GUNICORN_ACCESS_LOG", "false").lower() == "true" else None
errorlog = "-"
# The same redaction as the site's own log lines (webhook secret, OAuth codes, reset tokens).
logger_class = "flower_account.access_log.RedactingLogger"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
