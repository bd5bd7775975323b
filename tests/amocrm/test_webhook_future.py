"""A hook from the future (issue 24 item 5): a change stamped later than now plus the allowed skew is
refused and recorded so, and never becomes the lead's clock, so a real payment after it still applies."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from amocrm.models import CustomField, LeadSync, WebhookEvent
from amocrm.services import webhook_events
from tests.amocrm.helpers import apply_all, body, cf, deliver, later, lead, post

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("webhook_settings")]

Key = CustomField.Key
YEAR_2100 = datetime.datetime(2100, 1, 1, tzinfo=datetime.UTC)


def test_a_change_stamped_in_2100_is_refused_and_a_later_real_payment_applies(client, linked):
    deliver(client, body(update=[lead(cf(Key.ACCOUNT_SUM, "1"), at=YEAR_2100)]))

    refused = WebhookEvent.objects.get()
    assert refused.status == WebhookEvent.Status.FAILED
    assert "refused" in refused.error
    assert LeadSync.objects.get(profile=linked).crm_modified_at is None

    # A second after the signup: in the signup's own second the item, leaving the wishes out, would
    # clear them in the second the site set them (an unknown order: the lead would be read back).
    deliver(client, body(update=[lead(cf(Key.ACCOUNT_SUM, "7500"), at=later(1))]))

    linked.refresh_from_db()
    assert linked.account_sum == Decimal("7500.00")


def test_a_change_within_the_allowed_skew_applies(client, linked, settings):
    settings.AMOCRM_WEBHOOK_MAX_FUTURE = 300

    deliver(
        client,
        body(update=[lead(cf(Key.ACCOUNT_SUM, "7500"), at=timezone.now() + datetime.timedelta(minutes=4))]),
    )

    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
    linked.refresh_from_db()
    assert linked.account_sum == Decimal("7500.00")


def test_applying_a_refused_event_again_refuses_it_again(client, linked):
    post(client, body(update=[lead(cf(Key.ACCOUNT_SUM, "1"), at=YEAR_2100)]))
    event = WebhookEvent.objects.get()

    webhook_events.webhook_events_reprocess(event_ids=[event.pk])
    apply_all()

    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.FAILED and "refused" in event.error
    linked.refresh_from_db()
    assert linked.account_sum != Decimal("1")
    assert LeadSync.objects.get(profile=linked).crm_modified_at is None
