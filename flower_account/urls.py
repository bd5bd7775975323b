"""Paths are a contract (tests and emails use them): /signup/, /login/, /login/code/, /logout/,
/forgot-password/, /reset-password/<uidb64>/<token>/, /account/, /account/preferences/,
/account/deliveries/skip/<token>/, /account/my-data/, /personal-data/consent/, /personal-data/policy/,
/cookies/, /account/2fa/ (allauth.mfa, staff), /<referral uuid>/, /healthz.

Only the allauth views the site uses are mounted, under allauth's own URL names, so there is one
login, one signup and one password-reset flow (Django's) and no unused allauth pages.
"""

from allauth.account import views as allauth_views
from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from accounts import login_code
from accounts import views as account_views
from accounts.models import LegalText
from flower_account import health

admin.site.site_header = _("Flower Account administration")
admin.site.site_title = _("Flower Account")
admin.site.index_title = _("Customers, subscriptions and amoCRM")
# Staff log in through the site's login (allauth's documented way), so its rate limits and the
# per-account lock guard the admin too; the admin's own form would call authenticate() unguarded.
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path(settings.ADMIN_URL, admin.site.urls),
    path("signup/", allauth_views.signup, name="account_signup"),
    path("login/", login_code.LoginView.as_view(), name="account_login"),
    path("login/code/", login_code.RequestLoginCodeView.as_view(), name="account_request_login_code"),
    path("login/code/confirm/", allauth_views.confirm_login_code, name="account_confirm_login_code"),
    path("logout/", allauth_views.logout, name="account_logout"),
    path("inactive/", allauth_views.account_inactive, name="account_inactive"),
    path("account/password/", allauth_views.password_change, name="account_change_password"),
    # Staff two-factor sign-in (allauth.mfa): the code page at login, the authenticator app's setup,
    # recovery codes; setting it up asks for the password again when the login is not recent.
    path("account/2fa/", include("allauth.mfa.urls")),
    path("account/reauthenticate/", allauth_views.reauthenticate, name="account_reauthenticate"),
    path("forgot-password/", account_views.PasswordResetView.as_view(), name="account_reset_password"),
    path(
        "forgot-password/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="registration/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "reset-password/<uidb64>/<token>/",
        account_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "reset-password/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="registration/password_reset_complete.html"
        ),
        name="password_reset_complete",
    ),
    path(
        "personal-data/consent/",
        account_views.LegalPageView.as_view(kind=LegalText.Kind.CONSENT, title=_("Consent to processing")),
        name="legal_consent",
    ),
    path(
        "personal-data/policy/",
        account_views.LegalPageView.as_view(kind=LegalText.Kind.PRIVACY, title=_("Privacy policy")),
        name="legal_privacy",
    ),
    path("cookies/", account_views.CookieChoiceView.as_view(), name="cookie_choice"),
    path("account/", include("accounts.urls")),
    path("amocrm/", include("amocrm.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("", account_views.HomeView.as_view(), name="home"),
    path("<uuid:referral_code>/", account_views.referral_landing, name="referral_landing"),
]
