"""CSV export of call reports: the rows of the call list (same filters), with their decrypted report fields.

The file is built while it is sent: the calls come from the database in chunks (``iterator(chunk_size=...)``),
each chunk becomes CSV text, and nothing holds the whole export, so memory stays flat for any number of calls.
A cell that a spreadsheet would run as a formula is neutralised (``csv_safe``), and the file starts with a UTF-8
byte order mark so that Excel reads accents right. Exporting personal data in bulk is recorded in the tenant's
audit log (``report_export_record``), which the Activity page lists.

Who may export: the roles with ``Perm.RUN_CAMPAIGNS`` (owner, admin, campaign manager: they act on the leads)
or ``Perm.HANDLE_PRIVACY`` (the DPO: access requests and audits). A viewer reads reports one call at a time in
the portal but does not take the whole list away.
"""

from __future__ import annotations

import csv
import datetime
import io
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass

from auditlog.models import LogEntry
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from tenants.models import Tenant
from tenants.roles import Perm, role_has

from .models import Call, CallReport

EXPORT_PERMS = (Perm.RUN_CAMPAIGNS, Perm.HANDLE_PRIVACY)
CHUNK_SIZE = 500  # rows per database fetch and per piece of the response
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"

_EXPORT_FIELDS = (
    "id", "tenant_id", "created_at", "direction", "status", "outcome", "special_category",
    "script__id", "script__name", "campaign__id", "campaign__name",
    "report__id", "report__name", "report__phone", "report__email", "report__company", "report__need",
    "report__appointment_at", "report__appointment_tz", "report__next_step", "report__summary",
)


def may_export_reports(role: str) -> bool:
    """Return whether a member with this role may download the reports of many calls at once."""
    return any(role_has(role, perm) for perm in EXPORT_PERMS)


def csv_safe(value: str) -> str:
    """Return the text with a leading quote when a spreadsheet would read it as a formula (CSV injection).

    Phone numbers in E.164 start with "+" and get the quote too: Excel would otherwise turn them into numbers.
    """
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def report_export_queryset(calls: QuerySet[Call]) -> QuerySet[Call]:
    """Return the calls with their script, campaign and report joined in, newest first, in one query per chunk."""
    return (
        calls.select_related("script", "campaign", "report")
        .only(*_EXPORT_FIELDS)
        .order_by("-created_at", "-id")
    )


@dataclass(frozen=True)
class Labels:
    """Every text of the file, translated before streaming starts (the request's language may be gone by then)."""

    header: list[str]
    direction: dict[str, str]
    status: dict[str, str]
    outcome: dict[str, str]
    yes: str
    no: str


def export_labels() -> Labels:
    return Labels(
        header=[_("Call ID"), _("Created"), _("Direction"), _("Status"), _("Outcome"), _("Campaign"), _("Script"),
                _("Name"), _("Phone"), _("E-mail"), _("Company"), _("Need"), _("Appointment"), _("Next step"),
                _("Summary"), _("Special-category data")],
        direction={value: str(label) for value, label in Call.Direction.choices},
        status={value: str(label) for value, label in Call.Status.choices},
        outcome={value: str(label) for value, label in Call.Outcome.choices},
        yes=_("Yes"),
        no=_("No"),
    )


def _report_of(call: Call) -> CallReport | None:
    try:
        return call.report
    except CallReport.DoesNotExist:
        return None


def _appointment(report: CallReport, zone: datetime.tzinfo) -> str:
    """Return the appointment in ISO 8601, in the zone it was agreed in (else the tenant's)."""
    if report.appointment_at is None:
        return ""
    try:
        zone = zoneinfo.ZoneInfo(report.appointment_tz) if report.appointment_tz else zone
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        pass
    return report.appointment_at.astimezone(zone).isoformat(timespec="minutes")


def report_row(call: Call, *, zone: datetime.tzinfo, labels: Labels) -> list[str]:
    """Return one line of the file; a call without a report yet has its report columns empty."""
    report = _report_of(call)
    row = [
        str(call.pk),
        call.created_at.astimezone(zone).isoformat(timespec="seconds"),
        labels.direction.get(call.direction, call.direction),
        labels.status.get(call.status, call.status),
        labels.outcome.get(call.outcome, call.outcome),
        call.campaign.name if call.campaign else "",
        call.script.name,
    ]
    if report is None:
        row += [""] * 8
    else:
        row += [report.name, report.phone, report.email, report.company, report.need,
                _appointment(report, zone), report.next_step, report.summary]
    row.append(labels.yes if call.special_category else labels.no)  # copied from the report when it is saved
    return [csv_safe(cell) for cell in row]


def report_csv_chunks(calls: QuerySet[Call], *, zone: datetime.tzinfo) -> Iterator[bytes]:
    """Return the export as an iterator of UTF-8 pieces: the BOM and header, then one piece per chunk of calls.

    The labels are read now, in the request's language; the rows are fetched only as the iterator is consumed.
    """
    labels = export_labels()
    rows = report_export_queryset(calls).iterator(chunk_size=CHUNK_SIZE)
    return _chunks(rows, zone=zone, labels=labels)


def _chunks(calls: Iterator[Call], *, zone: datetime.tzinfo, labels: Labels) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write(BOM)
    writer.writerow([csv_safe(cell) for cell in labels.header])
    pending = 0
    for call in calls:
        writer.writerow(report_row(call, zone=zone, labels=labels))
        pending += 1
        if pending == CHUNK_SIZE:
            yield _drain(buffer)
            pending = 0
    yield _drain(buffer)


def _drain(buffer: io.StringIO) -> bytes:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text.encode("utf-8")


def report_export_record(*, tenant: Tenant, actor, filters: dict) -> LogEntry:
    """Write "<actor> exported the call reports (with these filters)" to the tenant's audit log.

    An ACCESS entry on the tenant, tagged with the tenant like every other entry, so that the Activity page
    (``tenants.selectors.audit_trail_of``) lists it with no change there. The filters are recorded, the data is
    not. Written before the first byte is sent: an export that was started counts as an export.
    """
    described = "; ".join(f"{name}={value}" for name, value in filters.items() if value is not None)
    return LogEntry.objects.log_create(
        tenant,
        force_log=True,
        action=LogEntry.Action.ACCESS,
        actor=actor,
        changes={"export": ["", "call reports (CSV)"], "filters": ["", described or "none"]},
        additional_data={"tenant": tenant.pk},
    )
