"""Data-subject rights requests: intake, e-mail verification, routing to the controllers, states and deadlines.

CALLKOM is the processor: it receives a request (public form, or staff intake for phone, post and e-mail), checks
that the requester controls the e-mail address, then forwards one copy to every customer (controller) that holds
data about the person, found through the personal-data registry by blind index. The controllers decide. Requests
about CALLKOM's own processing, and those no customer matches, stay with CALLKOM staff.

Nothing said to the requester depends on whether, or where, data was found: the receipt letter is the same for
everyone, routing runs after the verification answer, and only a controller's own decision (which the controller
makes and signs) reaches the requester with its name.

Every write is a function with keyword-only arguments running in one transaction; every status change goes
through :func:`transition`, which enforces the transition tables and writes the timeline.
"""

from __future__ import annotations

import calendar
import datetime
import hashlib
import hmac
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from tenants.crypto import email_index, normalize_email, normalize_phone, phone_index
from tenants.models import Membership, Tenant, User
from tenants.roles import Role
from tenants.scope import all_tenants_scope, tenant_scope
from webhooks.models import Event
from webhooks.services import event_emit

from . import registry
from .models import (
    ACTIONABLE_STATUSES,
    CLOSED_STATUSES,
    EventKind,
    RequestChannel,
    RequestEvent,
    RequestStatus,
    RightsRequest,
    RoutedRequest,
    RoutedRequestEvent,
    VerificationCode,
)

S = RequestStatus

CODE_TTL = datetime.timedelta(minutes=10)
CODE_MAX_ATTEMPTS = 3
CODES_PER_HOUR = 5
EXTENSION_MONTHS = (1, 2)
REMINDER_DAYS = (7, 2)
TEXT_MAX = 5000
REFERENCE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: references are read out on the phone
REFERENCE_LENGTH = 8  # 32**8 ≈ 10**12: a reference cannot be guessed

# The request as CALLKOM handles it. It reaches awaiting_controller only through request_route/request_forward
# (which create the copies), and leaves it for completed when every controller has answered.
INTAKE_TRANSITIONS: dict[str, frozenset[str]] = {
    S.RECEIVED: frozenset({S.IDENTITY_UNVERIFIED, S.VERIFIED, S.CANCELED}),
    S.IDENTITY_UNVERIFIED: frozenset({S.VERIFIED, S.CANCELED}),
    S.VERIFIED: frozenset({S.AWAITING_CONTROLLER, S.APPROVED, S.DENIED, S.CANCELED, S.ERROR}),
    S.AWAITING_CONTROLLER: frozenset({S.COMPLETED, S.CANCELED, S.ERROR}),
    S.APPROVED: frozenset({S.IN_PROGRESS, S.CANCELED, S.ERROR}),
    S.IN_PROGRESS: frozenset({S.COMPLETED, S.ERROR}),
    S.ERROR: frozenset({S.VERIFIED, S.IN_PROGRESS, S.CANCELED}),
    S.DENIED: frozenset(),
    S.COMPLETED: frozenset(),
    S.CANCELED: frozenset(),
}

# One controller's copy: it starts awaiting the controller's decision.
ROUTED_TRANSITIONS: dict[str, frozenset[str]] = {
    S.AWAITING_CONTROLLER: frozenset({S.APPROVED, S.DENIED, S.CANCELED, S.ERROR}),
    S.APPROVED: frozenset({S.IN_PROGRESS, S.CANCELED, S.ERROR}),
    S.IN_PROGRESS: frozenset({S.COMPLETED, S.ERROR}),
    S.ERROR: frozenset({S.AWAITING_CONTROLLER, S.IN_PROGRESS, S.CANCELED}),
    S.DENIED: frozenset(),
    S.COMPLETED: frozenset(),
    S.CANCELED: frozenset(),
}

Item = RightsRequest | RoutedRequest


# Deadlines -------------------------------------------------------------------------------------------------------

def add_months(day: datetime.date, months: int) -> datetime.date:
    """Return the same day ``months`` later, clamped to the end of a shorter month (31 January + 1 = 28/29 February).

    This is how a period "of one month" counts in GDPR Art. 12(3): to the same day of the next month, or the last day
    of that month when it has no such day.
    """
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


def received_on(item: Item) -> datetime.date:
    """The local date of receipt by CALLKOM, from which every deadline of the request and its copies counts."""
    return timezone.localdate(_intake(item).received_at)


def transitions_of(item: Item) -> dict[str, frozenset[str]]:
    return INTAKE_TRANSITIONS if isinstance(item, RightsRequest) else ROUTED_TRANSITIONS


def allowed_transitions(item: Item) -> list[str]:
    """The statuses the item may go to next, in the order of the status list (for the staff buttons)."""
    allowed = transitions_of(item).get(item.status, frozenset())
    return [status for status in S.values if status in allowed and _blocked(item, status) is None]


def _blocked(item: Item, to: str) -> str | None:
    """Why a move the table allows cannot happen now, or None. A forwarded request completes when the last
    controller answers, not before."""
    if isinstance(item, RightsRequest) and item.status == S.AWAITING_CONTROLLER and to == S.COMPLETED:
        with all_tenants_scope("rights request completion"):
            if RoutedRequest.objects.filter(request=item).exclude(status__in=CLOSED_STATUSES).exists():
                return _("Some companies have not answered yet.")
    return None


def can_extend(item: Item) -> bool:
    return _extension_refusal(item) is None


def _extension_refusal(item: Item) -> str | None:
    """Why the deadline cannot be extended now, or None."""
    if item.status not in ACTIONABLE_STATUSES:
        return _("Only a verified, open request can be extended.")
    if isinstance(item, RightsRequest) and item.status == S.AWAITING_CONTROLLER:
        return _("Each company extends its own copy of a forwarded request.")
    if item.extended_due_at is not None:
        return _("The deadline has already been extended once.")
    if timezone.localdate() > item.due_at:
        return _("The deadline can only be extended before the first month ends.")
    return None


# Intake ----------------------------------------------------------------------------------------------------------

@transaction.atomic
def request_submit(*, kind: str, requester_name: str, requester_email: str, requester_phone: str = "",
                   company_named: str = "", details: str = "", language: str, about_callkom: bool = False
                   ) -> RightsRequest:
    """Record a request from the public form and e-mail the verification code. Nothing is routed before the code."""
    if not requester_email:
        raise ValidationError({"requester_email": _("An e-mail address is needed to verify the request.")})
    request = _create(kind=kind, channel=RequestChannel.WEB, requester_name=requester_name,
                      requester_email=requester_email, requester_phone=requester_phone, company_named=company_named,
                      details=details, language=language, about_callkom=about_callkom, received_at=timezone.now(),
                      actor=None)
    code_send(request=request)
    request.refresh_from_db()
    return request


@transaction.atomic
def request_intake(*, kind: str, channel: str, requester_name: str, requester_email: str = "",
                   requester_phone: str = "", company_named: str = "", details: str = "", language: str,
                   about_callkom: bool = False, received_at: datetime.datetime | None = None, actor: User,
                   note: str) -> RightsRequest:
    """Record a request received by phone, post or e-mail. Staff checked the identity (``note`` says how), so the
    request is verified at once and routed like a web request."""
    if channel == RequestChannel.WEB:
        raise ValidationError({"channel": _("Requests from the web form are submitted by the requester.")})
    if not note.strip():
        raise ValidationError({"note": _("Say how the requester's identity was checked.")})
    received_at = received_at or timezone.now()
    if received_at > timezone.now():
        raise ValidationError({"received_at": _("The date of receipt cannot be in the future.")})
    request = _create(kind=kind, channel=channel, requester_name=requester_name, requester_email=requester_email,
                      requester_phone=requester_phone, company_named=company_named, details=details,
                      language=language, about_callkom=about_callkom, received_at=received_at, actor=actor)
    return transition(item=request, to=S.VERIFIED, actor=actor, note=note)


def _create(*, kind, channel, requester_name, requester_email, requester_phone, company_named, details, language,
            about_callkom, received_at, actor) -> RightsRequest:
    email = normalize_email(requester_email) if requester_email else ""
    phone = normalize_phone(requester_phone) if requester_phone else ""
    if not email and not phone:
        raise ValidationError(_("Give an e-mail address or a phone number: without one the request cannot be routed."))
    request = RightsRequest(
        reference=_new_reference(timezone.localtime(received_at).year), kind=kind, channel=channel, language=language,
        requester_name=requester_name.strip(), requester_email=email, requester_phone=phone,
        phone_index=phone_index(phone) if phone else "", email_index=email_index(email) if email else "",
        company_named=company_named.strip(), details=details.strip()[:TEXT_MAX], about_callkom=about_callkom,
        status=S.RECEIVED, received_at=received_at, due_at=add_months(timezone.localdate(received_at), 1),
        created_by=actor,
    )
    request.full_clean()
    request.save()
    _record(request, kind=EventKind.TRANSITION, actor=actor, to_status=S.RECEIVED,
            note=_("Received through: %(channel)s.") % {"channel": request.get_channel_display()})
    return request


def _new_reference(year: int) -> str:
    while True:
        code = "".join(secrets.choice(REFERENCE_ALPHABET) for _i in range(REFERENCE_LENGTH))
        reference = f"RR-{year}-{code}"
        if not RightsRequest.objects.filter(reference=reference).exists():
            return reference


# Verification ----------------------------------------------------------------------------------------------------

@transaction.atomic
def code_send(*, request: RightsRequest) -> None:
    """E-mail a new 6-digit code, valid 10 minutes; earlier codes stop working. Only the code's HMAC is stored."""
    request = _lock(request)
    if request.status not in (S.RECEIVED, S.IDENTITY_UNVERIFIED):
        raise ValidationError(_("This request does not need a code any more."), code="not_needed")
    now = timezone.now()
    if request.codes.filter(created_at__gte=now - datetime.timedelta(hours=1)).count() >= CODES_PER_HOUR:
        raise ValidationError(_("Too many codes were sent for this request. Please try again in an hour."),
                              code="too_many_codes")
    request.codes.filter(used=False).update(used=True)
    code = f"{secrets.randbelow(10**6):06d}"
    VerificationCode.objects.create(request=request, code_hash=_code_hash(request, code), created_at=now,
                                    expires_at=now + CODE_TTL)
    if request.status == S.RECEIVED:
        transition(item=request, to=S.IDENTITY_UNVERIFIED, note=_("Verification code sent."))
    else:
        _record(request, kind=EventKind.NOTICE, note=_("New verification code sent."))
    minutes = int(CODE_TTL.total_seconds() // 60)
    _mail_requester(request, "code", {"code": code, "minutes": minutes}, record=False)


def code_verify(*, request: RightsRequest, code: str) -> RightsRequest:
    """Check a code. A wrong or expired code raises ValidationError; the third wrong attempt kills the code.

    The attempt is counted in its own transaction that commits before the error is raised, so that an error never
    undoes the count.
    """
    error = _code_check(request=request, code=code)
    if error is not None:
        raise error
    return RightsRequest.objects.get(pk=request.pk)


@transaction.atomic
def _code_check(*, request: RightsRequest, code: str) -> ValidationError | None:
    request = _lock(request)
    if request.status not in (S.RECEIVED, S.IDENTITY_UNVERIFIED):
        if request.verified_at is not None:
            return None
        return ValidationError(_("This request can no longer be verified."), code="closed")
    current = request.codes.filter(used=False).order_by("-created_at").first()
    if current is None:
        return ValidationError(_("This request has no valid code. Ask for a new code."), code="no_code")
    if current.expires_at <= timezone.now():
        return ValidationError(_("This code has expired. Ask for a new code."), code="expired")
    if not hmac.compare_digest(current.code_hash, _code_hash(request, code.strip())):
        current.attempts += 1
        current.used = current.attempts >= CODE_MAX_ATTEMPTS
        current.save(update_fields=["attempts", "used"])
        if current.used:
            return ValidationError(_("Wrong code. This code can no longer be used: ask for a new code."),
                                   code="code_dead")
        left = CODE_MAX_ATTEMPTS - current.attempts
        return ValidationError(ngettext("Wrong code. %(left)d attempt left.", "Wrong code. %(left)d attempts left.",
                                        left) % {"left": left}, code="wrong_code")
    current.used = True
    current.save(update_fields=["used"])
    transition(item=request, to=S.VERIFIED, note=_("E-mail address verified by code."))
    return None


def _code_hash(request: RightsRequest, code: str) -> str:
    """HMAC under the server's key: a stolen table of 6-digit codes cannot be reversed by trying all million."""
    message = f"rights-code:{request.reference}:{code}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


# Routing ---------------------------------------------------------------------------------------------------------

@transaction.atomic
def request_route(*, request: RightsRequest) -> RightsRequest:
    """Forward a verified request to every controller holding data about the person, or keep it with staff.

    Each controller gets its own copy and an e-mail (to its DPO, or else its owners and DPOs) that holds no
    personal data. The requester is told nothing here: what they hear must not depend on the outcome.
    """
    request = _lock(request)
    if request.status != S.VERIFIED or request.staff_handled:
        return request
    if request.about_callkom:
        return _hold_for_staff(request, _("The request is about CALLKOM's own processing."))
    matches = _matches(request)
    if not matches:
        return _hold_for_staff(request, _("No customer holds data matching this request."))
    tenants = list(Tenant.objects.filter(pk__in=matches).order_by("name"))
    already = _copy_holders(request)  # routing again after an error adds only what is missing
    for tenant in tenants:
        if tenant.pk not in already:
            _route_to(request, tenant, matches[tenant.pk])
    names = ", ".join(tenant.name for tenant in tenants)
    return transition(item=request, to=S.AWAITING_CONTROLLER, note=_("Forwarded to: %(names)s.") % {"names": names})


@transaction.atomic
def request_forward(*, request: RightsRequest, tenants: list[Tenant], actor: User, note: str = "") -> RightsRequest:
    """Forward a request to controllers chosen by staff (the blind index found no one, but the requester named the
    company), or to one more controller. Tenants that already have a copy are skipped."""
    request = _lock(request)
    if request.status not in (S.VERIFIED, S.AWAITING_CONTROLLER):
        raise ValidationError(_("Only a verified request can be forwarded."))
    already = _copy_holders(request)
    new = [tenant for tenant in tenants if tenant.pk not in already]
    if not new:
        raise ValidationError({"tenants": _("Choose at least one company that does not have this request yet.")})
    for tenant in new:
        _route_to(request, tenant, ["staff"], actor=actor)
    names = ", ".join(tenant.name for tenant in new)
    summary = _("Forwarded by CALLKOM staff to: %(names)s.") % {"names": names}
    if request.status == S.AWAITING_CONTROLLER:
        _record(request, kind=EventKind.NOTICE, actor=actor, note=f"{summary}\n{note}".strip())
        return request
    request.staff_handled = False
    request.save(update_fields=["staff_handled"])
    return transition(item=request, to=S.AWAITING_CONTROLLER, actor=actor, note=f"{summary}\n{note}".strip())


def _copy_holders(request: RightsRequest) -> set[int]:
    with all_tenants_scope("rights request routing"):
        return set(RoutedRequest.objects.filter(request=request).values_list("tenant_id", flat=True))


def _matches(request: RightsRequest) -> dict[int, list[str]]:
    """Map each tenant holding data about the person to what matched ("phone", "email"), for the controller."""
    with all_tenants_scope("rights request routing"):
        by_phone = registry.holders(phone_index=request.phone_index or None, email_index=None)
        by_email = registry.holders(phone_index=None, email_index=request.email_index or None)
    return {
        tenant_id: [label for label, ids in (("phone", by_phone), ("email", by_email)) if tenant_id in ids]
        for tenant_id in by_phone | by_email
    }


def _route_to(request: RightsRequest, tenant: Tenant, matched_on: list[str], actor: User | None = None) -> None:
    with tenant_scope(tenant):
        routed = RoutedRequest(tenant=tenant, request=request, matched_on=matched_on, status=S.AWAITING_CONTROLLER,
                               due_at=request.due_at, extended_due_at=request.extended_due_at,
                               extension_reason=request.extension_reason, extended_at=request.extended_at)
        routed.save()
        _record(routed, kind=EventKind.TRANSITION, actor=actor, to_status=S.AWAITING_CONTROLLER,
                note=_("Forwarded to you by CALLKOM."))
        _notify(_controller_recipients(tenant), "forwarded", {"item": routed, "rights_request": request,
                                                              "tenant": tenant})
        transaction.on_commit(lambda: _forwarded_emit(routed), robust=True)


def _forwarded_emit(routed: RoutedRequest) -> None:
    """Tell the controller's systems that a request awaits its decision: what and by when, but not who (the
    person's details stay behind the portal link, where access is limited to those who handle privacy)."""
    request = routed.request
    event_emit(tenant=routed.tenant, event=Event.RIGHTS_REQUEST_FORWARDED, data={
        "id": str(routed.pk),
        "reference": request.reference,
        "type": request.kind,
        "matched_on": routed.matched_on,
        "received_at": request.received_at,
        "due_at": routed.extended_due_at or routed.due_at,
        "portal_url": settings.CALLKOM_PUBLIC_URL + reverse("privacy-request-detail",
                                                            args=[routed.tenant.slug, routed.pk]),
    })


def _hold_for_staff(request: RightsRequest, reason: str) -> RightsRequest:
    request.staff_handled = True
    request.save(update_fields=["staff_handled"])
    _record(request, kind=EventKind.NOTICE, note=_("Kept with CALLKOM staff: %(reason)s") % {"reason": reason})
    _notify(_staff_recipients(), "staff_new", {"rights_request": request, "reason": reason})
    return request


# Transitions -----------------------------------------------------------------------------------------------------

@transaction.atomic
def transition(*, item: Item, to: str, actor: User | None = None, note: str = "") -> Item:
    """Move a request or a routed copy to ``to`` if the table allows it; record it; send what follows from it.

    A denial needs its reason (``note``): the requester receives it (GDPR Art. 12(4)).
    """
    item = _lock(item)
    previous = item.status
    if to not in transitions_of(item).get(previous, frozenset()):
        raise ValidationError(
            _("A request cannot go from “%(from)s” to “%(to)s”."),
            params={"from": S(previous).label, "to": S(to).label if to in S.values else to},
            code="illegal_transition",
        )
    reason = _blocked(item, to)
    if reason is not None:
        raise ValidationError(reason, code="blocked")
    note = note.strip()[:TEXT_MAX]
    if to == S.DENIED and not note:
        raise ValidationError({"note": _("Give the reason for the refusal: it is sent to the requester.")})
    item.status = to
    _stamp(item, to, actor, note)
    item.save()
    _record(item, kind=EventKind.TRANSITION, actor=actor, from_status=previous, to_status=to, note=note)
    _after(item, previous, to, actor)
    return item


def _stamp(item: Item, to: str, actor: User | None, note: str) -> None:
    now = timezone.now()
    if to in (S.APPROVED, S.DENIED):
        item.decided_at, item.decided_by, item.decision_reason = now, actor, note
    elif to == S.COMPLETED:
        item.completed_at = now
    elif to == S.VERIFIED and isinstance(item, RightsRequest) and item.verified_at is None:
        item.verified_at = now


def _after(item: Item, previous: str, to: str, actor: User | None) -> None:
    """What a transition sets off: letters to the requester, routing, and keeping request and copies in step."""
    intake = isinstance(item, RightsRequest)
    if intake and to == S.VERIFIED:
        if previous in (S.RECEIVED, S.IDENTITY_UNVERIFIED):
            letter(item, "receipt")
        if not item.staff_handled:
            transaction.on_commit(lambda: _route_later(item.pk))
    elif to in (S.APPROVED, S.DENIED):
        letter(item, "decision")
    elif to == S.COMPLETED and not (intake and previous == S.AWAITING_CONTROLLER):
        letter(item, "completion")
    if to == S.ERROR:
        _notify(_staff_recipients(), "error", {"rights_request": _intake(item), "item": item})
    if intake and to == S.CANCELED:
        _cancel_copies(item, actor)
    if not intake and to in CLOSED_STATUSES:
        _close_when_answered(item.request)


def _route_later(request_id: int) -> None:
    from .tasks import rights_route

    rights_route.delay(request_id)


def _cancel_copies(request: RightsRequest, actor: User | None) -> None:
    with all_tenants_scope("rights request canceled"):
        copies = list(RoutedRequest.objects.filter(request=request).exclude(status__in=CLOSED_STATUSES))
    for routed in copies:
        with tenant_scope(routed.tenant):
            transition(item=routed, to=S.CANCELED, actor=actor, note=_("The request was canceled by CALLKOM."))


def _close_when_answered(request: RightsRequest) -> None:
    """Close the request once every controller has answered (denied, completed or canceled its copy)."""
    request = _lock(request)
    if request.status == S.AWAITING_CONTROLLER and _blocked(request, S.COMPLETED) is None:
        transition(item=request, to=S.COMPLETED, note=_("Every controller has answered."))


# Controller and staff actions ------------------------------------------------------------------------------------

@transaction.atomic
def decide(*, routed: RoutedRequest, approve: bool, reason: str, actor: User) -> RoutedRequest:
    """The controller's decision on its copy; the requester receives it, with the reason, in their language."""
    return transition(item=routed, to=S.APPROVED if approve else S.DENIED, actor=actor, note=reason)


@transaction.atomic
def extend(*, item: Item, months: int = 2, reason: str, actor: User) -> Item:
    """Extend the deadline once by up to two months (GDPR Art. 12(3)), before the first month ends; the requester
    is told why."""
    item = _lock(item)
    refusal = _extension_refusal(item)
    if refusal is not None:
        raise ValidationError(refusal)
    if months not in EXTENSION_MONTHS:
        raise ValidationError({"months": _("The extension is one or two months.")})
    reason = reason.strip()[:TEXT_MAX]
    if not reason:
        raise ValidationError({"reason": _("Give the reason for the extension: it is sent to the requester.")})
    item.extended_due_at = add_months(received_on(item), 1 + months)
    item.extension_reason = reason
    item.extended_at = timezone.now()
    item.save(update_fields=["extended_due_at", "extension_reason", "extended_at"])
    _record(item, kind=EventKind.EXTENSION, actor=actor, note=reason)
    letter(item, "extension")
    return item


@transaction.atomic
def comment(*, item: Item, note: str, actor: User) -> None:
    """Add a note to the timeline (a copy's notes are seen by its controller and by CALLKOM staff)."""
    note = note.strip()
    if not note:
        raise ValidationError({"note": _("Write a comment.")})
    if len(note) > TEXT_MAX:
        raise ValidationError({"note": _("A comment is at most %(max)d characters.") % {"max": TEXT_MAX}})
    _record(item, kind=EventKind.COMMENT, actor=actor, note=note)


# Reminders -------------------------------------------------------------------------------------------------------

def reminders_send(*, today: datetime.date | None = None) -> int:
    """Remind whoever must act 7 and 2 days before a deadline, once each (daily, from beat); return how many.

    A reminder is keyed by the deadline, so an extension brings new reminders; a missed day still sends the
    nearest one, never two at once.
    """
    today = today or timezone.localdate()
    horizon = today + datetime.timedelta(days=max(REMINDER_DAYS))
    with all_tenants_scope("rights request reminders"):
        copies = list(_due_soon(RoutedRequest.objects.select_related("tenant", "request"), horizon))
    sent = 0
    for routed in copies:
        with tenant_scope(routed.tenant):
            sent += _remind(routed, today)
    for request in _due_soon(RightsRequest.objects.filter(staff_handled=True), horizon):
        sent += _remind(request, today)
    return sent


def _due_soon(queryset, horizon: datetime.date):
    return (queryset.filter(status__in=ACTIONABLE_STATUSES).annotate(deadline_on=Coalesce("extended_due_at", "due_at"))
            .filter(deadline_on__lte=horizon))


@transaction.atomic
def _remind(item: Item, today: datetime.date) -> int:
    item = _lock(item)
    days_left = (item.deadline - today).days
    pending = [days for days in REMINDER_DAYS
               if days_left <= days and f"{item.deadline.isoformat()}:{days}" not in item.reminders_sent]
    if not pending:
        return 0
    item.reminders_sent = [*item.reminders_sent, *(f"{item.deadline.isoformat()}:{days}" for days in pending)]
    item.save(update_fields=["reminders_sent"])
    if isinstance(item, RoutedRequest):
        recipients, tenant = _controller_recipients(item.tenant), item.tenant
    else:
        recipients, tenant = _staff_recipients(), None
    _notify(recipients, "reminder", {"rights_request": _intake(item), "item": item, "tenant": tenant,
                                     "days_left": days_left})
    return 1


# Timeline, letters and e-mails -----------------------------------------------------------------------------------

def _intake(item: Item) -> RightsRequest:
    return item if isinstance(item, RightsRequest) else item.request


def _lock(item):
    """Re-read the row under a lock, so that two people acting at once cannot both move it from the same state.

    By primary key through the base manager: the caller already found the row within its own scope.
    """
    return type(item)._base_manager.select_for_update().get(pk=item.pk)


def _record(item: Item, *, kind: str, actor: User | None = None, from_status: str = "", to_status: str = "",
            note: str = "") -> None:
    fields = {"kind": kind, "actor": actor, "from_status": from_status, "to_status": to_status, "note": note}
    if isinstance(item, RightsRequest):
        RequestEvent.objects.create(request=item, **fields)
    else:
        RoutedRequestEvent.objects.create(tenant_id=item.tenant_id, routed=item, **fields)


def letter(item: Item, name: str, *, extra: dict | None = None, record: bool = True) -> None:
    """Write to the requester in their language; the text goes into the timeline (staff post it when no e-mail).

    ``record=False`` keeps a letter out of the timeline, for one that holds a secret (a download link) and goes by
    e-mail; the caller then notes in the timeline that it was sent.
    """
    routed = isinstance(item, RoutedRequest)
    context = {"item": item, "routed": routed, "controller": item.tenant.legal_name if routed else "CALLKOM",
               **(extra or {})}
    _mail_requester(_intake(item), name, context, record=record, timeline=item)


def _mail_requester(request: RightsRequest, name: str, context: dict, *, record: bool,
                    timeline: Item | None = None) -> None:
    context = {"rights_request": request, "privacy_email": settings.PRIVACY_CONTACT_EMAIL, **context}
    subject, body = _render(f"compliance/letters/{name}", context, request.language)
    if request.requester_email:
        _send_on_commit(subject, body, [request.requester_email])
    if record:
        with translation.override(request.language):
            heading = "" if request.requester_email else _("No e-mail address: send this letter by post.") + "\n\n"
        _record(timeline or request, kind=EventKind.LETTER, note=f"{heading}{subject}\n\n{body}")


def _notify(recipients: list[tuple[str, str]], name: str, context: dict) -> None:
    """E-mail controllers or staff, each in their language. These e-mails never hold personal data."""
    for address, language in recipients:
        subject, body = _render(f"compliance/emails/{name}", context, language)
        _send_on_commit(subject, body, [address])


def _render(template: str, context: dict, language: str) -> tuple[str, str]:
    with translation.override(language):
        subject = " ".join(render_to_string(f"{template}_subject.txt", context).split())
        body = render_to_string(f"{template}.txt", context)
    return subject, body


def _send_on_commit(subject: str, body: str, to: list[str]) -> None:
    message = EmailMessage(subject, body, to=to, reply_to=[settings.PRIVACY_CONTACT_EMAIL])
    transaction.on_commit(message.send)


def _controller_recipients(tenant: Tenant) -> list[tuple[str, str]]:
    """The tenant's DPO address, or else its owners and DPO members; each with its user's language if known."""
    if tenant.dpo_email:
        addresses = {normalize_email(tenant.dpo_email)}
    else:
        with tenant_scope(tenant):
            addresses = set(Membership.objects.filter(role__in=[Role.OWNER, Role.DPO])
                            .values_list("user__email", flat=True))
    languages = dict(User.objects.filter(email__in=addresses).values_list("email", "language"))
    return [(address, languages.get(address, settings.LANGUAGE_CODE)) for address in sorted(addresses)]


def _staff_recipients() -> list[tuple[str, str]]:
    return [(settings.PRIVACY_CONTACT_EMAIL, settings.LANGUAGE_CODE)]

