from functools import partial
from uuid import UUID

from allauth.account.adapter import get_adapter
from allauth.core import ratelimit
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template import engines
from django.template.loader import render_to_string
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import FormView, TemplateView

from accounts import (
    analytics,
    courier_details,
    coverage,
    data_export,
    delivery_actions,
    emails,
    erasure,
    history,
    legal,
    progress,
    services,
    tasks,
)
from accounts.delivery_rows import card_tag, delivery_rows
from accounts.forms import (
    AccountDeleteForm,
    DeliveryDetailsForm,
    DeliveryMoveForm,
    ManagerMessageForm,
    PauseForm,
    PreferencesForm,
    SetPasswordForm,
)
from accounts.models import BouquetCategory, Delivery, Profile
from accounts.password_reset import PasswordResetForm
from flower_account import prepared


class HomeView(TemplateView):
    """The front page: what the subscription is, with today's prices."""

    template_name = "accounts/home.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(categories=BouquetCategory.objects.filter(is_active=True), **kwargs)


class LegalPageView(TemplateView):
    """The consent text or the privacy policy, rendered as a consent record would hash it."""

    template_name = "legal/page.html"
    kind: str = ""
    title = ""

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            document=legal.document_render(kind=self.kind), title=self.title, **kwargs
        )


class CookieChoiceView(View):
    """The cookie notice's answer (a form post, so no script is needed) and, by GET, the page to
    change it, linked from the footer."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not analytics.is_enabled():
            raise Http404
        context = {"consent": analytics.consent_of(request), "home_url": reverse("home")}
        return render(request, "legal/cookies.html", context)

    def post(self, request: HttpRequest) -> HttpResponse:
        if not analytics.is_enabled():
            raise Http404
        target = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            target = reverse("home")
        response = redirect(target)
        analytics.consent_remember(response, accepted=request.POST.get("choice") == "accept")
        return response


class ProfileMixin(LoginRequiredMixin):
    """The logged-in customer's own pages; their posts count against the per-customer action rate."""

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        # Only a signed-in customer's posts count; anyone else goes on to LoginRequiredMixin's redirect.
        if request.user.is_authenticated and request.method == "POST":
            too_many = ratelimit.consume_or_429(request, action="account_action", user=request.user)
            if too_many is not None:
                return too_many
        return super().dispatch(request, *args, **kwargs)

    # Every customer page reads the profile: its SQL is built once per process (flower_account.prepared).
    profiles = prepared.PreparedQuery(
        lambda user_id: Profile.objects.select_related("bouquet_category").filter(user_id=user_id)[:1],
        user_id=prepared.ID,
    )

    def get_profile(self) -> Profile:
        profile = self.profiles.first(user_id=self.request.user.pk)
        if profile is None:
            # Staff created in the admin have no subscription; they have nothing to show here.
            raise Http404(_("This account has no flower subscription."))
        # The session already loaded the user: joining it again costs SQL to build and columns to read.
        profile.user = self.request.user
        return profile


class DashboardView(ProfileMixin, TemplateView):
    template_name = "accounts/dashboard.html"

    # With what the page shows beside the profile: friends, rewards, the invoice awaiting payment.
    profiles = prepared.PreparedQuery(
        lambda user_id: (
            Profile.objects.select_related("bouquet_category")
            .with_referral_stats()
            .with_awaiting_sum()
            .filter(user_id=user_id)[:1]
        ),
        user_id=prepared.ID,
    )

    def get_context_data(self, **kwargs):
        profile = self.get_profile()
        history_page = history.page_get(
            profile=profile, number=self.request.GET.get("page"), per_page=settings.ACCOUNT_HISTORY_SHOWN
        )
        # One query for the list and for what the balance covers (the list shows the first few).
        loaded = profile.upcoming_deliveries(include_skipped=True, limit=coverage.MAX_COUNTED)
        upcoming = loaded[: settings.UPCOMING_DELIVERIES_SHOWN]
        locked, changes_from = delivery_actions.changes_reach(upcoming)
        rows, page_messages = delivery_rows(upcoming, messages=messages.get_messages(self.request))
        contact_notes = [m for m in page_messages if m.extra_tags == "contact"]  # shown in its block
        context = super().get_context_data(
            profile=profile,
            delivery_rows=rows,
            messages=[m for m in page_messages if m.extra_tags != "contact"],
            contact_notes=contact_notes,
            locked_deliveries=locked,
            changes_from=changes_from,
            payment_instructions=settings.PAYMENT_INSTRUCTIONS,
            coverage=coverage.profile_coverage(profile, upcoming=loaded),
            progress=progress.steps(profile=profile),
            history_page=history_page,
            # Shown twice (the deliveries' note, the preferences): a choice's label is looked up per call.
            delivery_interval=capfirst(profile.get_delivery_interval_display()),
            referral_count=profile.referral_count,
            rewards_count=profile.rewards_count,
            # Both forms are always empty here: the template writes them out from their fields.
            pause_field=PauseForm.base_fields["resume_on"],
            move_window=[day.isoformat() for day in delivery_actions.move_window()],
            skip_cutoff_days=settings.DELIVERY_SKIP_CUTOFF_DAYS,
            support=support_contacts(),
            message_field=ManagerMessageForm.base_fields["text"],
            **kwargs,
        )
        context["content"] = self.content_render(context)
        return context

    def content_render(self, context: dict) -> SafeString:
        """The page's content, by Jinja2 (flower_account/jinja2.py says why) inside base.html."""
        template = engines["jinja2"].get_template("accounts/dashboard_content.html")
        cutoff = {"locked_deliveries": context["locked_deliveries"], "changes_from": context["changes_from"]}
        return mark_safe(  # noqa: S308 (Jinja2 escaped every value: autoescape is on)
            template.render(
                {
                    **context,
                    "user": self.request.user,
                    "referral_reward": settings.REFERRAL_REWARD_AMOUNT,
                    # The note is a Django template the preferences page shares: rendered when shown.
                    "cutoff_note": partial(render_to_string, "includes/cutoff_note.html", cutoff),
                },
                self.request,
            )
        )


def support_contacts() -> dict[str, str]:
    """The contact block's ways to reach a manager (settings.SUPPORT_*), empty ones left out."""
    phone, telegram = settings.SUPPORT_PHONE, settings.SUPPORT_TELEGRAM.lstrip("@")
    whatsapp = "".join(c for c in settings.SUPPORT_WHATSAPP if c.isdigit())
    return {
        "phone": phone,
        "phone_href": "tel:" + "".join(c for c in phone if c.isdigit() or c == "+"),
        "email": settings.SUPPORT_EMAIL,
        "telegram": telegram,
        "telegram_href": f"https://t.me/{telegram}" if telegram else "",
        "whatsapp_href": f"https://wa.me/{whatsapp}" if whatsapp else "",
    }


class ManagerMessageView(ProfileMixin, View):
    """POST: the customer's message to their manager (rate-limited as every account action)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        profile = self.get_profile()
        form = ManagerMessageForm(request.POST)
        if form.is_valid():
            services.manager_message_send(profile=profile, text=form.cleaned_data["text"])
            messages.success(request, _("Your message is sent: your manager will answer soon."), "contact")
        else:
            messages.error(request, " ".join(form.errors["text"]), "contact")
        return redirect(reverse("accounts:dashboard") + "#contact")


class DeliveryActionView(ProfileMixin, View):
    """POST: an action on one of the customer's own deliveries (another customer's is a 404); what
    came of it is a message on the account page."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        profile = self.get_profile()
        delivery = get_object_or_404(Delivery, pk=pk, profile=profile)
        try:
            done = self.act(profile, delivery)
        except delivery_actions.DeliveryError as e:
            messages.error(request, str(e), extra_tags=card_tag(delivery.pk))
        else:
            messages.success(request, done, extra_tags=card_tag(delivery.pk))
        # Back to the card that changed, not the top of the page (a long scroll on a phone).
        return redirect(f"{reverse('accounts:dashboard')}#delivery-{delivery.pk}")

    def act(self, profile: Profile, delivery: Delivery) -> str:
        """Do it (DeliveryError when it cannot be done); the message that says it is done."""
        raise NotImplementedError


class DeliverySkipView(DeliveryActionView):
    def act(self, profile: Profile, delivery: Delivery) -> str:
        delivery_actions.delivery_skip(profile=profile, delivery_id=delivery.pk)
        analytics.event_push(self.request, "delivery_skip", delivery_on=delivery.delivery_on.isoformat())
        return _("The delivery on %(day)s is skipped.") % {"day": date_format(delivery.delivery_on, "j E")}


class DeliveryUnskipView(DeliveryActionView):
    def act(self, profile: Profile, delivery: Delivery) -> str:
        delivery_actions.delivery_unskip(profile=profile, delivery_id=delivery.pk)
        return _("The delivery on %(day)s is back on.") % {"day": date_format(delivery.delivery_on, "j E")}


class DeliveryMoveView(DeliveryActionView):
    def act(self, profile: Profile, delivery: Delivery) -> str:
        form = DeliveryMoveForm(self.request.POST)
        if not form.is_valid():
            raise delivery_actions.DeliveryError(" ".join(form.errors["delivery_on"]))
        new_date = form.cleaned_data["delivery_on"]
        delivery_actions.delivery_move(profile=profile, delivery_id=delivery.pk, new_date=new_date)
        return _("The delivery on %(day)s is moved to %(new_day)s.") % {
            "day": date_format(delivery.delivery_on, "j E"),
            "new_day": date_format(new_date, "j E"),
        }


class DeliveryDetailsView(ProfileMixin, View):
    """One delivery's own courier details: GET shows the form (its own page, so the account page
    renders no form per delivery), POST saves them and returns to the account page."""

    http_method_names = ["get", "post"]
    template_name = "accounts/delivery_details.html"

    def _delivery(self, pk: int) -> Delivery:
        profile = self.get_profile()
        delivery = get_object_or_404(Delivery, pk=pk, profile=profile)
        delivery.profile = profile  # loaded already: the form shows the usual values
        return delivery

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        delivery = self._delivery(pk)
        if not delivery.can_skip():  # with the couriers, or not coming: nothing to change
            return redirect("accounts:dashboard")
        return render(
            request,
            self.template_name,
            {"delivery": delivery, "form": DeliveryDetailsForm(delivery=delivery)},
        )

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        delivery = self._delivery(pk)
        form = DeliveryDetailsForm(request.POST, delivery=delivery)
        if not form.is_valid():
            return render(request, self.template_name, {"delivery": delivery, "form": form})
        try:
            courier_details.delivery_courier_details_set(
                profile=delivery.profile, delivery_id=delivery.pk, data=form.data_for_service()
            )
        except delivery_actions.DeliveryError as e:
            messages.error(request, str(e))
        else:
            day = date_format(delivery.delivery_on, "j E")
            messages.success(request, _("The courier details for %(day)s are saved.") % {"day": day})
        return redirect("accounts:dashboard")


class PauseView(ProfileMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        profile = self.get_profile()
        form = PauseForm(request.POST)
        if not form.is_valid():
            messages.error(request, " ".join(form.errors["resume_on"]))
            return redirect("accounts:dashboard")
        resume_on = form.cleaned_data["resume_on"]
        try:
            delivery_actions.profile_pause(profile=profile, resume_on=resume_on)
        except delivery_actions.DeliveryError as e:
            messages.error(request, str(e))
            return redirect("accounts:dashboard")
        analytics.event_push(
            request, "subscription_pause", resume_on=resume_on.isoformat() if resume_on else ""
        )
        if resume_on:
            messages.success(
                request,
                _("Your subscription is paused until %(day)s.") % {"day": date_format(resume_on, "j E Y")},
            )
        else:
            messages.success(request, _("Your subscription is paused until you resume it."))
        return redirect("accounts:dashboard")


class ResumeView(ProfileMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            delivery_actions.profile_resume(profile=self.get_profile())
        except delivery_actions.DeliveryError as e:
            messages.error(request, str(e))
        else:
            analytics.event_push(request, "subscription_resume")
            messages.success(request, _("Your subscription is resumed."))
        return redirect("accounts:dashboard")


class CloseView(ProfileMixin, TemplateView):
    """GET asks (saying which deliveries still come: past the cut-off), POST closes the subscription."""

    template_name = "accounts/close.html"

    def get_context_data(self, **kwargs):
        profile = self.get_profile()
        locked, _changes_from = delivery_actions.changes_reach(profile.upcoming_deliveries())
        return super().get_context_data(profile=profile, locked_deliveries=locked, **kwargs)

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            delivery_actions.profile_close(profile=self.get_profile())
        except delivery_actions.DeliveryError as e:
            messages.error(request, str(e))
        else:
            analytics.event_push(request, "subscription_close")
            messages.success(request, _("Your subscription is closed. You can start it again at any time."))
        return redirect("accounts:dashboard")


class ReopenView(ProfileMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            delivery_actions.profile_reopen(profile=self.get_profile())
        except delivery_actions.DeliveryError as e:
            messages.error(request, str(e))
        else:
            analytics.event_push(request, "subscription_reopen")
            messages.success(request, _("Your subscription is on again."))
        return redirect("accounts:dashboard")


class PreferencesView(ProfileMixin, FormView):
    template_name = "accounts/preferences.html"
    form_class = PreferencesForm
    success_url = reverse_lazy("accounts:dashboard")

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "profile": self.get_profile()}

    def get_context_data(self, **kwargs):
        locked, changes_from = delivery_actions.changes_reach(self.get_profile().upcoming_deliveries())
        return super().get_context_data(locked_deliveries=locked, changes_from=changes_from, **kwargs)

    def form_valid(self, form: PreferencesForm):
        form.save()
        analytics.event_push(self.request, "preferences_update")
        messages.success(self.request, _("Your preferences are saved."))
        return super().form_valid(form)


class MyDataView(LoginRequiredMixin, FormView):
    """The customer's data: the download, and deleting the account behind the password."""

    template_name = "accounts/my_data.html"
    form_class = AccountDeleteForm

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user}

    def get_context_data(self, **kwargs):
        consents = self.request.user.consents.select_related("text").order_by("created_at")
        return super().get_context_data(consents=consents, **kwargs)

    def form_valid(self, form: AccountDeleteForm):
        erasure.account_erase(user=self.request.user, request=self.request)
        messages.success(self.request, _("Your account is deleted. We have sent a confirmation by email."))
        return redirect("home")

    def post(self, request, *args, **kwargs):
        # Password guesses are limited like a password change (allauth's limiter, per user).
        if not ratelimit.consume(request, action="change_password", user=request.user):
            form = self.get_form()
            form.add_error(None, _("Too many attempts. Please wait a minute and try again."))
            return self.form_invalid(form)
        return super().post(request, *args, **kwargs)


class MyDataDownloadView(LoginRequiredMixin, View):
    """Everything the site holds about the customer, as one JSON file to keep."""

    def get(self, request: HttpRequest) -> HttpResponse:
        data = data_export.customer_data_export(user=request.user)
        response = JsonResponse(data, json_dumps_params={"ensure_ascii": False, "indent": 2})
        day = timezone.localdate().isoformat()
        response["Content-Disposition"] = f'attachment; filename="flower-account-my-data-{day}.json"'
        return response


def referral_landing(request: HttpRequest, referral_code: UUID) -> HttpResponse:
    """Remember who invited the visitor, then send them to the signup form."""
    referrer = get_object_or_404(Profile, referral_code=referral_code)
    request.session[services.REFERRAL_SESSION_KEY] = str(referrer.referral_code)
    return redirect("account_signup")


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset page; the mail goes from the worker (accounts.password_reset), so known and
    unknown emails get the same answer in the same time."""

    form_class = PasswordResetForm
    template_name = "registration/password_reset_form.html"
    success_url = reverse_lazy("password_reset_done")

    def form_valid(self, form: PasswordResetForm):
        # allauth's limiter, same cache and settings as login: per IP and per address.
        if not ratelimit.consume(
            self.request, action="reset_password", key=emails.normalize(form.cleaned_data["email"])
        ):
            form.add_error(None, _("Too many attempts. Please wait a minute and try again."))
            return self.form_invalid(form)
        # Enqueued for every valid address, known or not: the lookup happens in the task.
        transaction.on_commit(partial(tasks.password_reset_send.enqueue, email=form.cleaned_data["email"]))
        return redirect(self.get_success_url())


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "registration/password_reset_confirm.html"
    form_class = SetPasswordForm
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form: auth_forms.SetPasswordForm):
        response = super().form_valid(form)
        # As allauth's own reset flow does: wipe the failed-login counter, or a customer locked out by
        # failed logins still cannot log in with the password just set (for up to five minutes).
        get_adapter(self.request)._delete_login_attempts_cached_email(self.request, email=form.user.email)
        return response
