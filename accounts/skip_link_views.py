"""The reminder email's skip link (accounts.skip_links): no login, the link itself is the key."""

from http import HTTPStatus

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View

from accounts import delivery_actions, skip_links


class DeliverySkipLinkView(View):
    """The reminder email's "skip this one" link: the token goes into the session and the browser on
    to the token-free page at once, so nothing (no tag manager either) renders with it in the address."""

    http_method_names = ["get", "head"]

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        request.session[skip_links.SESSION_KEY] = token
        return redirect("accounts:delivery_skip_confirm")


class DeliverySkipConfirmView(View):
    """The skip link's page: GET asks, POST skips; no login, the link (now in the session) is the key.

    A bad, expired or used link gets a page that says so, never an error page."""

    http_method_names = ["get", "post"]
    template_name = "accounts/skip_link.html"
    status_by_problem = {
        skip_links.Problem.INVALID: HTTPStatus.BAD_REQUEST,
        skip_links.Problem.EXPIRED: HTTPStatus.GONE,
        skip_links.Problem.GONE: HTTPStatus.GONE,
        skip_links.Problem.USED: HTTPStatus.OK,
    }

    def get(self, request: HttpRequest) -> HttpResponse:
        try:
            delivery = skip_links.delivery_for(self._token())
        except skip_links.LinkError as e:
            return self._problem(e)
        return render(request, self.template_name, {"delivery": delivery})

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            skip_links.delivery_skip_by_link(token=self._token())
        except skip_links.LinkError as e:
            return self._problem(e)
        except delivery_actions.DeliveryError as e:  # changed between the check and the lock
            return render(request, self.template_name, {"error": str(e)}, status=HTTPStatus.CONFLICT)
        return redirect(request.path)  # now a used link: the page says the delivery is skipped

    def _token(self) -> str:
        return self.request.session.get(skip_links.SESSION_KEY, "")

    def _problem(self, error: skip_links.LinkError) -> HttpResponse:
        context = {"problem": str(error.problem), "delivery": error.delivery}
        return render(self.request, self.template_name, context, status=self.status_by_problem[error.problem])
