"""What `make demo`, the browser tests and the benchmarks run the site with, written once.

processes (children, waits, the one failure type) · database (a throwaway database) · site (the site's
environment, manage.py, gunicorn, signing up over HTTP) · inprocess (Django in this process) · crm (the
amoCRM stand-in and its control API) · stack (all of it connected) · browser (Chromium and its pages)
· figures (what the benchmarks print) · smtp (a mail server on 127.0.0.1 that can refuse, hang or be
slow). Lower modules never import higher ones, and nothing here imports `tests`.
"""
