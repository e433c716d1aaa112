"""Reads of the calls app for the portal. Tenant-owned queries run inside the request's tenant scope."""

from __future__ import annotations

import base64
import binascii
import datetime
import uuid
import zoneinfo
from dataclasses import dataclass, field

from auditlog.models import LogEntry
from django.db import models
from django.db.models import Count, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from compliance.selectors import ai_invocations_for_call
from tenants.models import Tenant

from .models import Call, CallReport, Recording, Utterance

LIVE_STATUSES = (Call.Status.RINGING, Call.Status.IN_PROGRESS)

# What a row of the call list shows; the report's other encrypted fields are not loaded (nor decrypted).
_LIST_FIELDS = (
    "id", "tenant_id", "created_at", "started_at", "answered_at", "ended_at", "direction", "channel", "status",
    "outcome", "special_category", "script__id", "script__name", "report__id", "report__name",
)


def tenant_zone(tenant: Tenant) -> datetime.tzinfo:
    """Return the tenant's calling time zone, or the site's when the stored name is unknown."""
    try:
        return zoneinfo.ZoneInfo(tenant.settings.calling_timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return timezone.get_default_timezone()


# --- the call list: filters and keyset pagination ------------------------------------------------------------------


class CursorError(ValueError):
    """A cursor that was not produced by ``cursor_encode`` (cut, edited or made up)."""


@dataclass(frozen=True)
class Cursor:
    """The position after the last row of a page: rows strictly older, in (created_at, id) descending order."""

    created_at: datetime.datetime
    id: uuid.UUID


def cursor_encode(call: Call) -> str:
    raw = f"{call.created_at.astimezone(datetime.UTC).isoformat()}|{call.pk.hex}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def cursor_decode(value: str) -> Cursor:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        stamp, _sep, hex_id = raw.partition("|")
        created_at = datetime.datetime.fromisoformat(stamp)
        call_id = uuid.UUID(hex=hex_id)
        if timezone.is_naive(created_at):
            raise ValueError("naive timestamp")
        created_at = created_at.astimezone(datetime.UTC)
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError) as error:
        raise CursorError(str(error)) from error
    return Cursor(created_at=created_at, id=call_id)


def calls_filtered(*, tenant: Tenant, date_from: datetime.date | None = None, date_to: datetime.date | None = None,
                   status: str | None = None, outcome: str | None = None, direction: str | None = None,
                   script=None) -> QuerySet[Call]:
    """Return the tenant's calls that match the filters (None means any); dates are days in the tenant's zone."""
    queryset = Call.objects.filter(tenant=tenant)
    if date_from or date_to:
        zone = tenant_zone(tenant)
        if date_from:
            queryset = queryset.filter(created_at__gte=datetime.datetime.combine(date_from, datetime.time.min, zone))
        if date_to:
            next_day = date_to + datetime.timedelta(days=1)
            queryset = queryset.filter(created_at__lt=datetime.datetime.combine(next_day, datetime.time.min, zone))
    if status is not None:
        queryset = queryset.filter(status=status)
    if outcome is not None:
        queryset = queryset.filter(outcome=outcome)
    if direction is not None:
        queryset = queryset.filter(direction=direction)
    if script is not None:
        queryset = queryset.filter(script=script)
    return queryset


@dataclass(frozen=True)
class CallPage:
    calls: list[Call]
    next_cursor: str | None
    is_first: bool


def calls_page(queryset: QuerySet[Call], *, after: Cursor | None = None, per_page: int = 50) -> CallPage:
    """Return one page of calls, newest first, and the cursor of the next page (None on the last).

    One query whatever the page size or the table size: no COUNT, no OFFSET; the (tenant, -created_at) index
    finds the start of the page and the LIMIT stops the scan.
    """
    if after is not None:
        # The plain ``created_at <= x`` keeps an index range scan; the OR only breaks ties within one timestamp.
        queryset = queryset.filter(created_at__lte=after.created_at).filter(
            Q(created_at__lt=after.created_at) | Q(id__lt=after.id)
        )
    rows = list(
        queryset.select_related("script", "report").only(*_LIST_FIELDS).order_by("-created_at", "-id")[:per_page + 1]
    )
    has_more = len(rows) > per_page
    rows = rows[:per_page]
    return CallPage(calls=rows, next_cursor=cursor_encode(rows[-1]) if has_more else None, is_first=after is None)


# --- one call --------------------------------------------------------------------------------------------------------


def calls_for_detail() -> QuerySet[Call]:
    """Return the calls of the tenant in scope with what the detail page shows next to each."""
    return Call.objects.select_related("script", "report")


def call_report_of(call: Call) -> CallReport | None:
    try:
        return call.report
    except CallReport.DoesNotExist:
        return None


def call_transcript(call: Call) -> list[Utterance]:
    return list(Utterance.objects.filter(call=call).order_by("seq"))


def call_ai_invocations(call: Call):
    """Return the AI requests made for the call, oldest first, without their (encrypted) exact payloads."""
    return list(ai_invocations_for_call(call.pk).defer("payload"))


@dataclass(frozen=True)
class AuditChange:
    field: str
    old: object
    new: object


@dataclass(frozen=True)
class AuditEntry:
    timestamp: datetime.datetime
    actor: object
    action: str
    changes: list[AuditChange]


def _audit_value(call: Call, model_field, raw):
    """Turn auditlog's stored string back into something the template localises (dates in the page's zone)."""
    if raw is None or raw in ("None", ""):
        return None
    if model_field.is_relation:
        loaded = model_field.name in call._state.fields_cache
        same = str(getattr(call, model_field.attname)) == str(raw)
        return str(getattr(call, model_field.name)) if loaded and same else raw
    if isinstance(model_field, models.DateTimeField):
        try:
            value = datetime.datetime.fromisoformat(str(raw))
        except ValueError:
            return raw
        # auditlog stores UTC without an offset.
        return value if timezone.is_aware(value) else value.replace(tzinfo=datetime.UTC)
    if isinstance(model_field, models.BooleanField):
        return _("Yes") if str(raw) == "True" else _("No")
    if model_field.choices:
        return dict(model_field.flatchoices).get(raw, raw)
    return raw


def call_audit_trail(call: Call, limit: int = 100) -> list[AuditEntry]:
    """Return the audit log of the call, newest first; tenant-checked as well as keyed by the object."""
    entries = (
        LogEntry.objects.get_for_object(call)
        .filter(additional_data__tenant=call.tenant_id)
        .select_related("actor")
        .order_by("-timestamp")[:limit]
    )
    fields = {f.name: f for f in Call._meta.concrete_fields if f.name != "tenant"}
    return [
        AuditEntry(
            timestamp=entry.timestamp,
            actor=entry.actor,
            action=entry.get_action_display(),
            changes=_audit_changes(call, fields, entry.changes_dict or {}),
        )
        for entry in entries
    ]


def _audit_changes(call: Call, fields: dict, changes: dict) -> list[AuditChange]:
    result = []
    for name, (old, new) in changes.items():
        if name not in fields:  # auditlog also lists reverse relations on creation
            continue
        old, new = _audit_value(call, fields[name], old), _audit_value(call, fields[name], new)
        if old is not None or new is not None:
            result.append(AuditChange(str(fields[name].verbose_name), old, new))
    return result


@dataclass(frozen=True)
class RecordingLink:
    url: str
    content_type: str
    duration_ms: int


def call_recording(call: Call) -> RecordingLink | None:
    """Return where the page can play the call's recording (decrypted on request), or None."""
    recording = Recording.objects.filter(call=call).only("duration_ms").first()
    if recording is None:
        return None
    url = reverse("call-recording", kwargs={"tenant_slug": call.tenant.slug, "call_id": call.pk})
    return RecordingLink(url=url, content_type="audio/wav", duration_ms=recording.duration_ms)


@dataclass(frozen=True)
class CallDetail:
    call: Call
    report: CallReport | None
    transcript: list[Utterance]
    ai_invocations: list = field(default_factory=list)
    audit_trail: list = field(default_factory=list)
    recording: object | None = None
    zone: datetime.tzinfo = datetime.UTC

    @property
    def appointment_zone(self) -> datetime.tzinfo:
        """Return the zone the appointment was agreed in, falling back to the tenant's."""
        name = self.report.appointment_tz if self.report else ""
        try:
            return zoneinfo.ZoneInfo(name) if name else self.zone
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return self.zone


def call_detail(*, call: Call, tenant: Tenant) -> CallDetail:
    """Gather what the call page shows; a recording only when the tenant records calls."""
    return CallDetail(
        call=call,
        report=call_report_of(call),
        transcript=call_transcript(call),
        ai_invocations=call_ai_invocations(call),
        audit_trail=call_audit_trail(call),
        recording=call_recording(call) if tenant.settings.recording_enabled else None,
        zone=tenant_zone(tenant),
    )


# --- live board and dashboard ----------------------------------------------------------------------------------------


def calls_live(*, tenant: Tenant, limit: int = 200) -> list[Call]:
    """Return the tenant's calls that are ringing or in progress, newest first."""
    return list(
        Call.objects.filter(tenant=tenant, status__in=LIVE_STATUSES)
        .select_related("script")
        .only("id", "tenant_id", "created_at", "started_at", "answered_at", "direction", "channel", "status",
              "script__id", "script__name")
        .order_by("-created_at")[:limit]
    )


def call_stats_this_month(tenant: Tenant) -> dict:
    """Count the calls created since the first of the month (in the tenant's zone): all, completed, appointments."""
    zone = tenant_zone(tenant)
    month_start = timezone.now().astimezone(zone).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    stats = Call.objects.filter(tenant=tenant, created_at__gte=month_start).aggregate(
        total=Count("id"),
        completed=Count("id", filter=Q(status=Call.Status.COMPLETED)),
        appointments=Count("id", filter=Q(outcome=Call.Outcome.APPOINTMENT)),
    )
    return {**stats, "month_start": month_start.date()}
