"""AI incidents: the register, triage of the safeguards' candidates, the workflow, the breach clock, and telling the
customers it touches.

An incident is platform-level: one fault (a provider, a prompt, a bug) may touch many customers. Each customer
touched gets an :class:`IncidentImpact` with its own calls and its own notice, which only that customer sees. A
personal-data breach starts the clock of GDPR Art. 33: the controller must be able to notify its supervisory
authority within 72 hours of awareness, so CALLKOM, as processor, tells it without undue delay.

A customer is told once per incident (an e-mail to its DPO or owners, a banner in the portal, the
``incident.notified`` webhook) until what it is told changes: a new notice text, more of its calls, or the
declaration of a breach arm its notification again. The e-mail holds no personal data: it links to the notice.

Every write is a function with keyword-only arguments running in one transaction; the changes of Incident and
IncidentImpact are in the audit log (registered in ``apps.py``).
"""

from __future__ import annotations

import datetime
import secrets
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from enum import StrEnum
from functools import partial

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from tenants.models import Tenant, User
from tenants.roles import Perm, role_has
from tenants.scope import all_tenants_scope, tenant_scope
from tenants.selectors import membership_for
from webhooks.models import Event
from webhooks.services import event_emit

from .models import Incident, IncidentCandidate, IncidentImpact
from .rights import REFERENCE_ALPHABET, REFERENCE_LENGTH, _controller_recipients, _notify

S = Incident.Status
Category = Incident.Category

# The life of an incident. Resolved goes back to investigating when the fix did not hold; closed is final.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.OPEN: frozenset({S.INVESTIGATING}),
    S.INVESTIGATING: frozenset({S.CONTAINED}),
    S.CONTAINED: frozenset({S.RESOLVED}),
    S.RESOLVED: frozenset({S.CLOSED, S.INVESTIGATING}),
    S.CLOSED: frozenset(),
}

BREACH_WINDOW = datetime.timedelta(hours=72)  # GDPR Art. 33(1)

# The category the output filter's reason suggests for a new incident; staff may choose another.
CATEGORY_OF_REASON = {
    "blocked_term": Category.OFFENSIVE_REPLY,
    "other_call_content": Category.CROSS_CALL_DISCLOSURE,
    "unknown_url": Category.WRONG_INFORMATION,
    "unknown_phone_number": Category.WRONG_INFORMATION,
    "too_long": Category.WRONG_INFORMATION,
}

# Who may read a tenant's notices: those who handle privacy act on them, those who read the audit may look.
NOTICE_READERS = (Perm.HANDLE_PRIVACY, Perm.VIEW_AUDIT)


class Triage(StrEnum):
    DISMISS = "dismiss"
    ESCALATE = "escalate"


# Reads ------------------------------------------------------------------------------------------------------------

def allowed_transitions(incident: Incident) -> list[str]:
    """The statuses the incident may go to next, in the order of the status list (one staff button each)."""
    allowed = TRANSITIONS.get(incident.status, frozenset())
    return [status for status in S.values if status in allowed]


def breach_deadline(incident: Incident) -> datetime.datetime | None:
    """When the 72 hours of GDPR Art. 33 end, counted from CALLKOM's awareness; None when no breach is declared."""
    if not incident.personal_data_breach or incident.breach_aware_at is None:
        return None
    return incident.breach_aware_at + BREACH_WINDOW


def impacts_count(incident: Incident) -> tuple[int, int]:
    """(customers touched, customers not told yet) of the incident, in one query."""
    with all_tenants_scope("incident impacts"):
        counts = IncidentImpact.objects.filter(incident=incident).aggregate(
            total=Count("pk"), untold=Count("pk", filter=Q(notified_at__isnull=True)))
    return counts["total"], counts["untold"]


def breach_overdue(incident: Incident, *, now: datetime.datetime | None = None) -> bool:
    """Whether the 72 hours have passed while a customer touched has not been told (or none is known yet): past
    that point the controllers cannot meet their own deadline because of CALLKOM."""
    deadline = breach_deadline(incident)
    if deadline is None or (now or timezone.now()) <= deadline:
        return False
    total, untold = impacts_count(incident)
    return total == 0 or untold > 0


def can_read_notices(role: str) -> bool:
    return any(role_has(role, perm) for perm in NOTICE_READERS)


def tenant_notices(tenant: Tenant):
    """The notices CALLKOM sent the tenant, newest first; an impact staff have not notified yet stays out of sight."""
    return (IncidentImpact.objects.filter(tenant=tenant, notified_at__isnull=False)
            .select_related("incident", "acknowledged_by").order_by("-notified_at", "-pk"))


def tenant_notices_unacknowledged(tenant: Tenant):
    """The notices the tenant has yet to acknowledge, for the banner: one query, no encrypted column decrypted."""
    return (IncidentImpact.objects.filter(tenant=tenant, notified_at__isnull=False, acknowledged_at__isnull=True)
            .select_related("incident").only("notified_at", "incident__reference",
                                             "incident__personal_data_breach").order_by("-notified_at", "-pk"))


def suggested_category(candidates: Iterable[IncidentCandidate]) -> str:
    """The category most of the candidates' reasons point to, or "" when none does (for the staff form)."""
    votes = Counter(CATEGORY_OF_REASON[candidate.reason] for candidate in candidates
                    if candidate.reason in CATEGORY_OF_REASON)
    return votes.most_common(1)[0][0] if votes else ""


def check_detected_at(detected_at: datetime.datetime, *, breach_aware_at: datetime.datetime | None = None) -> None:
    """Refuse a detection in the future, or after the breach it revealed was known (the forms call this too)."""
    if detected_at > timezone.now():
        raise ValidationError({"detected_at": _("The detection cannot be in the future.")})
    if breach_aware_at is not None and detected_at > breach_aware_at:
        raise ValidationError({"detected_at": _("The detection cannot come after CALLKOM knew of the breach.")})


# Register and workflow --------------------------------------------------------------------------------------------

@transaction.atomic
def incident_open(*, title: str, category: str, severity: str, actor: User | None,
                  detected_at: datetime.datetime | None = None, description: str = "") -> Incident:
    """Register an incident. Its reference cannot be guessed: every customer touched sees it, and a running number
    would tell each of them how many incidents CALLKOM had in the year."""
    detected_at = detected_at or timezone.now()
    incident = Incident(reference=_new_reference(timezone.localtime(detected_at).year), title=title.strip(),
                        category=category, severity=severity, detected_at=detected_at,
                        description=description.strip(), created_by=actor)
    _validate(incident)
    incident.save()
    return incident


@transaction.atomic
def incident_edit(*, incident: Incident, title: str, category: str, severity: str, detected_at: datetime.datetime,
                  description: str, corrective_actions: str) -> Incident:
    """Correct what is known of an incident as the investigation goes on; a closed incident is a record and stays."""
    incident = _lock(incident)
    _refuse_closed(incident)
    incident.title, incident.category, incident.severity = title.strip(), category, severity
    incident.detected_at, incident.description = detected_at, description.strip()
    incident.corrective_actions = corrective_actions.strip()
    _validate(incident)
    incident.save()
    return incident


@transaction.atomic
def incident_transition(*, incident: Incident, to: str, corrective_actions: str | None = None,
                        closure_note: str = "") -> Incident:
    """Move the incident to ``to`` if TRANSITIONS allows it; ``corrective_actions``, when given, replaces them.

    Closing needs the corrective actions and a closure note, and for a breach every customer touched told: a
    closed incident is the record an authority or a customer asks for.
    """
    incident = _lock(incident)
    if to not in TRANSITIONS.get(incident.status, frozenset()):
        raise ValidationError(
            _("An incident cannot go from “%(from)s” to “%(to)s”."),
            params={"from": S(incident.status).label, "to": S(to).label if to in S.values else to},
            code="illegal_transition",
        )
    if corrective_actions is not None:
        incident.corrective_actions = corrective_actions.strip()
    if to == S.CLOSED:
        incident.closure_note, incident.closed_at = closure_note.strip(), timezone.now()
        _check_closable(incident)
    incident.status = to
    incident.save()
    return incident


def _check_closable(incident: Incident) -> None:
    errors = {}
    if not incident.corrective_actions:
        errors["corrective_actions"] = _("Describe the corrective actions before closing.")
    if not incident.closure_note:
        errors["closure_note"] = _("Write the closure note: what was concluded.")
    if incident.personal_data_breach and impacts_count(incident)[1]:
        errors[NON_FIELD_ERRORS] = _("A breach cannot be closed before every customer touched has been told.")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def breach_declare(*, incident: Incident, aware_at: datetime.datetime | None = None) -> Incident:
    """Record that the incident is a personal-data breach, known to CALLKOM since ``aware_at`` (now by default):
    the 72-hour clock starts there. Customers already told are told again: what they must do has changed."""
    incident = _lock(incident)
    _refuse_closed(incident)
    if incident.personal_data_breach:
        raise ValidationError(_("This breach was already declared, known since %(at)s.")
                              % {"at": date_format(timezone.localtime(incident.breach_aware_at), "DATETIME_FORMAT")})
    aware_at = aware_at or timezone.now()
    if aware_at > timezone.now():
        raise ValidationError({"aware_at": _("CALLKOM cannot know of a breach in the future.")})
    if aware_at < incident.detected_at:
        raise ValidationError({"aware_at": _("CALLKOM cannot have known of the breach before the incident was "
                                             "detected.")})
    incident.personal_data_breach, incident.breach_aware_at = True, aware_at
    _validate(incident)
    incident.save()
    with all_tenants_scope("breach declared"):
        for impact in IncidentImpact.objects.filter(incident=incident, notified_at__isnull=False):
            _rearm(impact)
            impact.save(update_fields=["notified_at", "acknowledged_at", "acknowledged_by"])
    return incident


def _validate(incident: Incident) -> None:
    check_detected_at(incident.detected_at, breach_aware_at=incident.breach_aware_at)
    incident.full_clean()


def _refuse_closed(incident: Incident) -> None:
    if incident.status == S.CLOSED:
        raise ValidationError(_("This incident is closed: it can no longer change. Open a new incident."),
                              code="closed")


def _lock(incident: Incident) -> Incident:
    """Re-read the incident under a lock: its impacts change under it, so two staff members act one after the other."""
    return Incident.objects.select_for_update().get(pk=incident.pk)


def _new_reference(year: int) -> str:
    while True:
        code = "".join(secrets.choice(REFERENCE_ALPHABET) for _i in range(REFERENCE_LENGTH))
        reference = f"INC-{year}-{code}"
        if not Incident.objects.filter(reference=reference).exists():
            return reference


# Customers touched ------------------------------------------------------------------------------------------------

@transaction.atomic
def impact_add(*, incident: Incident, tenant: Tenant, call_ids: Iterable = (), notice: str | None = None
               ) -> IncidentImpact:
    """Record that the incident touches ``tenant`` and which of its calls; set its notice when ``notice`` is given.

    More calls or another notice for a customer already told arm its notification again: what it was told no
    longer says everything. The calls are the staff's word (compliance does not read the calls app); the portal
    shows them to this tenant only.
    """
    incident = _lock(incident)
    _refuse_closed(incident)
    calls = _clean_call_ids(call_ids)
    with tenant_scope(tenant):
        impact = (IncidentImpact.objects.filter(incident=incident).first()
                  or IncidentImpact(tenant=tenant, incident=incident))
        new_calls = [call_id for call_id in calls if call_id not in impact.call_ids]
        notice = impact.notice if notice is None else notice.strip()
        if impact.pk is not None and not new_calls and notice == impact.notice:
            return impact
        impact.call_ids, impact.notice = [*impact.call_ids, *new_calls], notice
        _rearm(impact)
        impact.full_clean()
        impact.save()
    return impact


def _clean_call_ids(call_ids: Iterable) -> list[str]:
    """The call ids as canonical UUID strings, each once, in the order given."""
    cleaned = []
    for value in call_ids:
        try:
            call_id = str(uuid.UUID(str(value).strip()))
        except ValueError:
            raise ValidationError({"call_ids": _("“%(value)s” is not a call id.") % {"value": value}})
        if call_id not in cleaned:
            cleaned.append(call_id)
    return cleaned


def _rearm(impact: IncidentImpact) -> None:
    """Make the customer due to be told (again): the next notification includes it and its banner comes back."""
    impact.notified_at = impact.acknowledged_at = impact.acknowledged_by = None


# Triage -----------------------------------------------------------------------------------------------------------

@transaction.atomic
def candidate_triage(*, candidates: Iterable[IncidentCandidate], decision: Triage, actor: User | None,
                     incident: Incident | None = None, title: str = "", category: str = "", severity: str = ""
                     ) -> Incident | None:
    """Dismiss what the safeguards caught, or escalate it: into ``incident``, or into a new incident made from
    ``title``, ``category`` and ``severity``. Each escalated candidate's customer and call join the impacts.

    Return the incident escalated into (None for a dismissal). A dismissed candidate may be escalated later; an
    escalated one belongs to its incident for good.
    """
    rows = list(IncidentCandidate._base_manager.select_for_update().select_related("tenant")
                .filter(pk__in=[candidate.pk for candidate in candidates]).order_by("detected_at"))
    if not rows:
        raise ValidationError(_("Choose at least one incident candidate."))
    if decision == Triage.DISMISS:
        _dismiss(rows)
        return None
    if incident is None:
        incident = incident_open(title=title, category=category, severity=severity, actor=actor,
                                 detected_at=rows[0].detected_at)
    _escalate(rows, incident)
    return incident


def _dismiss(rows: list[IncidentCandidate]) -> None:
    if any(row.status == IncidentCandidate.Status.ESCALATED for row in rows):
        raise ValidationError(_("An escalated candidate belongs to its incident and cannot be dismissed."))
    for row in rows:
        if row.status != IncidentCandidate.Status.DISMISSED:
            row.status = IncidentCandidate.Status.DISMISSED
            with tenant_scope(row.tenant):
                row.save(update_fields=["status"])


def _escalate(rows: list[IncidentCandidate], incident: Incident) -> None:
    _refuse_closed(incident)
    if any(row.incident_id not in (None, incident.pk) for row in rows):
        raise ValidationError(_("A candidate already belongs to another incident."))
    calls_by_tenant: dict[Tenant, list[str]] = defaultdict(list)
    for row in rows:
        row.status, row.incident = IncidentCandidate.Status.ESCALATED, incident
        with tenant_scope(row.tenant):
            row.save(update_fields=["status", "incident"])
        calls_by_tenant[row.tenant].extend([row.call_id] if row.call_id else [])
    for tenant, call_ids in calls_by_tenant.items():
        impact_add(incident=incident, tenant=tenant, call_ids=call_ids)


# Telling the customers --------------------------------------------------------------------------------------------

@transaction.atomic
def impacts_notify(*, incident: Incident) -> int:
    """Tell every customer touched and not told yet: an e-mail to its DPO (or else its owners and DPO members)
    with a link to the notice, the portal banner until someone acknowledges it, and the ``incident.notified``
    webhook. Return how many customers were told; running it again tells nobody twice."""
    incident = _lock(incident)
    with all_tenants_scope("incident notification"):
        impacts = list(IncidentImpact.objects.select_related("tenant")
                       .filter(incident=incident, notified_at__isnull=True).order_by("pk"))
    now = timezone.now()
    for impact in impacts:
        with tenant_scope(impact.tenant):
            impact.notified_at = now
            impact.save(update_fields=["notified_at"])
            _notify(_controller_recipients(impact.tenant), "incident", _mail_context(incident, impact))
            transaction.on_commit(partial(_notified_emit, incident, impact), robust=True)
    return len(impacts)


def _notice_url(impact: IncidentImpact) -> str:
    return settings.CALLKOM_PUBLIC_URL + reverse("incident-notice-detail", args=[impact.tenant.slug, impact.pk])


def _mail_context(incident: Incident, impact: IncidentImpact) -> dict:
    """What the e-mail may say: the reference, kind and gravity, the number of calls, the breach deadline and the
    link; never the notice, the description or the calls themselves, which may name people."""
    return {"incident": incident, "tenant": impact.tenant, "calls": len(impact.call_ids),
            "deadline": breach_deadline(incident), "notice_url": _notice_url(impact)}


def _notified_emit(incident: Incident, impact: IncidentImpact) -> None:
    """Tell the customer's systems, with its own call ids (its systems know them) and the link to the notice."""
    event_emit(tenant=impact.tenant, event=Event.INCIDENT_NOTIFIED, data={
        "id": impact.pk,
        "reference": incident.reference,
        "category": incident.category,
        "severity": incident.severity,
        "status": incident.status,
        "detected_at": incident.detected_at,
        "personal_data_breach": incident.personal_data_breach,
        "breach_aware_at": incident.breach_aware_at,
        "breach_deadline": breach_deadline(incident),
        "call_ids": impact.call_ids,
        "notified_at": impact.notified_at,
        "portal_url": _notice_url(impact),
    })


@transaction.atomic
def impact_acknowledge(*, impact: IncidentImpact, actor: User) -> IncidentImpact:
    """Record that the customer has read its notice, which removes the banner; acknowledging again keeps the first.

    Only a member who handles privacy may: the acknowledgement says the controller has taken the notice in hand.
    """
    membership = membership_for(actor, impact.tenant)
    if membership is None or not role_has(membership.role, Perm.HANDLE_PRIVACY):
        raise PermissionDenied
    with tenant_scope(impact.tenant):
        impact = IncidentImpact.objects.select_for_update().get(pk=impact.pk)
        if impact.notified_at is None:
            raise ValidationError(_("There is no notice to acknowledge yet."))
        if impact.acknowledged_at is None:
            impact.acknowledged_at, impact.acknowledged_by = timezone.now(), actor
            impact.save(update_fields=["acknowledged_at", "acknowledged_by"])
    return impact
