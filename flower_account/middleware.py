import logging
import re
import uuid

from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect
from django.template import loader
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.http import urlencode
from django.utils.log import log_response

from flower_account.logging import request_id_var

# Accept a proxy's id only if it looks like one, so a client cannot inject text into the logs.
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

logger = logging.getLogger(__name__)


class RequestIdMiddleware:
    """Tags the request and its log lines with an id (the proxy's X-Request-ID or a new one)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.id = incoming if REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request.id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request.id
        return response


class PrivatePagesMiddleware:
    """Pages for a logged-in customer (email, address, balance) are never stored by a cache.

    Browsers' back-forward and disk caches and shared proxies would otherwise keep them; a view
    that set its own Cache-Control (the admin's never_cache) knows better and is left alone.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not response.has_header("Cache-Control"):
            patch_cache_control(response, private=True, no_store=True)
        return response


class PermissionsPolicyMiddleware:
    """Sends settings.PERMISSIONS_POLICY: browser features the site never uses stay off, for it
    and for anything it embeds (GTM)."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.header = ", ".join(f"{feature}=()" for feature in settings.PERMISSIONS_POLICY)

    def __call__(self, request):
        response = self.get_response(request)
        if self.header:
            response.headers.setdefault("Permissions-Policy", self.header)
        return response


class FormCharsetMiddleware:
    """Answers a form POST that declares a charset other than UTF-8 with the 400 page, logged once.

    Django refuses such a body (BadRequest) whenever request.POST is read, but its error views
    (requires_csrf_token) read request.POST again and raise again: a 500 and a chain of tracebacks
    per request. Refusing here, before CSRF or a view reads the body, keeps it a plain 400.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # The same test as HttpRequest._load_post_and_files, the one that raises.
        if (
            request.method == "POST"
            and request.content_type == "application/x-www-form-urlencoded"
            and request.encoding is not None
            and request.encoding.lower() != "utf-8"
        ):
            # Rendered without the request, as Django's own error views do.
            response = HttpResponseBadRequest(loader.render_to_string("400.html"))
            # Django's logging of 4xx answers: it escapes the arguments and marks the response as
            # logged, so the handler adds no second line.
            log_response(
                "security.form_charset_refused charset=%s path=%s",
                request.encoding,
                request.path,
                response=response,
                request=request,
                logger=logger,
            )
            return response
        return self.get_response(request)


class AdminTwoFactorMiddleware:
    """With ADMIN_REQUIRE_2FA, a staff member without an authenticator app reaches no admin page:
    each is sent to set one up first (allauth.mfa), then back. The code itself is asked at every
    sign-in by allauth's login stage, for every account that has an authenticator."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.admin_prefix = "/" + settings.ADMIN_URL.lstrip("/")

    def __call__(self, request):
        if self._needs_setup(request):
            setup = reverse("mfa_activate_totp")
            return redirect(f"{setup}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)

    def _needs_setup(self, request) -> bool:
        user = getattr(request, "user", None)
        return (
            settings.ADMIN_REQUIRE_2FA
            and request.path.startswith(self.admin_prefix)
            and user is not None
            and user.is_authenticated
            and user.is_staff
            and not is_mfa_enabled(user, ["totp"])
        )
