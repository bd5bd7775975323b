"""Reconciliation confirms payments too: a lead moved to a stage mapped to `active` whose hook was
lost pays the invoice awaiting it, once, as the hook would have."""

from decimal import Decimal

import pytest
import responses

from accounts.models import LedgerEntry, Profile
from amocrm.models import LeadSync
from amocrm.services import lead_sync, reconcile
from tests.amocrm.conftest import BASE, CONTACTS_URL, EVENTS_URL, LEAD, LEADS_URL
from tests.amocrm.helpers import as_amocrm_holds, page, stamp

pytestmark = pytest.mark.django_db

CREATED_IN, PAID_STAGE = 60000003, 142


@pytest.fixture
def unpaid(profile_factory, field_map, oauth_token, settings) -> Profile:
    """A customer who signed up for 5 000 ₽, not paid; the site created the lead in CREATED_IN."""
    settings.AMOCRM_STATUS_ID = CREATED_IN
    settings.AMOCRM_STATUS_MAP = {PAID_STAGE: "active"}
    profile = profile_factory(paid=False, wishes="")
    with responses.RequestsMock() as mock:
        mock.get(f"{BASE}/api/v4/contacts", status=204)
        mock.post(
            f"{BASE}/api/v4/leads/complex",
            json=[{"id": LEAD, "contact_id": 40000001, "request_id": [str(profile.pk)], "merged": False}],
        )
        assert lead_sync.lead_sync_profiles(profile_ids=[profile.pk]).synced == [profile.pk]
    return Profile.objects.get(pk=profile.pk)


def payments_posted(profile: Profile) -> list[Decimal]:
    return list(
        profile.ledger_entries.filter(reason=LedgerEntry.Reason.PAYMENT).values_list("amount", flat=True)
    )


def reconcile_reading(lead: dict) -> None:
    with responses.RequestsMock() as mock:
        mock.get(LEADS_URL, json=page("leads", [lead]))
        mock.get(CONTACTS_URL, status=204)
        mock.get(EVENTS_URL, status=204)
        reconcile.reconcile_run()


def test_the_site_records_the_stage_it_created_the_lead_in(unpaid):
    assert LeadSync.objects.get(profile=unpaid).crm_status_id == CREATED_IN


def test_a_move_to_a_paid_stage_seen_only_by_reconciliation_pays_the_invoice_once(unpaid, field_map):
    invoice = unpaid.invoices.get()

    lead = as_amocrm_holds(unpaid, field_map, updated_at=stamp(), status_id=PAID_STAGE)
    reconcile_reading(lead)
    reconcile_reading({**lead, "updated_at": stamp(120)})  # read again after another edit

    unpaid.refresh_from_db()
    invoice.refresh_from_db()
    assert (unpaid.account_status, unpaid.account_sum) == ("active", Decimal("5000.00"))
    assert (invoice.status, invoice.source) == ("paid", "crm")
    assert payments_posted(unpaid) == [Decimal("5000.00")]


def test_a_lead_still_where_it_was_created_pays_nothing(unpaid, field_map):
    reconcile_reading(as_amocrm_holds(unpaid, field_map, updated_at=stamp(), status_id=CREATED_IN))

    unpaid.refresh_from_db()
    assert unpaid.invoices.get().status == "awaiting"
    assert (unpaid.account_status, payments_posted(unpaid)) == ("new", [])


@pytest.mark.parametrize("created_in", [CREATED_IN, None], ids=["stage-configured", "stage-unset"])
def test_a_lead_linked_before_stages_were_recorded_is_paid_once_by_its_paid_stage(
    unpaid, field_map, settings, created_in
):
    LeadSync.objects.filter(profile=unpaid).update(crm_status_id=None)
    settings.AMOCRM_STATUS_ID = created_in

    lead = as_amocrm_holds(unpaid, field_map, updated_at=stamp(), status_id=PAID_STAGE)
    reconcile_reading(lead)
    reconcile_reading({**lead, "updated_at": stamp(120)})  # read again after another edit

    unpaid.refresh_from_db()
    assert unpaid.account_status == "active"
    assert payments_posted(unpaid) == [Decimal("5000.00")]
    assert LeadSync.objects.get(profile=unpaid).crm_status_id == PAID_STAGE


def test_a_legacy_lead_in_the_creation_stage_is_no_move(unpaid, field_map, settings):
    LeadSync.objects.filter(profile=unpaid).update(crm_status_id=None)
    settings.AMOCRM_STATUS_MAP = {CREATED_IN: "active"}  # even if that stage were mapped

    reconcile_reading(as_amocrm_holds(unpaid, field_map, updated_at=stamp(), status_id=CREATED_IN))

    assert unpaid.invoices.get().status == "awaiting"
    assert LeadSync.objects.get(profile=unpaid).crm_status_id == CREATED_IN
