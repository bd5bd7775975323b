"""A local amoCRM stand-in: API v4 and OAuth as docs/amocrm-api.md describes them, in memory.

Run it: `python -m tools.amocrm_standin --port 8911` (127.0.0.1 only), or in-process from a test:
`standin = StandIn(port=0); standin.start(); ...; standin.stop()`.

It is as strict as amoCRM: custom field values by a field id or code of that entity only (never a
name), dates as integers, select values as existing enums, integer prices and ids, batch limits,
single-use codes and refresh tokens, a 401 for a missing or expired token, 204 with no body for
"nothing there", and 429 (empty body) above 7 API requests in any second.

It answers like a real account where that differs from a first reading of the docs: webhook bodies
follow real ones (tests/amocrm/fixtures/real/): `account[…]` first, a date's value bare
(`…[values][0]=1763931600`), `old_status_id` in an update item whose stage changed, contacts with
`linked_leads_id`; GET /api/v4/account keeps the time zone under `with=datetime_settings`;
/leads/complex answers carry `request_id` lists and `merged`. Each pipeline lists «Неразобранное»
(type 1) first, and the leads API refuses it (400 NotSupportedChoice at status_id). A user who is not
an account admin (`api_user_is_admin` off) gets a JSON 403 "Insufficient rights to call this method"
on the webhook and field set-up calls. A hook with more than 100 failed deliveries in two hours is
switched off (`"disabled": true` in GET /api/v4/webhooks) until it is subscribed again.

A control API under /_standin/ (JSON or form-encoded, no auth) sets the integration up, creates auth
codes and long-lived tokens, expires tokens, changes settings (the account's: subdomain, timezone,
duplicate_control, status_hooks, api_user_is_admin; the server's: latency, rate_limit, echo,
webhook_timeout, blocked, errors_by_id), injects failures (whole answers, or one lead's validation),
resets the state, shows what was received and each lead's notes, and plays a manager who edits, deletes
or restores a lead or edits a contact — which posts amoCRM's form-encoded, v2-shaped webhook to every
subscribed destination. Changes made through the API fire the same webhooks (amoCRM's "echo"), unless
`echo` is switched off. `/` is a small HTML page over the same.

The account's state lives apart from HTTP, as moto keeps its models.py apart from responses.py:
models (Account, composing notes' Notes), tokens and runtime hold state; validation and shapes are
pure; api, control and page are the routes over them; webhooks encodes and posts; server is the
stdlib HTTP plumbing; standin.StandIn puts them together behind one server.
"""

from tools.amocrm_standin.constants import (
    ACCOUNT_ID,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REDIRECT_URI,
    SUBDOMAIN,
)
from tools.amocrm_standin.standin import StandIn
from tools.amocrm_standin.webhooks import php_encode, php_pairs

__all__ = [
    "ACCOUNT_ID",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_REDIRECT_URI",
    "SUBDOMAIN",
    "StandIn",
    "php_encode",
    "php_pairs",
]
