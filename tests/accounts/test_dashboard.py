import calendar
import datetime
import re
from decimal import Decimal
from http import HTTPStatus
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import formats, timezone

from accounts import schedule
from accounts.forms import ManagerMessageForm, PauseForm
from accounts.models import Profile
from tests.accounts.helpers import page_text

pytestmark = pytest.mark.django_db


def _delivery_dates(response) -> list[str]:
    return re.findall(r'<time datetime="(\d{4}-\d{2}-\d{2})">', response.content.decode())


def test_account_page_sends_anonymous_visitors_to_login(client):
    response = client.get("/account/")

    assert response.status_code == HTTPStatus.FOUND
    assert response.url == "/login/?next=/account/"


def test_account_page_greets_the_customer_and_shows_the_login_email(customer_client, customer):
    response = customer_client.get("/account/")

    assert response.status_code == HTTPStatus.OK
    assert "Здравствуйте!" in page_text(response)
    assert customer.user.email in page_text(response)


def test_account_page_greets_the_customer_by_first_name_when_known(customer_client, customer):
    customer.user.first_name = "Анна"
    customer.user.save(update_fields=["first_name"])

    response = customer_client.get("/account/")

    assert "Здравствуйте, Анна!" in page_text(response)


@pytest.mark.parametrize(
    ("account_sum", "shown"),
    [("5000.00", "5 000,00 ₽"), ("1234567.5", "1 234 567,50 ₽"), ("0", "0,00 ₽"), ("999.99", "999,99 ₽")],
    ids=["thousands", "millions", "zero", "kopecks"],
)
def test_account_page_shows_the_sum_as_roubles_in_russian_format(client, profile_factory, account_sum, shown):
    profile = profile_factory(account_sum=Decimal(account_sum))
    client.force_login(profile.user)

    response = client.get("/account/")

    assert f'<p class="balance">{shown}</p>' in page_text(response)


@pytest.mark.parametrize(
    ("status", "label"),
    [("new", "новый"), ("active", "активен"), ("paused", "на паузе"), ("closed", "закрыт")],
    ids=["new", "active", "paused", "closed"],
)
def test_account_page_shows_the_status_in_russian(client, profile_factory, status, label):
    customer = profile_factory(paid=status != "new")  # "new" is a subscription not paid yet
    Profile.objects.filter(pk=customer.pk).update(account_status=status)  # staff set it in the admin
    client.force_login(customer.user)

    response = client.get("/account/")

    assert f'<span class="badge badge--{status}">{label}</span>' in page_text(response)


def test_account_page_shows_the_bouquet_preferences(client, profile_factory, category):
    profile = profile_factory(
        delivery_interval="monthly",
        wishes="Без роз\nБольше зелени",
        phone="+7 900 123-45-67",
        bouquet_category=category,
    )
    client.force_login(profile.user)

    text = page_text(client.get("/account/"))

    assert "<dd>Романтический</dd>" in text
    assert "<dd>Москва, ул. Ленина, 25, кв. 10</dd>" in text
    assert "<dd>1 раз в месяц</dd>" in text
    assert "<dd>Без роз<br>Больше зелени</dd>" in text
    assert "<dd>+7 900 123-45-67</dd>" in text


def test_account_page_escapes_what_the_customer_typed(client, profile_factory):
    profile = profile_factory(wishes="<script>alert(1)</script>")
    client.force_login(profile.user)

    text = page_text(client.get("/account/"))

    assert "<script>alert(1)" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


@pytest.mark.parametrize("interval", ["weekly", "biweekly", "monthly"])
@pytest.mark.parametrize("days_since_first", [-5, 0, 40, 400])
def test_account_page_lists_the_next_four_deliveries(client, profile_factory, interval, days_since_first):
    today = timezone.localdate()
    first = today - datetime.timedelta(days=days_since_first)
    profile = profile_factory(first_delivery_date=first, delivery_interval=interval)
    client.force_login(profile.user)

    response = client.get("/account/")

    expected = schedule.upcoming_deliveries(first, interval, today=today, limit=4)
    assert _delivery_dates(response) == [day.isoformat() for day in expected]
    assert expected[0] >= today


def test_account_page_monthly_deliveries_from_the_31st_fall_on_month_ends(client, profile_factory):
    today = timezone.localdate()
    first = datetime.date(today.year - 1, 1, 31)
    profile = profile_factory(first_delivery_date=first, delivery_interval="monthly")
    client.force_login(profile.user)

    shown = [datetime.date.fromisoformat(day) for day in _delivery_dates(client.get("/account/"))]

    assert shown == schedule.upcoming_deliveries(first, "monthly", today=today, limit=4)
    assert all(day.day == min(31, calendar.monthrange(day.year, day.month)[1]) for day in shown)
    assert any(day.day < 31 for day in shown)  # four months in a row always include a short one


def test_account_page_writes_delivery_dates_in_russian(client, profile_factory):
    first = timezone.localdate() + datetime.timedelta(days=1)
    profile = profile_factory(first_delivery_date=first, delivery_interval="weekly")
    client.force_login(profile.user)
    months = ["января", "февраля", "марта", "апреля", "мая", "июня"]
    months += ["июля", "августа", "сентября", "октября", "ноября", "декабря"]
    weekdays = ["понедельник", "вторник", "среда", "четверг", "пятница", "суббота", "воскресенье"]

    text = page_text(client.get("/account/"))

    assert f"{first.day} {months[first.month - 1]}, {weekdays[first.weekday()]}</time>" in text


def test_account_page_shows_the_referral_link(client, customer, settings):
    settings.SITE_URL = "https://flowers.example.ru"
    client.force_login(customer.user)

    response = client.get("/account/")

    assert f'value="https://flowers.example.ru/{customer.referral_code}/"' in page_text(response)
    assert 'data-copy-target="referral-link"' in page_text(response)


@pytest.mark.parametrize(
    ("referrals", "sentence"),
    [
        (0, "По вашей ссылке зарегистрировались 0 человек."),
        (1, "По вашей ссылке зарегистрировался 1 человек."),
        (2, "По вашей ссылке зарегистрировались 2 человека."),
    ],
    ids=["none", "one", "two"],
)
def test_account_page_counts_the_referrals(client, customer, profile_factory, referrals, sentence):
    for _ in range(referrals):
        profile_factory(referred_by=customer)
    profile_factory()  # someone who came on their own
    client.force_login(customer.user)

    assert sentence in page_text(client.get("/account/"))


def test_account_page_reads_each_customers_figures_anew_on_every_visit(client, profile_factory):
    """Item 11 (speed): the view annotates its profile queryset once, at import; every request
    still reads its own customer's balance and referral count as they are now."""
    anna, boris = profile_factory(), profile_factory()
    client.force_login(anna.user)
    assert "По вашей ссылке зарегистрировались 0 человек." in page_text(client.get("/account/"))

    profile_factory(referred_by=anna)
    Profile.objects.filter(pk=anna.pk).update(account_sum=Decimal("1234.50"))
    again = page_text(client.get("/account/"))
    client.force_login(boris.user)
    other = page_text(client.get("/account/"))

    assert "По вашей ссылке зарегистрировался 1 человек." in again
    assert "1 234,50" in again
    assert "По вашей ссылке зарегистрировались 0 человек." in other
    assert "1 234,50" not in other


def test_account_page_of_a_staff_user_without_a_profile_is_not_found(client, superuser):
    client.force_login(superuser)

    response = client.get("/account/")

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert "Страница не найдена" in page_text(response)


def test_account_page_query_count_is_small(
    customer_client, customer, profile_factory, django_assert_max_num_queries
):
    for _ in range(3):
        profile_factory(referred_by=customer)

    with django_assert_max_num_queries(6):
        response = customer_client.get("/account/")

    assert response.status_code == HTTPStatus.OK


def test_account_page_query_count_does_not_grow_with_referrals(customer_client, customer, profile_factory):
    with CaptureQueriesContext(connection) as without_referrals:
        customer_client.get("/account/")
    for _ in range(3):
        profile_factory(referred_by=customer)

    with CaptureQueriesContext(connection) as with_referrals:
        customer_client.get("/account/")

    assert len(with_referrals) == len(without_referrals)


def test_account_page_spells_delivery_dates_without_a_formatter_per_row(customer_client, customer):
    """Item 11 (speed): a delivery row spells its day, ISO date and weekday once, without Django's
    date formatter (one object and a format string parsed per call), not once per place it appears
    (the time tag, the buttons' labels, the move field, the courier details link); the rows are
    the costliest part of rendering the page. accounts/test_delivery_rows.py checks the words."""
    shown = customer.upcoming_deliveries(include_skipped=True)[:4]
    assert shown and any(delivery.can_skip for delivery in shown)
    calls: list[tuple[datetime.date, str]] = []
    real = formats.date_format

    def counting(value, format=None, use_l10n=None):
        calls.append((value, format))
        return real(value, format, use_l10n)

    with mock.patch.object(formats, "date_format", counting):
        response = customer_client.get("/account/")

    assert response.status_code == HTTPStatus.OK
    for delivery in shown:
        assert [calls.count((delivery.delivery_on, f)) for f in ("Y-m-d", "l")] == [0, 0], delivery
        # Only the balance card may name the same day through the `date` filter (until, the next one).
        assert calls.count((delivery.delivery_on, "j E")) <= 2, delivery
        assert f'datetime="{delivery.delivery_on.isoformat()}"' in response.content.decode()


def test_account_page_reads_the_user_once(customer_client):
    """Item 11 (speed): the session loads the user; the profile query does not join it again."""
    with CaptureQueriesContext(connection) as queries:
        response = customer_client.get("/account/")

    assert response.status_code == HTTPStatus.OK
    assert [q["sql"] for q in queries if '"accounts_user"' in q["sql"]] == [
        next(q["sql"] for q in queries if q["sql"].startswith('SELECT "accounts_user"'))
    ]


def test_account_page_writes_its_empty_forms_out_as_the_forms_would_render_them(customer_client):
    """Item 11 (speed): the pause and manager-message fields are written out in the template
    instead of through includes/field.html and the widgets' templates; what they print stays
    what the forms themselves render: the same label, help text and widget, names and ids."""
    page = customer_client.get("/account/").content.decode()

    for field in (PauseForm()["resume_on"], ManagerMessageForm(auto_id="id_message_%s")["text"]):
        assert str(field) in page  # the widget: name, id, type, maxlength, required, aria-describedby
        assert f'<label for="{field.id_for_label}">{field.label}' in page
        assert f'<p class="help" id="{field.auto_id}_helptext">{field.help_text}</p>' in page


def test_account_page_renders_only_the_templates_it_shows(customer_client):
    """Item 11 (speed): each template costs a lookup and a context push per visit; the page renders
    the messages' template only when there are messages, and no form-field or widget templates."""
    quiet = customer_client.get("/account/")
    customer_client.post("/account/pause/", {"resume_on": "not a date"})  # a message for the next page
    with_message = customer_client.get("/account/")

    # Django's templates only: the content is Jinja2's (accounts/dashboard_content.html).
    assert sorted(t.name for t in quiet.templates) == [
        "accounts/dashboard.html",
        "base.html",
        "includes/cutoff_note.html",
    ]
    assert "includes/messages.html" in [t.name for t in with_message.templates]
    assert 'class="message message--error"' in with_message.content.decode()
