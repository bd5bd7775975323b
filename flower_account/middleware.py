import re
import uuid

from django.conf import settings
from django.utils.cache import patch_cache_control

from flower_account.logging import request_id_var

# Accept a proxy's id only if it looks like one, so a client cannot inject text into the logs.
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


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
