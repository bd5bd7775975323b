"""Sign-in by a code sent by email (allauth's login by code): the way in nobody can lock.

A stranger who knows an address can fail passwords for it, but cannot read its mailbox, so the code
is the owner's way in whatever the password locks say (docs/security.md). It therefore answers to
neither password lock. Its own limits: code requests per IP and per (client IP, address)
(ACCOUNT_RATE_LIMITS["request_login_code"]; allauth keys the latter by the address alone, which a
stranger could use up for the owner), and three guesses per code, after which the code is dead
(ACCOUNT_LOGIN_BY_CODE_MAX_ATTEMPTS). A code is eight letters from twenty: three guesses in 2.6e10.
The answers are the same for known and unknown addresses, and so is the work behind them: the
request enqueues one task for either, and the worker looks the address up and mails the code
(LoginCodeProcess, accounts.login_code_mail), so the answer's time cannot tell them apart either.
"""

from typing import Any

from allauth.account import app_settings
from allauth.account import forms as allauth_forms
from allauth.account import views as allauth_views
from allauth.account.adapter import get_adapter
from allauth.account.internal.flows.login_by_code import LoginCodeVerificationProcess
from allauth.account.internal.stagekit import clear_login, get_pending_stage
from allauth.account.internal.userkit import filter_users_by_email  # the lookup allauth's form makes
from allauth.account.models import Login
from allauth.account.stages import LoginByCodeStage, LoginStage, LoginStageController
from allauth.core import context, ratelimit
from django.http import HttpRequest, HttpResponse
from django.views.generic.edit import FormView

from accounts import tasks
from accounts.adapters import client_address_key

# The django-allauth whose LoginCodeVerificationProcess.initiate LoginCodeProcess.initiate copies;
# tests/accounts/test_login_code.py fails on another version, so an upgrade re-reads allauth's first.
UPSTREAM = "65.21.1"


class RequestLoginCodeForm(allauth_forms.RequestLoginCodeForm):
    def clean_email(self) -> str:
        """allauth's clean_email, with the address normalised first and the limit per (IP, address)."""
        adapter = get_adapter()
        email = self.cleaned_data["email"]
        if not email:
            return email
        # allauth's form skips the adapter's clean_email: normalise and refuse look-alikes here, as
        # signup and the password login do, before the address is looked up, counted or mailed.
        email = adapter.clean_email(email)
        users = filter_users_by_email(email, is_active=True, prefer_verified=True, for_login=True)
        if not app_settings.PREVENT_ENUMERATION and not users:
            raise adapter.validation_error("unknown_email")
        request = context.request
        if not ratelimit.consume(
            request, action="request_login_code", key=client_address_key(request, email)
        ):
            raise adapter.validation_error("too_many_login_attempts")
        self._user = users[0] if users else None
        return email


class LoginCodeProcess(LoginCodeVerificationProcess):
    """allauth's code process with its email left to the worker, for known and unknown alike.

    allauth renders and queues the email in the request for a known address and does nothing for an
    unknown one: the email's INSERT and its task's were the known address's alone, 3 to 9 ms on
    PostgreSQL (docs/email.md). Here both enqueue the same task with the same arguments: the
    address and a code, which for an unknown address is kept nowhere and checks nothing.
    """

    @classmethod
    def initiate(
        cls,
        *,
        request: HttpRequest,
        user: Any,
        email: str | None = None,
        phone: str | None = None,
        stage=None,
    ) -> LoginCodeVerificationProcess:
        """allauth's initiate (UPSTREAM), word for word but for the class: allauth's names its own."""
        initial_state = cls.initial_state(user=user, email=email, phone=phone)
        initial_state["initiated_by_user"] = stage is None
        if not stage:
            login = Login(user=user, email=email)
            login.state["stages"] = {"current": "login_by_code"}
            stage = LoginByCodeStage(LoginStageController(request, login), request, login)
        stage.state.update(initial_state)
        process = cls(stage=stage)
        process.send()
        process.persist()
        return process

    def send_by_email(self, email: str, skip_enumeration_mails: bool = False) -> None:
        code = self.generate_code() if self.user else get_adapter().generate_login_code()
        # Enqueued now, not on commit: the task reads no row of this request (it is given all it
        # needs), and the request runs in autocommit, so this INSERT is its one write but the session.
        tasks.login_code_send.enqueue(email=email, code=code)
        self.add_sent_message({"email": email, "recipient": email})


def pending_code_address(request: HttpRequest) -> str | None:
    """The address a code was asked for in this session and not yet used, or None."""
    stage = get_pending_stage(request)
    if stage is None or stage.key != LoginByCodeStage.key:
        return None
    return stage.state.get("email") or ""


class LeaveCodeLoginMixin:
    """allauth sends every sign-in page back to "Enter the code" while a code is pending (five
    minutes), so a mistyped address trapped the customer; the password and the address form stay open."""

    def _redirect_to_pending_stage(self, request: HttpRequest, stage: LoginStage) -> HttpResponse | None:
        if stage.key == LoginByCodeStage.key:
            return None
        return super()._redirect_to_pending_stage(request, stage)  # type: ignore[misc]


class LoginView(LeaveCodeLoginMixin, allauth_views.LoginView):
    pass


class RequestLoginCodeView(LeaveCodeLoginMixin, allauth_views.RequestLoginCodeView):
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """Coming back here ("Change the address") drops the pending code, its address typed in again."""
        self.pending_address = pending_code_address(request)
        if self.pending_address is not None:
            clear_login(request)
        return super().get(request, *args, **kwargs)

    def form_valid(self, form: RequestLoginCodeForm) -> HttpResponse:
        """allauth's form_valid with our process: the redirect of FormView, past allauth's own
        form_valid, which would start allauth's process (and mail in the request) a second time."""
        LoginCodeProcess.initiate(request=self.request, user=form._user, email=form.cleaned_data["email"])
        return FormView.form_valid(self, form)

    def get_initial(self) -> dict[str, Any]:
        initial = super().get_initial()
        if getattr(self, "pending_address", None):
            initial["email"] = self.pending_address
        return initial
