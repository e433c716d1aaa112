"""The calls app's personal-data handler: what CALLKOM holds about a called person for a customer, found by blind
index, for the rights-request workflow (``compliance.registry``).

A person's records are their contacts (matched by phone or e-mail index), the reports that name them (an inbound
caller who gave a number or an address), the calls of either, and their do-not-call entries. Every method runs
under the tenant scope and inside the transaction its caller opened; recording files are deleted only once that
transaction commits, so that an erasure that fails half-way loses nothing.

An erasure keeps two things on purpose. The call rows stay, stripped of their contact and of everything said, so
that the customer's statistics (volumes, outcomes, durations) still add up; nothing left on them names the person.
And the do-not-call entries stay, encrypted number and blind index included: they are how an objection keeps being
honoured, and erasing them would let the person be called again (GDPR Art. 17(3)(b) and 21(3)).
"""

from __future__ import annotations

import json
from collections import defaultdict
from functools import partial

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from compliance.registry import Counts, DataSubject, Rectification
from compliance.services import ai_payloads_erase
from tenants.crypto import email_index, phone_index
from tenants.models import Tenant

from .donotcall import do_not_call_add
from .models import (
    Call,
    CallReport,
    Contact,
    DoNotCall,
    DoNotCallSource,
    Recording,
    SupervisorAction,
    Utterance,
)
from .retention import CallsRetention

# The labels of the exported keys, for the readable summary: the compliance app shows a key "created_at" as the
# translation of "Created at". Marked here so that they reach the translation catalogue.
EXPORT_LABELS = (
    gettext_noop("Contacts"), gettext_noop("Calls"), gettext_noop("Do not call"), gettext_noop("Name"),
    gettext_noop("Phone"), gettext_noop("Email"), gettext_noop("Company"), gettext_noop("Custom fields"),
    gettext_noop("Notes"), gettext_noop("Time zone"), gettext_noop("Created at"), gettext_noop("Lists"),
    gettext_noop("Direction"), gettext_noop("Channel"), gettext_noop("Status"), gettext_noop("Outcome"),
    gettext_noop("Legal basis"), gettext_noop("Script"), gettext_noop("Campaign"), gettext_noop("Started at"),
    gettext_noop("Answered at"), gettext_noop("Ended at"), gettext_noop("Utterances"), gettext_noop("Speaker"),
    gettext_noop("Text"), gettext_noop("Started ms"), gettext_noop("Report"), gettext_noop("Summary"),
    gettext_noop("Need"), gettext_noop("Appointment at"), gettext_noop("Next step"), gettext_noop("Supervisor notes"),
    gettext_noop("At"), gettext_noop("Action"), gettext_noop("Note"), gettext_noop("Recording"),
    gettext_noop("Duration ms"), gettext_noop("Size bytes"), gettext_noop("Source"), gettext_noop("Reason"),
    gettext_noop("Id"),
)


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _match(subject: DataSubject, *, by_email: bool = True) -> Q | None:
    """The filter on the blind indexes the subject gives; None when it gives none (never "everything")."""
    match = Q()
    if subject.phone_index:
        match |= Q(phone_index=subject.phone_index)
    if by_email and subject.email_index:
        match |= Q(email_index=subject.email_index)
    return match or None


def _matching(queryset: QuerySet, tenant: Tenant, subject: DataSubject, *, by_email: bool = True) -> QuerySet:
    match = _match(subject, by_email=by_email)
    return queryset.none() if match is None else queryset.filter(match, tenant=tenant)


def subject_contacts(tenant: Tenant, subject: DataSubject) -> QuerySet:
    """The tenant's contacts of the person (by phone or e-mail index): what other apps' records of them hang on."""
    return _matching(Contact.objects.all(), tenant, subject)


def _reports(tenant: Tenant, subject: DataSubject) -> QuerySet:
    return _matching(CallReport.objects.all(), tenant, subject)


def _call_ids(tenant: Tenant, subject: DataSubject) -> list:
    """The person's calls: those of their contacts, and those whose report names them."""
    contact_ids = subject_contacts(tenant, subject).values("pk")
    report_call_ids = _reports(tenant, subject).values("call_id")
    return list(Call.objects.filter(Q(contact__in=contact_ids) | Q(pk__in=report_call_ids), tenant=tenant)
                .values_list("pk", flat=True))


def _phone_indexes(tenant: Tenant, subject: DataSubject) -> set[str]:
    """The person's numbers, as blind indexes: the one they gave, and those of the contacts and reports found."""
    found = {subject.phone_index} if subject.phone_index else set()
    found |= set(subject_contacts(tenant, subject).values_list("phone_index", flat=True))
    found |= set(_reports(tenant, subject).exclude(phone_index="").values_list("phone_index", flat=True))
    return found


def _deleted(queryset: QuerySet) -> int:
    """Delete and return how many rows of the queryset's own model went (not the cascades)."""
    _total, by_model = queryset.delete()
    return by_model.get(queryset.model._meta.label, 0)


def _delete_files(paths: list[str]) -> None:
    for path in paths:
        default_storage.delete(path)


class CallsPersonalData(CallsRetention):
    """Contacts, calls (transcripts, reports, supervisor notes, recordings) and do-not-call entries; retention of
    recordings, transcripts and reports comes from :class:`calls.retention.CallsRetention`."""

    name = "calls"

    def holders(self, *, phone_index: str | None, email_index: str | None) -> set[int]:
        subject = DataSubject(phone_index=phone_index, email_index=email_index)
        found: set[int] = set()
        for model, by_email in ((Contact, True), (CallReport, True), (DoNotCall, False)):
            match = _match(subject, by_email=by_email)
            if match is not None:
                tenant_ids = model.objects.filter(match).order_by().values_list("tenant_id", flat=True).distinct()
                found |= set(tenant_ids)
        return found

    # Access and portability -----------------------------------------------------------------------------------

    def export(self, tenant: Tenant, subject: DataSubject) -> dict:
        call_ids = _call_ids(tenant, subject)
        calls = Call.objects.filter(tenant=tenant, pk__in=call_ids).select_related("script", "campaign")
        return {
            "contacts": [self._contact(contact)
                         for contact in subject_contacts(tenant, subject).order_by("created_at")],
            "calls": self._calls(tenant, list(calls.order_by("created_at"))),
            "do_not_call": [
                {"phone": entry.phone, "source": entry.source, "reason": entry.reason,
                 "created_at": _iso(entry.created_at)}
                for entry in DoNotCall.objects.filter(tenant=tenant, phone_index__in=_phone_indexes(tenant, subject))
            ],
        }

    def _contact(self, contact: Contact) -> dict:
        try:
            custom_fields = json.loads(contact.custom_fields or "{}")
        except ValueError:
            custom_fields = contact.custom_fields
        return {
            "id": contact.pk, "name": contact.name, "phone": contact.phone, "email": contact.email,
            "company": contact.company, "custom_fields": custom_fields, "notes": contact.notes,
            "time_zone": contact.time_zone, "created_at": _iso(contact.created_at),
        }

    def _calls(self, tenant: Tenant, calls: list[Call]) -> list[dict]:
        ids = [call.pk for call in calls]
        utterances, notes = defaultdict(list), defaultdict(list)
        for line in Utterance.objects.filter(tenant=tenant, call_id__in=ids).order_by("call_id", "seq"):
            utterances[line.call_id].append({"speaker": line.speaker, "text": line.text,
                                             "started_ms": line.started_ms})
        for action in SupervisorAction.objects.filter(tenant=tenant, call_id__in=ids).order_by("at"):
            notes[action.call_id].append({"at": _iso(action.at), "action": action.action, "note": action.note})
        reports = {report.call_id: report for report in CallReport.objects.filter(tenant=tenant, call_id__in=ids)}
        recordings = {rec.call_id: rec for rec in Recording.objects.filter(tenant=tenant, call_id__in=ids)}
        return [{
            "id": str(call.pk), "direction": call.direction, "channel": call.channel, "status": call.status,
            "outcome": call.outcome, "legal_basis": call.legal_basis, "script": call.script.name,
            "campaign": call.campaign.name if call.campaign else None, "created_at": _iso(call.created_at),
            "started_at": _iso(call.started_at), "answered_at": _iso(call.answered_at),
            "ended_at": _iso(call.ended_at), "utterances": utterances[call.pk],
            "report": self._report(reports.get(call.pk)), "supervisor_notes": notes[call.pk],
            "recording": self._recording(recordings.get(call.pk)),
        } for call in calls]

    def _report(self, report: CallReport | None) -> dict | None:
        if report is None:
            return None
        return {
            "summary": report.summary, "name": report.name, "phone": report.phone, "email": report.email,
            "company": report.company, "need": report.need, "appointment_at": _iso(report.appointment_at),
            "next_step": report.next_step, "created_at": _iso(report.created_at),
        }

    def _recording(self, recording: Recording | None) -> dict | None:
        """What was recorded and for how long; the audio itself is not part of the export."""
        if recording is None:
            return None
        return {"duration_ms": recording.duration_ms, "size_bytes": recording.size_bytes,
                "created_at": _iso(recording.created_at)}

    # Erasure --------------------------------------------------------------------------------------------------

    def erase(self, tenant: Tenant, subject: DataSubject) -> Counts:
        call_ids = _call_ids(tenant, subject)
        contacts = subject_contacts(tenant, subject)
        of_calls = {"tenant": tenant, "call_id__in": call_ids}
        recordings = Recording.objects.filter(**of_calls)
        transaction.on_commit(partial(_delete_files, list(recordings.values_list("path", flat=True))))
        return {
            "calls.utterances": _deleted(Utterance.objects.filter(**of_calls)),
            "calls.recordings": _deleted(recordings),
            "calls.reports": _deleted(CallReport.objects.filter(**of_calls)),
            "calls.supervisor_notes": SupervisorAction.objects.filter(**of_calls).update(note=""),
            "compliance.ai_payloads": ai_payloads_erase(tenant=tenant, call_ids=call_ids),
            "calls.contacts": _deleted(contacts),  # their calls keep no contact (SET_NULL)
            "calls.calls_anonymised": len(call_ids),
        }

    # Rectification, restriction, objection --------------------------------------------------------------------

    def rectify(self, tenant: Tenant, subject: DataSubject, changes: dict[str, str]) -> Rectification:
        previous: dict[str, set[str]] = defaultdict(set)
        counts = {}
        for store, queryset in (("calls.contacts", subject_contacts(tenant, subject)),
                                ("calls.reports", _reports(tenant, subject))):
            rows = list(queryset)
            for row in rows:
                for field, value in changes.items():
                    previous[field].add(getattr(row, field))
                    setattr(row, field, value)
                row.phone_index = phone_index(row.phone) if row.phone else ""
                row.email_index = email_index(row.email) if row.email else ""
                row.full_clean()
                row.save()
            counts[store] = len(rows)
        return Rectification(counts=counts,
                             previous={field: sorted(value for value in values if value)
                                       for field, values in previous.items()})

    def restrict(self, tenant: Tenant, subject: DataSubject, restricted: bool) -> Counts:
        """The hold itself is in the compliance app; the dialer asks it before each call."""
        return {
            "calls.contacts": subject_contacts(tenant, subject).count(),
            "calls.reports": _reports(tenant, subject).count(),
            "calls.calls": len(_call_ids(tenant, subject)),
        }

    def object(self, tenant: Tenant, subject: DataSubject) -> Counts:
        """Put every number of the person on the tenant's do-not-call list: the one they gave, and those of their
        contacts and reports (a request that gave only an e-mail address still stops the calls)."""
        numbers = {subject.phone} if subject.phone else set()
        numbers |= set(subject_contacts(tenant, subject).values_list("phone", flat=True))
        numbers |= {report.phone for report in _reports(tenant, subject).only("phone") if report.phone}
        for number in numbers:
            do_not_call_add(tenant=tenant, phone=number, source=DoNotCallSource.RIGHTS_REQUEST,
                            reason=_("Objection made through a rights request."))
        return {"calls.do_not_call": len(numbers)}
