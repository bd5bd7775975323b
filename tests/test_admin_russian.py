"""The admin in Russian for staff (issue 28 item 6): every list and change page, with a working
day's rows in every table, shows no English left over, no "None", no UTC times with microseconds;
permissions, note kinds and invoice states by their Russian names; Russian plurals; money as
"2 500,00 ₽"; customers first in the app list and amoCRM's plumbing last."""

import datetime
import json
import re
from decimal import Decimal
from html import unescape
from http import HTTPStatus

import pytest
from allauth.mfa.models import Authenticator
from cryptography.fernet import Fernet
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import ngettext

from accounts import delivery_actions, formatting, payments
from accounts.models import BouquetCategory, Delivery, Invoice, Profile
from amocrm.control import CircuitBreaker
from amocrm.models import (
    AmoCRMAccount,
    CustomField,
    CustomFieldEnum,
    LeadNote,
    LeadSync,
    LeadTask,
    OAuthToken,
    ReconcileCursor,
    WebhookEvent,
)
from emails.models import Email

pytestmark = pytest.mark.django_db

# Latin words staff may read on an admin page: names of products and standards, settings, and the
# codes the fixture's rows hold (slugs, amoCRM's field type, the account's subdomain, a time zone).
ALLOWED = {
    *["Flower", "Account", "amoCRM", "CRM", "MFA", "OAuth", "CSV", "TOTP", "WebAuthn"],
    *["SHA", "IP", "ID", "URL", "Unix", "email", "Email"],
    *["Control", "Command", "Mac"],  # Django's hint under a multiple select: "Удерживайте Control…"
    *["romantic", "luxe", "seasonal", "slug", "select", "flowers", "Europe", "Moscow"],
    *["xlsx", "Excel"],  # the couriers' file
    *["amocrm", "conftest"],  # the breaker's name; who confirmed the fixture's payment
}
MONTHS_NOMINATIVE = "Январь|Февраль|Март|Апрель|Май|Июнь|Июль|Август|Сентябрь|Октябрь|Ноябрь|Декабрь"


@pytest.fixture
def staff_day(profile_factory, superuser, settings):
    """A working day's rows in every table the admin lists."""
    settings.AMOCRM_TOKEN_KEYS = [Fernet.generate_key().decode()]
    token = OAuthToken(base_url="https://flowers.amocrm.ru")
    token.set_tokens(access_token="access", refresh_token="refresh", expires_in=86400)
    token.save()
    today = timezone.localdate()
    anna = profile_factory(first_delivery_date=today, phone="+79001234567")
    boris = profile_factory(first_delivery_date=today + datetime.timedelta(days=1), paid=False)
    delivery_actions.delivery_complete(delivery_id=anna.deliveries.get(delivery_on=today).pk)
    payments.invoice_issue(profile=anna, amount=Decimal("2500"))
    cancelled = payments.invoice_issue(profile=anna, amount=Decimal("1200"))
    Invoice.objects.filter(pk=cancelled.pk).update(status=Invoice.Status.CANCELLED)
    LeadSync.objects.update_or_create(
        profile=boris,
        defaults={
            "status": LeadSync.Status.FAILED,
            "attempts": 3,
            "next_attempt_at": timezone.now(),
            "last_error": "amoCRM отклонил поле «телефон»",
            # As mapping.lead_state keeps it: the lead's own fields, then amoCRM's items per field.
            "synced_values": {
                "name": "Подписка boris@example.ru",
                "price": 5000,
                "account_sum": {"field_id": 1, "values": [{"value": "5000.00"}]},
                "bouquet_category": {"field_id": 2, "values": [{"enum_id": 8}]},
                "delivery_date": {"field_id": 3, "values": [{"value": 1796331600}]},  # 4.12.2026 00:00 MSK
                "delivery_interval": {"field_id": 5, "values": [{"enum_id": 7}]},
                "wishes": {"field_id": 4, "values": [{"value": "Пионы"}]},
                "referral_url": {"field_id": 6, "values": None},
                "status_id": None,
            },
        },
    )
    LeadNote.objects.create(
        profile=anna, action="delivery_completed", text="Доставлено", lead_id=1, note_id=2
    )
    LeadNote.objects.create(profile=anna, action="paused", text="Пауза")
    LeadTask.objects.create(profile=anna, text="Позвоните мне", complete_till=timezone.now())
    WebhookEvent.objects.create(
        dedupe_key="k1",
        action="update",
        lead_id=1,
        status=WebhookEvent.Status.PROCESSED,
        changes=["wishes"],
        dropped=[{"field": "wishes", "crm_changed_at": timezone.now().isoformat(), "site_changed_at": None}],
    )
    Email.objects.create(
        recipients="anna@example.ru", subject="Код входа", message={}, next_attempt_at=timezone.now()
    )
    AmoCRMAccount.objects.create(account_id=1, subdomain="flowers", name="Цветы", checked_at=timezone.now())
    CircuitBreaker.objects.create(name="amocrm")
    ReconcileCursor.objects.create(entity="leads", watermark=1_800_000_000)
    field = CustomField.objects.create(
        key="delivery_interval", field_id=5, field_type="select", name="Интервал"
    )
    CustomFieldEnum.objects.create(field=field, key="weekly", enum_id=7, value="Раз в неделю")
    categories = CustomField.objects.create(
        key="bouquet_category", field_id=2, field_type="select", name="Букет"
    )
    CustomFieldEnum.objects.create(field=categories, key="romantic", enum_id=8, value="Романтический")
    Authenticator.objects.create(user=superuser, type=Authenticator.Type.TOTP, data={})
    group = Group.objects.create(name="Флористы")
    group.permissions.set(Permission.objects.filter(codename__in=["view_delivery", "change_delivery"]))
    group.user_set.add(anna.user)  # its delete page lists the membership
    return {"anna": anna, "boris": boris, "group": group}


def admin_pages() -> list[str]:
    """The index, each app's page, and each list with its add page and its first row's change,
    history and delete pages (Django answers those it does not offer with a redirect or a 403)."""
    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        opts = model._meta
        name = f"admin:{opts.app_label}_{opts.model_name}"
        urls += [reverse("admin:app_list", args=[opts.app_label]), reverse(f"{name}_changelist")]
        urls.append(reverse(f"{name}_add"))
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            urls += [reverse(f"{name}_{page}", args=[first.pk]) for page in ("change", "history", "delete")]
    # Pages of the site's own: the deliveries sheet (cancelled rows hidden, then shown) and an
    # invoice's payment page.
    urls += [reverse("admin:accounts_delivery_sheet") + query for query in ("", "?cancelled=1")]
    urls.append(reverse("admin:accounts_invoice_pay", args=[Invoice.objects.order_by("pk").last().pk]))
    return list(dict.fromkeys(urls))


def visible_text(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.DOTALL)
    text = unescape(re.sub(r"<[^>]+>", " ", html))
    # Values, not words: addresses, links, ids, the password's masked hash ("md5", "b8Xq******").
    text = re.sub(r"\S+@\S+|https?://\S+|[0-9a-f]{8}-[0-9a-f-]{27}|AMOCRM_[A-Z_]+", " ", text)
    text = re.sub(r"\bmd5\b|\S*\*{4,}\S*", " ", text)
    return " ".join(text.split())


def english_leftovers(client) -> dict[str, list[str]]:
    """What each admin page the crawl opens shows that is not Russian, by URL."""
    leftovers = {}
    for url in admin_pages():
        response = client.get(url)
        if response.status_code != HTTPStatus.OK:
            assert response.status_code in (HTTPStatus.FOUND, HTTPStatus.FORBIDDEN), url
            continue
        html = response.content.decode()
        text = visible_text(html)
        found = {w for w in re.findall(r"[A-Za-z][A-Za-z_]+", text) if w not in ALLOWED}
        found |= {"---------"} if "---------" in html else set()  # Django's old empty choice
        found |= set(re.findall(r"\bNone\b|\d\d:\d\d:\d\d|\d{4}-\d\d-\d\d", text))
        found |= set(re.findall(rf"\d+ (?:{MONTHS_NOMINATIVE})", text))
        if found:
            leftovers[url] = sorted(found)
    return leftovers


def test_every_admin_page_reads_in_russian(superuser_client, staff_day):
    leftovers = english_leftovers(superuser_client)

    assert leftovers == {}, "\n".join(f"{url}: {words}" for url, words in leftovers.items())


def test_every_admin_page_reads_in_russian_to_staff_who_may_only_view(client, user_factory, staff_day):
    viewer = user_factory(email="viewer@example.ru", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    client.force_login(viewer)

    leftovers = english_leftovers(client)

    assert leftovers == {}, "\n".join(f"{url}: {words}" for url, words in leftovers.items())


def test_the_day_has_rows_in_every_list_the_crawl_opens(staff_day):
    empty = [model._meta.label for model in admin.site._registry if not model._default_manager.exists()]

    assert empty == []


def test_permissions_are_named_in_russian(superuser_client, staff_day):
    page = superuser_client.get(reverse("admin:auth_group_change", args=[staff_day["group"].pk]))
    text = visible_text(page.content.decode())

    assert "Клиенты | доставка | Может изменять" in text
    assert "amoCRM | OAuth-токен amoCRM | Может подключать amoCRM" in text
    assert "Очередь задач | задача в очереди | Может просматривать" in text
    assert "Can " not in text


def test_the_permission_picker_offers_nothing_for_the_history_line(superuser_client, staff_day):
    """accounts.HistoryLine only shapes the history query's rows: no admin, no table, nothing to grant."""
    page = superuser_client.get(reverse("admin:auth_group_change", args=[staff_day["group"].pk]))

    assert "строка истории" not in visible_text(page.content.decode())
    assert not Permission.objects.filter(content_type__model="historyline").exists()


def test_the_action_select_offers_its_empty_choice_in_russian(superuser_client, staff_day):
    text = visible_text(superuser_client.get(reverse("admin:accounts_profile_changelist")).content.decode())

    assert "Действие: — выберите —" in text
    assert "Select an option" not in text


def test_note_kinds_and_webhook_events_show_their_names(superuser_client, staff_day):
    notes = visible_text(superuser_client.get(reverse("admin:amocrm_leadnote_changelist")).content.decode())
    note = LeadNote.objects.get(action="paused")
    note_page = superuser_client.get(reverse("admin:amocrm_leadnote_change", args=[note.pk]))
    event = WebhookEvent.objects.get()
    event_page = superuser_client.get(reverse("admin:amocrm_webhookevent_change", args=[event.pk]))

    assert "доставка выполнена" in notes and "delivery_completed" not in notes
    assert "подписка на паузе" in visible_text(note_page.content.decode())
    event_text = visible_text(event_page.content.decode())
    assert "Событие: изменение" in event_text and "пожелания к букетам" in event_text


def test_the_values_sent_to_amocrm_read_as_staff_know_them(superuser_client, staff_day):
    sync = LeadSync.objects.get(profile=staff_day["boris"])

    page = superuser_client.get(reverse("admin:amocrm_leadsync_change", args=[sync.pk]))
    text = visible_text(page.content.decode())

    assert "Дата доставки: 4 декабря 2026" in text
    assert "Интервал доставки: 1 раз в неделю" in text
    assert "Категория букета: Романтический" in text
    assert "Пожелания к букетам: Пионы" in text and "Реферальная ссылка: —" in text
    assert "Бюджет сделки: 5\xa0000,00\xa0₽" in unescape(page.content.decode())
    assert "weekly" not in text and "delivery_date" not in text and "enum_id" not in text


def test_a_date_sent_to_amocrm_reads_in_the_accounts_time_zone(superuser_client, staff_day):
    """The sync sends a date as its midnight in the account's zone (mapping, values.date_to_timestamp);
    read in the site's zone, Yekaterinburg's midnight of 4 December is 22:00 on the 3rd in Moscow."""
    AmoCRMAccount.objects.update(timezone="Asia/Yekaterinburg")
    sync = LeadSync.objects.get(profile=staff_day["boris"])
    sync.synced_values["delivery_date"] = {"field_id": 3, "values": [{"value": 1796324400}]}
    sync.save(update_fields=["synced_values"])

    page = superuser_client.get(reverse("admin:amocrm_leadsync_change", args=[sync.pk]))

    assert "Дата доставки: 4 декабря 2026" in visible_text(page.content.decode())


def test_nothing_shows_as_a_dash_and_times_as_local_minutes(superuser_client, staff_day):
    boris = staff_day["boris"]
    sync = LeadSync.objects.get(profile=boris)
    page = superuser_client.get(reverse("admin:accounts_profile_change", args=[boris.pk]))
    text = visible_text(page.content.decode())

    local = timezone.localtime(sync.next_attempt_at)
    assert re.search(rf"Следующая попытка:? {formats.date_format(local, 'j E Y, H:i')}", text)
    assert re.search(r"Время синхронизации:? —", text)
    assert "None" not in text


def test_a_moment_is_written_the_russian_way():
    moment = datetime.datetime(2026, 12, 4, 11, 5, 7, 123456, tzinfo=datetime.UTC)

    assert formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT") == "4 декабря 2026, 14:05"
    assert formatting.moment(moment) == "4 декабря 2026, 14:05"  # what the admin's columns show
    assert formats.date_format(moment.date(), "MONTH_DAY_FORMAT") == "4 декабря"


def test_the_date_hierarchy_names_days_in_the_genitive(superuser_client, staff_day):
    today = timezone.localdate()
    url = reverse("admin:accounts_delivery_changelist")
    query = f"?delivery_on__year={today.year}&delivery_on__month={today.month}"

    text = visible_text(superuser_client.get(url + query).content.decode())

    assert formats.date_format(today, "j E") in text
    assert not re.search(rf"\d+ (?:{MONTHS_NOMINATIVE})", text)


@pytest.mark.parametrize(
    ("count", "said"),
    [(1, "1 доставка отмечена"), (3, "3 доставки отмечены"), (26, "26 доставок отмечено")],
)
def test_marking_deliveries_says_how_many_in_russian(superuser_client, profile_factory, count, said):
    today = timezone.localdate()
    ids = [
        profile_factory(first_delivery_date=today).deliveries.get(delivery_on=today).pk for _ in range(count)
    ]

    response = superuser_client.post(
        reverse("admin:accounts_delivery_changelist"),
        {"action": "mark_delivered", "_selected_action": ids},
        follow=True,
    )

    assert said in [str(m) for m in response.context["messages"]][0]
    assert Delivery.objects.filter(status=Delivery.Status.DELIVERED).count() == count


@pytest.mark.parametrize(("count", "said"), [(1, "1 доставка"), (3, "3 доставки"), (26, "26 доставок")])
def test_the_count_under_a_list_agrees_with_the_number(superuser_client, profile_factory, count, said):
    for _ in range(count):
        profile_factory(first_delivery_date=timezone.localdate())

    page = superuser_client.get(reverse("admin:accounts_delivery_changelist") + "?day=today")
    footer = re.search(r'<nav class="paginator".*?</nav>', page.content.decode(), flags=re.DOTALL).group()

    assert said in visible_text(footer)


def test_a_list_without_its_own_count_names_itself_before_the_number(superuser_client, staff_day):
    page = superuser_client.get(reverse("admin:amocrm_circuitbreaker_changelist")).content.decode()
    footer = re.search(r'<nav class="paginator".*?</nav>', page, flags=re.DOTALL).group()

    assert "Предохранитель amoCRM: 1" in visible_text(footer)


def test_a_resync_of_three_profiles_says_three_profiles(superuser_client, profile_factory, settings):
    settings.AMOCRM_BASE_URL = "https://flowers.amocrm.ru"
    settings.AMOCRM_LONG_LIVED_TOKEN = "long-lived"
    ids = [profile_factory().pk for _ in range(3)]

    response = superuser_client.post(
        reverse("admin:accounts_profile_changelist"),
        {"action": "resync_to_amocrm", "_selected_action": ids},
        follow=True,
    )

    assert [str(m) for m in response.context["messages"]][0].startswith("3 профиля поставлены в очередь")


@pytest.mark.parametrize(("count", "word"), [(1, "профиль"), (3, "профиля"), (26, "профилей")])
def test_the_catalogue_has_each_russian_plural_form(count, word):
    text = ngettext(
        "%(count)d profile queued for a full resync with amoCRM.",
        "%(count)d profiles queued for a full resync with amoCRM.",
        count,
    ) % {"count": count}

    assert text.startswith(f"{count} {word} ")


def test_deleting_many_names_the_model_apart_from_the_number(superuser_client):
    ids = [
        BouquetCategory.objects.create(name=f"Сезон {n}", slug=f"season-{n}", price=3000).pk for n in range(3)
    ]

    response = superuser_client.post(
        reverse("admin:accounts_bouquetcategory_changelist"),
        {"action": "delete_selected", "_selected_action": ids, "post": "yes"},
        follow=True,
    )

    assert [str(m) for m in response.context["messages"]] == ["Удалено (категории букетов): 3."]
    assert not BouquetCategory.objects.filter(pk__in=ids).exists()


def test_invoice_states_agree_with_the_invoice(superuser_client, staff_day):
    page = superuser_client.get(reverse("admin:accounts_invoice_changelist")).content.decode()
    states = re.findall(r'<td class="field-status">(.*?)</td>', page)
    deliveries = visible_text(
        superuser_client.get(reverse("admin:accounts_delivery_changelist")).content.decode()
    )

    assert set(states) == {"ожидает оплаты", "оплачен", "отменён"}
    assert "отменён" in visible_text(page)  # the filter too
    assert "отменена" in deliveries.split()  # the delivery keeps its own agreement (its filter)


def test_money_reads_as_roubles_with_a_no_break_space(superuser_client, staff_day):
    anna = Profile.objects.get(pk=staff_day["anna"].pk)  # its balance after the delivery
    invoice = anna.invoices.get(amount=Decimal("2500"))
    delivery = anna.deliveries.filter(status=Delivery.Status.DELIVERED).get()

    invoices = superuser_client.get(reverse("admin:accounts_invoice_changelist")).content.decode()
    invoice_page = superuser_client.get(reverse("admin:accounts_invoice_change", args=[invoice.pk]))
    profiles = superuser_client.get(reverse("admin:accounts_profile_changelist")).content.decode()
    profile_page = superuser_client.get(reverse("admin:accounts_profile_change", args=[anna.pk]))
    delivery_page = superuser_client.get(reverse("admin:accounts_delivery_change", args=[delivery.pk]))

    assert "2\xa0500,00\xa0₽" in invoices
    assert "2\xa0500,00\xa0₽" in invoice_page.content.decode()
    assert f"{formats.number_format(anna.account_sum, 2, force_grouping=True)}\xa0₽" in profiles
    assert "2\xa0500,00\xa0₽" in unescape(profile_page.content.decode())  # the invoice awaiting payment
    assert f"{formats.number_format(delivery.price, 2, force_grouping=True)}\xa0₽" in (
        delivery_page.content.decode()
    )


def test_the_payment_page_writes_the_sum_as_everywhere(superuser_client, staff_day):
    invoice = staff_day["anna"].invoices.get(amount=Decimal("2500"))

    page = superuser_client.get(reverse("admin:accounts_invoice_pay", args=[invoice.pk])).content.decode()

    assert "на 2\xa0500,00\xa0₽." in page


def test_the_app_list_puts_customers_first_and_amocrm_last(superuser_client, staff_day):
    apps = [app["app_label"] for app in superuser_client.get(reverse("admin:index")).context["app_list"]]

    assert apps[0] == "accounts"
    assert apps[-1] == "amocrm"
    assert set(apps) == {"accounts", "emails", "auth", "mfa", "amocrm"}


def test_the_users_list_is_named_for_the_staff_it_lists(superuser_client, staff_day):
    """Customers' users are edited on the customer card; the users list holds staff accounts only."""
    index = superuser_client.get(reverse("admin:index"))
    names = {
        model["admin_url"]: str(model["name"]) for app in index.context["app_list"] for model in app["models"]
    }

    customers = next(app for app in index.context["app_list"] if app["app_label"] == "accounts")

    assert names[reverse("admin:accounts_user_changelist")] == "Сотрудники"
    assert "Пользователи" not in names.values()
    assert [str(model["name"]) for model in customers["models"]] == [
        "Доставки",
        "Категории букетов",
        "Профили",
        "Сотрудники",
        "Счета",
    ]


def test_deleting_selected_users_reads_in_the_accusative(superuser_client, staff_day):
    html = superuser_client.get(reverse("admin:accounts_user_changelist")).content.decode()

    assert "Удалить выбранных пользователей" in html
    assert "Удалить выбранные пользователи" not in html


def test_the_renamed_delete_action_still_asks_and_deletes(superuser_client, user_factory):
    staff = user_factory(email="leaving@example.ru", is_staff=True)
    url = reverse("admin:accounts_user_changelist")
    chosen = {"action": "delete_selected", "_selected_action": [staff.pk]}

    asked = superuser_client.post(url, chosen)
    superuser_client.post(url, {**chosen, "post": "yes"})

    assert "leaving@example.ru" in asked.content.decode()
    assert not type(staff).objects.filter(pk=staff.pk).exists()


def test_the_calendars_time_zone_note_reads_in_russian(superuser_client):
    """Django's Russian catalogue leaves the note under date fields (shown when the browser's clock
    is in another zone) in English; locale/ru/LC_MESSAGES/djangojs.po gives it."""
    script = superuser_client.get(reverse("admin:jsi18n")).content.decode()
    note = "Время вводится по часовому поясу %(timezone)s (у вас на %(offset)s часа меньше)."

    assert json.dumps(note) in script  # the catalogue is JSON in the script, non-ASCII escaped
    assert json.dumps("Сегодня (%(date)s)") in script
