"""What the campaigns app tells the customer's systems: the payload of campaign.completed, emitted once the
transaction that completed the campaign has committed.

The payload is a public contract, documented in docs/webhooks.md: add fields, never rename or remove one.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from calls.events import emit_after_commit, iso
from webhooks.models import Event

from .models import Campaign
from .selectors import campaign_outcomes, campaign_progress


def campaign_completed_payload(campaign: Campaign) -> dict:
    """The campaign's end: how many people were reached, excluded or not reached, and what the calls gave."""
    progress, outcomes = campaign_progress(campaign=campaign), campaign_outcomes(campaign=campaign)
    return {
        "campaign_id": campaign.pk,
        "name": campaign.name,
        "status": campaign.status,
        "started_at": iso(campaign.started_at),
        "finished_at": iso(campaign.finished_at),
        "targets": {"total": progress.total, **{status: count for status, _label, count in progress.rows()}},
        "calls": outcomes.calls,
        "outcomes": {outcome or "pending": count for outcome, count in outcomes.by_outcome.items()},
        "portal_url": settings.CALLKOM_PUBLIC_URL + reverse("campaign-detail", args=[campaign.tenant.slug,
                                                                                    campaign.pk]),
    }


def campaign_completed_emit(*, campaign: Campaign) -> None:
    """Emit campaign.completed after the commit; a failure is logged and never undoes the completion."""
    emit_after_commit(Event.CAMPAIGN_COMPLETED, campaign_completed_payload, campaign)
