import datetime
from decimal import Decimal

from allauth.account.adapter import get_adapter
from allauth.account.forms import LoginForm as AllauthLoginForm
from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms
from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from accounts import analytics, courier_details, coverage, emails, legal, phones, reminders, services
from accounts.models import COURIER_FIELDS, BouquetCategory, Delivery, LegalText, Profile

MAX_DAYS_AHEAD = 365
# AUTH_PASSWORD_VALIDATORS in one line, for every page that sets a password (Django lists each rule).
PASSWORD_RULE = _("At least 8 characters, not only digits, not a common password.")


class CategoryChoiceField(forms.ModelChoiceField):
    """Categories by slug (`bouquet_category=romantic`), labelled with their price."""

    def label_from_instance(self, obj: BouquetCategory) -> str:
        return gettext("%(name)s — %(price)s ₽ per bouquet") % {
            "name": obj.name,
            "price": number_format(obj.price, decimal_pos=0, use_l10n=True, force_grouping=True),
        }


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        # <input type="date"> only understands ISO dates, whatever the page's language.
        super().__init__(attrs=attrs, format="%Y-%m-%d")


def delivery_date_field(label: str) -> forms.DateField:
    return forms.DateField(
        label=label,
        input_formats=["%Y-%m-%d", "%d.%m.%Y"],
        widget=DateInput(),
        help_text=_("From today up to a year ahead."),
    )


def validate_delivery_date(value: datetime.date) -> datetime.date:
    today = timezone.localdate()
    if value < today:
        raise forms.ValidationError(_("The delivery date cannot be in the past."), code="past")
    if value > today + datetime.timedelta(days=MAX_DAYS_AHEAD):
        raise forms.ValidationError(_("The delivery date can be at most a year ahead."), code="too_far")
    return value


class PhoneField(forms.CharField):
    """A phone typed any usual way, cleaned to E.164 (+79001234567) and shown as +7 900 123-45-67."""

    widget = forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"})

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 32)
        super().__init__(**kwargs)

    def prepare_value(self, value):
        # A bound form re-renders what was typed; the stored E.164 value is shown formatted.
        return phones.formatted(value) if isinstance(value, str) and phones.is_e164(value) else value

    def clean(self, value) -> str:
        value = super().clean(value)
        if not value:
            return ""
        try:
            return phones.to_e164(value)
        except phones.InvalidPhone:
            raise forms.ValidationError(phones.INVALID_MESSAGE, code="phone") from None


PHONE_HELP = _("The courier calls it before bringing the flowers. For example, +7 900 123-45-67.")


class PreferenceFieldsMixin(forms.Form):
    """The bouquet preferences shared by signup and the preferences page."""

    bouquet_category = CategoryChoiceField(
        label=_("Bouquet category"),
        queryset=BouquetCategory.objects.filter(is_active=True),
        to_field_name="slug",
        widget=forms.RadioSelect,
        empty_label=None,
    )
    delivery_address = forms.CharField(
        label=_("Delivery address"),
        max_length=255,
        widget=forms.TextInput(attrs={"autocomplete": "street-address"}),
        help_text=_("City, street, house, flat: where the courier should bring the flowers."),
    )
    delivery_interval = forms.ChoiceField(
        label=_("Delivery interval"), choices=Profile.DeliveryInterval.choices, widget=forms.RadioSelect
    )
    wishes = forms.CharField(
        label=_("Wishes for the bouquets"),
        required=False,
        max_length=1000,
        strip=False,  # clean_wishes decides what whitespace goes
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("For example: more greenery, no roses. Up to 1000 characters."),
    )

    def clean_delivery_address(self) -> str:
        return " ".join(self.cleaned_data["delivery_address"].split())

    def clean_wishes(self) -> str:
        # Trailing whitespace and leading blank lines are slips of the keyboard. Leading spaces and
        # tabs stay as typed: stripping them would turn "\t=cmd" into a bare "=cmd" for every export
        # we do not control (the CRM's own); ours quotes both (accounts/spreadsheet.py).
        return self.cleaned_data["wishes"].rstrip().lstrip("\r\n")


class SignupForm(PreferenceFieldsMixin, AllauthSignupForm):
    """allauth's signup plus the bouquet preferences; the user and the profile are saved together."""

    # allauth's save_user stores `first_name` on the user: the greeting, and the CRM contact's name.
    first_name = forms.CharField(
        label=_("Your name"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
        help_text=_("How we greet you, and who the courier asks for."),
    )
    phone = PhoneField(label=_("Phone"), help_text=PHONE_HELP)
    first_delivery_date = delivery_date_field(_("First delivery date"))
    account_sum = forms.DecimalField(
        label=_("First invoice sum, ₽"),
        max_digits=10,
        decimal_places=2,
        min_value=Decimal("0"),
        localize=True,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
        help_text=_(
            "The sum of your first invoice: at least the price of one bouquet. "
            "You pay it after signing up; the balance grows once the payment is confirmed."
        ),
    )

    field_order = [
        "first_name",
        "phone",
        "email",
        "password1",
        "password2",
        "bouquet_category",
        "delivery_address",
        "first_delivery_date",
        "delivery_interval",
        "wishes",
        "account_sum",
        "consent",
    ]

    # 152-FZ art. 9: a separate consent, by its own box, never ticked in advance. The template
    # renders it with a link to the text (legal/consent.html), which is what the record hashes.
    consent = forms.BooleanField(
        label=_("I consent to the processing of my personal data"),
        required=True,
        error_messages={
            "required": _(
                "Without your consent to the processing of personal data we cannot open an account."
            )
        },
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # allauth lists every password validator here; one line reads better on a phone.
        self.fields["password1"].help_text = PASSWORD_RULE

    def clean_first_delivery_date(self) -> datetime.date:
        return validate_delivery_date(self.cleaned_data["first_delivery_date"])

    def clean_account_sum(self) -> Decimal:
        # Read when the form is cleaned, not at import (a max_value would freeze the setting).
        account_sum = self.cleaned_data["account_sum"]
        if account_sum > settings.SIGNUP_SUM_MAX:
            raise forms.ValidationError(
                _("The sum can be at most %(max)s ₽: for a larger one, write to us."),
                code="above_max",
                params={"max": number_format(settings.SIGNUP_SUM_MAX, decimal_pos=0, force_grouping=True)},
            )
        return account_sum

    def clean(self):
        cleaned_data = super().clean()
        category, account_sum = cleaned_data.get("bouquet_category"), cleaned_data.get("account_sum")
        if category and account_sum is not None and account_sum < category.price:
            self.add_error(
                "account_sum",
                forms.ValidationError(
                    _("The first invoice must cover at least one bouquet: %(price)s ₽."),
                    code="below_price",
                    params={
                        "price": number_format(
                            category.price, decimal_pos=2, use_l10n=True, force_grouping=True
                        )
                    },
                ),
            )
        return cleaned_data

    def try_save(self, request):
        """allauth's try_save, except that losing a race for the address (a double-clicked submit:
        another request created it after this form checked) answers with the form's usual "taken"
        error instead of a 500."""
        try:
            return super().try_save(request)
        except IntegrityError:
            email = self.cleaned_data["email"]
            if not get_user_model().objects.filter(email=email).exists():  # stored normalised
                raise  # some other constraint: not ours to explain
        self.add_error("email", get_adapter().validation_error("email_taken"))
        return None, TemplateResponse(request, "account/signup.html", {"form": self})

    def save(self, request):
        # One transaction: a failure while creating the profile leaves no user behind.
        with transaction.atomic():
            user = super().save(request)
            services.profile_create(
                user=user,
                bouquet_category=self.cleaned_data["bouquet_category"],
                delivery_address=self.cleaned_data["delivery_address"],
                first_delivery_date=self.cleaned_data["first_delivery_date"],
                delivery_interval=self.cleaned_data["delivery_interval"],
                wishes=self.cleaned_data["wishes"],
                invoice_amount=self.cleaned_data["account_sum"],
                phone=self.cleaned_data["phone"],
                referred_by=services.referrer_find(
                    referral_code=request.session.get(services.REFERRAL_SESSION_KEY)
                ),
            )
            legal.consent_record(user=user, kind=LegalText.Kind.CONSENT, request=request)
        request.session.pop(services.REFERRAL_SESSION_KEY, None)
        analytics.event_push(request, "sign_up", interval=self.cleaned_data["delivery_interval"])
        return user


class SetPasswordForm(auth_forms.SetPasswordForm):
    """Django's reset form, stating the password rule in one line as signup does."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].help_text = PASSWORD_RULE


class LoginForm(AllauthLoginForm):
    """allauth's login, looking the address up as it is stored (accounts.emails.normalize)."""

    def clean_login(self) -> str:
        return emails.normalize(super().clean_login())


class PreferencesForm(PreferenceFieldsMixin, forms.Form):
    """What a customer may change on the preferences page; never the account sum or status."""

    next_delivery_date = delivery_date_field(_("Next delivery date"))
    phone = PhoneField(label=_("Phone"), required=False, help_text=PHONE_HELP)  # see __init__
    wants_reminders = forms.BooleanField(
        label=_("Email me before each bouquet and when the balance runs low"),
        required=False,
        help_text=_("A reminder a few days before each delivery, with a link to skip it."),
    )
    wants_delivery_notices = forms.BooleanField(
        label=_("Email me when a delivery is moved, cancelled or delivered"),
        required=False,
        help_text=_("Emails about payments and your account always come."),
    )

    field_order = [
        "bouquet_category",
        "delivery_address",
        "next_delivery_date",
        "delivery_interval",
        "wishes",
        "phone",
        *COURIER_FIELDS,
        "wants_reminders",
        "wants_delivery_notices",
    ]

    def __init__(self, *args, profile: Profile, **kwargs):
        self.profile = profile
        # FormView always passes `initial` (empty by default): the profile's values come first.
        kwargs["initial"] = {
            "bouquet_category": profile.bouquet_category,
            "delivery_address": profile.delivery_address,
            "next_delivery_date": profile.next_delivery_on() or profile.schedule_next_on(),
            "delivery_interval": profile.delivery_interval,
            "wishes": profile.wishes,
            "phone": profile.phone,
            "wants_reminders": profile.wants_reminders,
            "wants_delivery_notices": profile.wants_delivery_notices,
            **{field: getattr(profile, field) for field in COURIER_FIELDS},
            **(kwargs.get("initial") or {}),
        }
        super().__init__(*args, **kwargs)
        # A phone once given stays (couriers call it, signup asks for it); a customer from before
        # signup asked is not blocked from saving the rest.
        self.fields["phone"].required = bool(profile.phone)
        self.fields["next_delivery_date"].help_text = _(
            "From %(day)s up to a year ahead: earlier days are with the couriers."
        ) % {"day": date_format(Delivery.first_open_on(), "j E")}
        self.fields.update(courier_fields())
        self.order_fields(self.field_order)
        # A category staff have retired stays selectable for the customers who already have it.
        self.fields["bouquet_category"].queryset = BouquetCategory.objects.filter(
            is_active=True
        ) | BouquetCategory.objects.filter(pk=profile.bouquet_category_id)
        # Each choice says what the balance would cover with it, before anything is saved.
        self.fields["bouquet_category"].label_from_instance = self._category_label

    def _category_label(self, category: BouquetCategory) -> str:
        label = CategoryChoiceField.label_from_instance(self.fields["bouquet_category"], category)
        covers = coverage.profile_coverage(self.profile, category=category)
        if covers.next_on is None:
            return label
        if not covers.count:
            return gettext("%(label)s: the balance covers no delivery") % {"label": label}
        return ngettext(
            "%(label)s: the balance covers %(count)s delivery, until %(day)s",
            "%(label)s: the balance covers %(count)s deliveries, until %(day)s",
            covers.count,
        ) % {"label": label, "count": covers.count, "day": date_format(covers.until, "j E")}

    def sections(self) -> list[tuple[str, list[forms.BoundField]]]:
        """The page's parts: the bouquet and the schedule, what the courier needs, which emails."""
        emails_wanted = ("wants_reminders", "wants_delivery_notices")
        return [
            ("", [f for f in self if f.name not in COURIER_FIELDS and f.name not in emails_wanted]),
            (gettext("For the courier"), [self[name] for name in COURIER_FIELDS]),
            (gettext("Emails"), [self[name] for name in emails_wanted]),
        ]

    def clean_next_delivery_date(self) -> datetime.date:
        value = validate_delivery_date(self.cleaned_data["next_delivery_date"])
        first_open = Delivery.first_open_on()
        # Left as shown, the date changes nothing; a new one before the cut-off would not be planned
        # (the couriers' list is out), so it is refused here rather than silently dropped.
        unchanged = {self.initial["next_delivery_date"], self.profile.schedule_next_on()}
        if value < first_open and value not in unchanged:
            raise forms.ValidationError(
                _("The next delivery can move to %(day)s or later: earlier days are with the couriers."),
                code="cutoff",
                params={"day": date_format(first_open, "j E")},
            )
        return value

    def save(self) -> Profile:
        data = {field: self.cleaned_data[field] for field in services.CUSTOMER_EDITABLE_FIELDS}
        profile = services.profile_update_preferences(
            profile=self.profile, data=data, next_delivery_date=self.cleaned_data["next_delivery_date"]
        )
        courier_details.profile_courier_details_set(
            profile=profile, data={field: self.cleaned_data[field] for field in COURIER_FIELDS}
        )
        return reminders.profile_reminders_set(
            profile=profile,
            wants=self.cleaned_data["wants_reminders"],
            wants_notices=self.cleaned_data["wants_delivery_notices"],
        )


def courier_fields(*, placeholders: dict[str, str] | None = None) -> dict[str, forms.Field]:
    """The courier details' form fields (the model's, the phone parsed as the customer's is); with
    `placeholders`, each shows the value used when it is left empty (a delivery's: the profile's)."""
    fields = forms.fields_for_model(Profile, fields=COURIER_FIELDS)
    fields["recipient_phone"] = PhoneField(label=fields["recipient_phone"].label, required=False)
    fields["recipient_name"].widget.attrs["autocomplete"] = "off"
    fields["courier_note"].widget = forms.Textarea(attrs={"rows": 2, "maxlength": 500})
    fields["recipient_name"].help_text = _("Empty: you.")
    fields["recipient_phone"].help_text = _("Empty: your phone.")
    fields["time_window"].choices = [("", _("Any time")), *Profile.TimeWindow.choices]
    for name, value in (placeholders or {}).items():
        if value:
            fields[name].widget.attrs["placeholder"] = value
    return fields


class DeliveryDetailsForm(forms.Form):
    """One delivery's own courier details; an empty field means "as usual" (the profile's)."""

    def __init__(self, *args, delivery: Delivery, **kwargs):
        profile = delivery.profile
        windows = dict(Delivery.TimeWindow.choices)
        usual = {field: str(getattr(profile, field)) for field in COURIER_FIELDS}
        usual["recipient_name"] = profile.recipient_name or profile.user.first_name
        usual["recipient_phone"] = phones.formatted(profile.recipient_phone or profile.phone)
        usual["time_window"] = str(windows.get(profile.time_window, ""))
        kwargs.setdefault("initial", {field: getattr(delivery, field) for field in COURIER_FIELDS})
        super().__init__(*args, **kwargs)
        self.fields.update(courier_fields(placeholders=usual))
        self.fields["time_window"].choices = [("", _("As usual")), *Delivery.TimeWindow.choices]

    def data_for_service(self) -> dict[str, str]:
        return {field: self.cleaned_data[field] for field in COURIER_FIELDS}


class ManagerMessageForm(forms.Form):
    """A message to the customer's manager (accounts.services.manager_message_send)."""

    MAX_LENGTH = 2000

    text = forms.CharField(
        label=_("Your message"),
        max_length=MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Your manager gets it as a task and answers by phone or email."),
    )


class PauseForm(forms.Form):
    """Pause the subscription until a date, or indefinitely when the date is left empty."""

    resume_on = forms.DateField(
        label=_("Resume on"),
        required=False,
        input_formats=["%Y-%m-%d", "%d.%m.%Y"],
        widget=DateInput(),
        help_text=_("Leave empty to pause until you resume yourself."),
    )

    def clean_resume_on(self) -> datetime.date | None:
        value = self.cleaned_data["resume_on"]
        if value is None:
            return None
        if value <= timezone.localdate():
            raise forms.ValidationError(_("The resume date must be in the future."), code="past")
        return validate_delivery_date(value)


class DeliveryMoveForm(forms.Form):
    """The new day for one delivery; the rules about which days are allowed are the service's."""

    delivery_on = forms.DateField(
        label=_("New date"), input_formats=["%Y-%m-%d", "%d.%m.%Y"], widget=DateInput()
    )


class AccountDeleteForm(forms.Form):
    """Deleting the account asks for the password: a session left open is not enough."""

    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args, user, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError(_("The password is not right."), code="wrong_password")
        return password
