"""Shared set-up of the campaign and dialer tests: a usable contact list, a campaign, a call that ends."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from django.utils import timezone

from calls import services
from calls.models import Call
from campaigns.models import ContactList, ContactListEntry
from campaigns.services.campaigns import campaign_create, campaign_start
from tenants.models import LegalBasis, TenantSettings

PARIS = ZoneInfo("Europe/Paris")
# Tuesday 1 December 2026, 10:30 in Paris (09:30 UTC): inside the first window. A test that pins it does so with
# ``@frozen_at(NOW)`` (tenants.testing), so that every clock it reaches reads NOW.
NOW = datetime(2026, 12, 1, 10, 30, tzinfo=PARIS)
NUMBERS = ["+33612345601", "+33612345602", "+33612345603", "+33612345604", "+33612345605"]


def usable_list(tenant, phones=NUMBERS, name="Prospects") -> ContactList:
    """A list whose risks were checked, with one contact per number (as the list pages would leave it)."""
    contact_list = ContactList.objects.create(tenant=tenant, name=name, risk_checked_at=timezone.now())
    for phone in phones:
        contact = services.contact_create(tenant=tenant, phone=phone)
        ContactListEntry.objects.create(tenant=tenant, contact_list=contact_list, contact=contact)
    return contact_list


def with_trunk(tenant) -> None:
    TenantSettings.objects.filter(tenant=tenant).update(sip_outbound_trunk_id="ST_test")


def consented_campaign(tenant, script, contact_list, *, start=False, now=None, **fields):
    """A campaign on consent, created (and started) at ``now``: the clock's time unless given, so that the campaign
    is never dated on another clock than the rest of the test."""
    fields = {"name": "Winter offer", "legal_basis": LegalBasis.CONSENT, "consent_proof": "CRM consent log 2026",
              **fields}
    campaign = campaign_create(tenant=tenant, script=script, contact_list=contact_list, now=now, **fields)
    return campaign_start(campaign=campaign, now=now) if start else campaign


def end_call(call: Call, status: str, reason: str = "") -> Call:
    """Take a queued call through the lifecycle to ``status`` as the telephony would."""
    S = Call.Status
    path = {S.NO_ANSWER: [S.RINGING], S.COMPLETED: [S.IN_PROGRESS], S.TRANSFERRED: [S.IN_PROGRESS],
            S.FAILED: [], S.CANCELED: []}[status]
    for step in path:
        call = services.call_transition(call=call, to=step)
    return services.call_transition(call=call, to=status, reason=reason)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)
