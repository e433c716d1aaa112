"""What the calls app tells the customer's systems (webhooks, e-mail): the payloads of call.completed and
report.ready, emitted once the transaction that produced them has committed.

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

from .models import Call, CallReport


def iso(value: datetime.datetime | None, tz: str = "") -> str | None:
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
        "started_at": iso(call.started_at),
        "answered_at": iso(call.answered_at),
        "ended_at": iso(call.ended_at),
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
        "appointment": iso(report.appointment_at, report.appointment_tz),
        "next_step": report.next_step,
        "special_category": report.special_category,
        "portal_url": _portal_url(call),
    }


def _emit(event: str, build, obj) -> None:
    event_emit(tenant=obj.tenant, event=event, data=build(obj))


def emit_after_commit(event: str, build, obj) -> None:
    """Emit ``event`` with ``build(obj)`` as its data once the transaction commits; a failure is logged and never
    undoes what the transaction did."""
    transaction.on_commit(partial(_emit, event, build, obj), robust=True)


def call_completed_emit(*, call: Call) -> None:
    """Emit call.completed after the commit; a failure is logged and never undoes the call's transition."""
    emit_after_commit(Event.CALL_COMPLETED, call_completed_payload, call)


def report_ready_emit(*, report: CallReport) -> None:
    """Emit report.ready after the commit; a failure is logged and never undoes the report."""
    emit_after_commit(Event.REPORT_READY, report_ready_payload, report)
