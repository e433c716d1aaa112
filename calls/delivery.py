"""What the calls app tells the customer's systems (webhooks, e-mail): the payloads of call.completed,
report.ready and campaign.completed, emitted once the transaction that produced them has committed.

The payloads are a public contract, documented in docs/webhooks.md: add fields, never rename or remove one.
"""

from __future__ import annotations

import datetime
import zoneinfo
from functools import partial

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from webhooks.models import Event
from webhooks.services import event_emit

from .models import Call, CallReport, Campaign


def _iso(value: datetime.datetime | None, tz: str = "") -> str | None:
    if value is None:
        return None
    return (value.astimezone(zoneinfo.ZoneInfo(tz)) if tz else value).isoformat()


def _portal_url(call: Call) -> str:
    return settings.CALLKOM_PUBLIC_URL + reverse("call-detail", args=[call.tenant.slug, call.pk])


def call_completed_payload(call: Call) -> dict:
    """The call as it ended. Its outcome is often still empty here: the report, written next, decides it."""
    duration = (call.ended_at - call.started_at).total_seconds() if call.started_at and call.ended_at else None
    return {
        "call_id": str(call.pk),
        "direction": call.direction,
        "channel": call.channel,
        "status": call.status,
        "end_reason": call.end_reason or None,
        "outcome": call.outcome or None,
        "script": call.script.name,
        "campaign_id": call.campaign_id,
        "started_at": _iso(call.started_at),
        "answered_at": _iso(call.answered_at),
        "ended_at": _iso(call.ended_at),
        "duration_s": round(duration) if duration is not None else None,
        "portal_url": _portal_url(call),
    }


def report_ready_payload(report: CallReport) -> dict:
    """The structured report. The appointment is given in the tenant's calling time zone, with its offset."""
    call = report.call
    return {
        "call_id": str(call.pk),
        "outcome": call.outcome or None,
        "summary": report.summary,
        "name": report.name,
        "phone": report.phone,
        "email": report.email,
        "company": report.company,
        "need": report.need,
        "appointment": _iso(report.appointment_at, report.appointment_tz),
        "next_step": report.next_step,
        "special_category": report.special_category,
        "portal_url": _portal_url(call),
    }


def _emit(event: str, build, obj) -> None:
    event_emit(tenant=obj.tenant, event=event, data=build(obj))


def call_completed_emit(*, call: Call) -> None:
    """Emit call.completed after the commit; a failure is logged and never undoes the call's transition."""
    transaction.on_commit(partial(_emit, Event.CALL_COMPLETED, call_completed_payload, call), robust=True)


def report_ready_emit(*, report: CallReport) -> None:
    """Emit report.ready after the commit; a failure is logged and never undoes the report."""
    transaction.on_commit(partial(_emit, Event.REPORT_READY, report_ready_payload, report), robust=True)


def campaign_completed_payload(campaign: Campaign) -> dict:
    """The campaign's end: how many people were reached, excluded or not reached, and what the calls gave."""
    from .campaign_selectors import campaign_outcomes, campaign_progress

    progress, outcomes = campaign_progress(campaign=campaign), campaign_outcomes(campaign=campaign)
    return {
        "campaign_id": campaign.pk,
        "name": campaign.name,
        "status": campaign.status,
        "started_at": _iso(campaign.started_at),
        "finished_at": _iso(campaign.finished_at),
        "targets": {"total": progress.total, **{status: count for status, _label, count in progress.rows()}},
        "calls": outcomes.calls,
        "outcomes": {outcome or "pending": count for outcome, count in outcomes.by_outcome.items()},
        "portal_url": settings.CALLKOM_PUBLIC_URL + reverse("campaign-detail", args=[campaign.tenant.slug,
                                                                                    campaign.pk]),
    }


def campaign_completed_emit(*, campaign: Campaign) -> None:
    """Emit campaign.completed after the commit; a failure is logged and never undoes the completion."""
    transaction.on_commit(partial(_emit, Event.CAMPAIGN_COMPLETED, campaign_completed_payload, campaign), robust=True)
