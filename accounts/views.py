from uuid import UUID

from allauth.account.adapter import get_adapter
from allauth.core import ratelimit
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse_lazy
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import FormView, TemplateView

from accounts import analytics, history, payments, progress, services
from accounts.forms import PauseForm, PreferencesForm
from accounts.models import BouquetCategory, Delivery, Profile


class HomeView(TemplateView):
    """The front page: what the subscription is, with today's prices."""

    template_name = "accounts/home.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(categories=BouquetCategory.objects.filter(is_active=True), **kwargs)


class ProfileMixin(LoginRequiredMixin):
    def get_profile(self) -> Profile:
        try:
            return Profile.objects.select_related("user", "bouquet_category").get(user=self.request.user)
        except Profile.DoesNotExist:
            # Staff created in the admin have no subscription; they have nothing to show here.
            raise Http404(_("This account has no flower subscription.")) from None


class DashboardView(ProfileMixin, TemplateView):
    template_name = "accounts/dashboard.html"

    def get_profile(self) -> Profile:
        try:
            return (
                Profile.objects.with_referral_stats()
                .annotate(awaiting_sum=payments.awaiting_sum_expression())
                .select_related("user", "bouquet_category")
                .get(user=self.request.user)
            )
        except Profile.DoesNotExist:
            raise Http404(_("This account has no flower subscription.")) from None

    def get_context_data(self, **kwargs):
        profile = self.get_profile()
        history_page = history.page_get(
            profile=profile, number=self.request.GET.get("page"), per_page=settings.ACCOUNT_HISTORY_SHOWN
        )
        return super().get_context_data(
            profile=profile,
            upcoming_deliveries=profile.upcoming_deliveries(include_skipped=True),
            payment_instructions=settings.PAYMENT_INSTRUCTIONS,
            progress=progress.steps(profile=profile, awaiting_sum=profile.awaiting_sum),
            history_page=history_page,
            referral_count=profile.referral_count,
            rewards_count=profile.rewards_count,
            pause_form=PauseForm(),
            skip_cutoff_days=settings.DELIVERY_SKIP_CUTOFF_DAYS,
            **kwargs,
        )


class DeliverySkipView(ProfileMixin, View):
    """POST: skip one of the customer's own upcoming deliveries (another customer's is a 404)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        profile = self.get_profile()
        delivery = get_object_or_404(Delivery, pk=pk, profile=profile)
        try:
            services.delivery_skip(profile=profile, delivery_id=delivery.pk)
        except services.DeliveryError as e:
            messages.error(request, str(e))
        else:
            analytics.event_push(request, "delivery_skip", delivery_on=delivery.delivery_on.isoformat())
            messages.success(
                request,
                _("The delivery on %(day)s is skipped.") % {"day": date_format(delivery.delivery_on, "j E")},
            )
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
            services.profile_pause(profile=profile, resume_on=resume_on)
        except services.DeliveryError as e:
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
            services.profile_resume(profile=self.get_profile())
        except services.DeliveryError as e:
            messages.error(request, str(e))
        else:
            analytics.event_push(request, "subscription_resume")
            messages.success(request, _("Your subscription is resumed."))
        return redirect("accounts:dashboard")


class PreferencesView(ProfileMixin, FormView):
    template_name = "accounts/preferences.html"
    form_class = PreferencesForm
    success_url = reverse_lazy("accounts:dashboard")

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "profile": self.get_profile()}

    def form_valid(self, form: PreferencesForm):
        form.save()
        analytics.event_push(self.request, "preferences_update")
        messages.success(self.request, _("Your preferences are saved."))
        return super().form_valid(form)


def referral_landing(request: HttpRequest, referral_code: UUID) -> HttpResponse:
    """Remember who invited the visitor, then send them to the signup form."""
    referrer = get_object_or_404(Profile, referral_code=referral_code)
    request.session[services.REFERRAL_SESSION_KEY] = str(referrer.referral_code)
    return redirect("account_signup")


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset flow with our templates; known and unknown emails get the same answer."""

    form_class = auth_forms.PasswordResetForm
    template_name = "registration/password_reset_form.html"
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")

    def form_valid(self, form: auth_forms.PasswordResetForm):
        # allauth's limiter, same cache and settings as login: per IP and per address.
        if not ratelimit.consume(
            self.request, action="reset_password", key=form.cleaned_data["email"].lower()
        ):
            form.add_error(None, _("Too many attempts. Please wait a minute and try again."))
            return self.form_invalid(form)
        self.extra_email_context = {"site_url": settings.SITE_URL}
        response = super().form_valid(form)
        services.password_reset_requested(email=form.cleaned_data["email"])
        return response


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form: auth_forms.SetPasswordForm):
        response = super().form_valid(form)
        # As allauth's own reset flow does: wipe the failed-login counter, or a customer locked out by
        # failed logins still cannot log in with the password just set (for up to five minutes).
        get_adapter(self.request)._delete_login_attempts_cached_email(self.request, email=form.user.email)
        return response
