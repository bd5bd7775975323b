"""Connecting amoCRM from the browser (staff start at /amocrm/oauth/start/, amoCRM sends them back),
and amoCRM's webhook: managers' changes come back to the site."""

import hmac
import logging
import secrets
from http import HTTPStatus
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from amocrm import webhooks
from amocrm.exceptions import AmoCRMError
from amocrm.models import OAuthToken
from amocrm.services import connection, enqueue, webhook_events

logger = logging.getLogger(__name__)

STATE_SESSION_KEY = "amocrm_oauth_state"


def _result(
    request: HttpRequest, *, message: str, status: HTTPStatus, token: OAuthToken | None = None
) -> HttpResponse:
    context = {"ok": status == HTTPStatus.OK, "message": message, "token": token}
    return render(request, "amocrm/oauth_result.html", context, status=status)


def _forbidden(request: HttpRequest) -> HttpResponse:
    logger.warning("amocrm.oauth_forbidden user_id=%s", request.user.pk)
    return _result(
        request,
        message=_("Only a superuser or staff with the permission to connect amoCRM may connect it."),
        status=HTTPStatus.FORBIDDEN,
    )


@never_cache
@staff_member_required
@require_GET
def oauth_start(request: HttpRequest) -> HttpResponse:
    """Send staff to amoCRM's consent page with a one-time `state` bound to their session."""
    if not connection.user_may_connect(request.user):
        return _forbidden(request)
    if not connection.is_oauth_configured():
        return _result(
            request,
            message=_(
                "amoCRM is not configured: set AMOCRM_BASE_URL, AMOCRM_CLIENT_ID, AMOCRM_CLIENT_SECRET "
                "and AMOCRM_REDIRECT_URI, then try again."
            ),
            status=HTTPStatus.SERVICE_UNAVAILABLE,
        )
    state = connection.oauth_new_state()
    request.session[STATE_SESSION_KEY] = state
    return HttpResponseRedirect(connection.oauth_authorize_url(state=state))


@never_cache
@staff_member_required
@require_GET
def oauth_callback(request: HttpRequest) -> HttpResponse:
    """amoCRM's redirect back: check `state`, exchange the code, store the tokens."""
    if not connection.user_may_connect(request.user):
        return _forbidden(request)
    expected = request.session.pop(STATE_SESSION_KEY, None)
    state = request.GET.get("state", "")
    if not expected or not secrets.compare_digest(expected, state):
        logger.warning("amocrm.oauth_state_mismatch user_id=%s", request.user.pk)
        return _result(
            request,
            message=_(
                "This link is not from a connection started here, or it was already used. Start again."
            ),
            status=HTTPStatus.BAD_REQUEST,
        )
    if request.GET.get("error") or not request.GET.get("code"):
        return _result(
            request,
            message=_("amoCRM did not grant access, so nothing was changed."),
            status=HTTPStatus.BAD_REQUEST,
        )
    referer = request.GET.get("referer", "")
    base_url = connection.oauth_account_base(referer=referer)
    if base_url is None:
        return _result(
            request,
            message=_("Access was granted for %(account)s, but this site is set up for %(expected)s.")
            % {"account": referer.strip()[:100], "expected": urlsplit(connection.api_base_url()).hostname},
            status=HTTPStatus.BAD_REQUEST,
        )
    try:
        token = connection.oauth_connect(code=request.GET["code"], base_url=base_url)
    except AmoCRMError as e:
        logger.warning("amocrm.oauth_connect_failed user_id=%s status=%s", request.user.pk, e.status)
        return _result(
            request,
            message=_("amoCRM refused the connection: %(reason)s. Start again.") % {"reason": e.message},
            status=HTTPStatus.BAD_GATEWAY,
        )
    logger.info("amocrm.oauth_connected user_id=%s token_id=%s", request.user.pk, token.pk)
    enqueue.lead_sync_waiting_enqueue()  # what waited while it was revoked (or never connected) goes now
    return _result(request, message=_("amoCRM is connected."), status=HTTPStatus.OK, token=token)


def _plain(status: HTTPStatus) -> HttpResponse:
    return HttpResponse(status.phrase, status=status, content_type="text/plain; charset=utf-8")


@csrf_exempt
@require_POST
def webhook(request: HttpRequest, secret: str) -> HttpResponse:
    """amoCRM's webhook: check the secret, the size and the account, store the events, answer 200.

    The events are applied by the worker (amocrm.tasks.webhook_apply): amoCRM waits only a couple of
    seconds and switches off endpoints that keep failing, so nothing slow or fallible runs here.
    """
    expected = settings.AMOCRM_WEBHOOK_SECRET
    if not expected or not hmac.compare_digest(secret.encode(), expected.encode()):
        return _plain(HTTPStatus.NOT_FOUND)
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > webhooks.MAX_BYTES:
        return _plain(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
    try:
        body = request.body
    except RequestDataTooBig:
        return _plain(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
    if len(body) > webhooks.MAX_BYTES:
        return _plain(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
    try:
        payload = webhooks.parse_body(body)
    except webhooks.TooManyKeys:
        return _plain(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)  # as over MAX_BYTES: nothing is stored
    except webhooks.ParseError as e:
        webhook_events.webhook_record_malformed(body=body, error=str(e))
        return _plain(HTTPStatus.BAD_REQUEST)
    subdomain, account_id = webhooks.account_of(payload)
    if not webhook_events.webhook_account_matches(subdomain=subdomain, account_id=account_id):
        logger.warning("amocrm.webhook_wrong_account account_id=%s", account_id[:20] or "-")
        return _plain(HTTPStatus.FORBIDDEN)
    event_ids = webhook_events.webhook_receive(payload=payload)
    enqueue.webhook_events_after_commit(event_ids=event_ids)
    return _plain(HTTPStatus.OK)
