"""Change notices and objections: announcing a change of the register ahead of time, customers objecting to it,
staff answering each objection, and the change taking effect on its date.

A notice goes draft → announced → applied, or → withdrawn before it takes effect. Announcing needs an effective
date at least ``settings.SUBPROCESSOR_NOTICE_DAYS`` days ahead; it mails every customer's DPO and owners and the
confirmed subscribers once each (``mailing.mailing_create``, sent by Celery) and emits the
``subprocessor.change_announced`` webhook to every active customer. Until the effective date a customer may object;
while its objection is open (and for good once staff exempt it or end the contract) its data never reaches the
provider brought in or changed (``selectors.objected_slugs``, read by the pipeline). On the effective date the beat
task ``subprocessors.notices_apply_due`` applies the change and publishes a new version of the public list.

Every write is a function with keyword-only arguments running in one transaction; ChangeNotice and Objection are
in the audit log (registered in ``apps.py``).
"""

from __future__ import annotations

import copy
import datetime
import logging
from functools import partial

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from tenants.models import Tenant, User
from tenants.roles import Perm, role_has
from tenants.scope import all_tenants_scope, tenant_scope
from tenants.selectors import membership_for
from webhooks.models import Event
from webhooks.services import event_emit

from .mailing import mailing_create, tenant_recipients
from .models import ChangeNotice, Objection, Subprocessor
from .register import register_publish

Kind = ChangeNotice.Kind
NS = ChangeNotice.Status
OS = Objection.Status
SP = Subprocessor.Status

# Who may object for a customer. Objecting to a subprocessor (GDPR Art. 28(2)) is the controller's decision about
# its contract with CALLKOM: those who handle privacy (owners, DPO) and those who manage the account's settings
# (owners, administrators) may; campaign managers and viewers read the notices only.
OBJECTORS = (Perm.HANDLE_PRIVACY, Perm.MANAGE_SETTINGS)

REASON_MIN_WORDS = 3
REASON_MAX_LENGTH = 2000
RESOLUTIONS = (OS.ANSWERED, OS.EXEMPTED, OS.CONTRACT_ENDED)

log = logging.getLogger(__name__)


# Reads ------------------------------------------------------------------------------------------------------------

def can_object(role: str) -> bool:
    return any(role_has(role, perm) for perm in OBJECTORS)


def notice_days() -> int:
    return settings.SUBPROCESSOR_NOTICE_DAYS


def earliest_effective_date(today: datetime.date | None = None) -> datetime.date:
    """The first effective date a notice announced today may have."""
    return (today or timezone.localdate()) + datetime.timedelta(days=notice_days())


def objection_deadline(notice: ChangeNotice) -> datetime.date | None:
    """The last day customers may object (the day before the change takes effect); None for a removal."""
    if notice.kind == Kind.REMOVAL:
        return None
    return notice.effective_date - datetime.timedelta(days=1)


def is_due(notice: ChangeNotice, today: datetime.date | None = None) -> bool:
    return notice.status == NS.ANNOUNCED and notice.effective_date <= (today or timezone.localdate())


def can_withdraw(notice: ChangeNotice, today: datetime.date | None = None) -> bool:
    """A draft, or an announced notice that has not taken effect yet."""
    if notice.status == NS.DRAFT:
        return True
    return notice.status == NS.ANNOUNCED and (today or timezone.localdate()) < notice.effective_date


def allowed_actions(notice: ChangeNotice) -> list[str]:
    """The staff actions open on the notice, in button order: announce, apply, withdraw."""
    actions = []
    if notice.status == NS.DRAFT:
        actions.append("announce")
    if is_due(notice):
        actions.append("apply")
    if can_withdraw(notice):
        actions.append("withdraw")
    return actions


def published_notices():
    """Notices customers may see: announced once (drafts stay with staff), newest effective date first."""
    return (ChangeNotice.objects.filter(announced_at__isnull=False)
            .select_related("subprocessor", "replaces").order_by("-effective_date", "-pk"))


def tenant_objections(tenant: Tenant):
    with tenant_scope(tenant):
        return list(Objection.objects.filter(tenant=tenant).select_related("notice", "notice__subprocessor")
                    .order_by("-raised_at"))


def notice_objection_counts(notice: ChangeNotice) -> dict[str, int]:
    """Objections to the notice per status, and the total (for staff)."""
    with all_tenants_scope("objection counts"):
        statuses = list(Objection.objects.filter(notice=notice).values_list("status", flat=True))
    counts = {status: statuses.count(status) for status in OS.values}
    counts["total"] = len(statuses)
    return counts


# Checks -----------------------------------------------------------------------------------------------------------

def notice_check(notice: ChangeNotice) -> None:
    """Refuse a notice whose kind does not fit the register as it stands (the staff form calls this on a draft;
    announcing calls it again). The effective date is checked when announcing only."""
    errors: dict[str, list[str]] = {}

    def add(field, message):
        errors.setdefault(field, []).append(message)

    subprocessor, replaces = notice.subprocessor, notice.replaces
    if notice.kind == Kind.REPLACEMENT:
        if replaces is None:
            add("replaces", _("A replacement names the provider it replaces."))
        elif replaces.status != SP.ACTIVE:
            add("replaces", _("The provider replaced must be active."))
        elif replaces.pk == subprocessor.pk:
            add("replaces", _("A provider cannot replace itself."))
    elif replaces is not None:
        add("replaces", _("Only a replacement names a provider it replaces."))
    if notice.kind in (Kind.ADDITION, Kind.REPLACEMENT) and subprocessor.status != SP.PLANNED:
        add("subprocessor", _("The provider brought in must be planned (not yet active nor retired)."))
    if notice.kind in (Kind.REMOVAL, Kind.CHANGE) and subprocessor.status != SP.ACTIVE:
        add("subprocessor", _("The provider removed or changed must be active."))
    if notice.kind == Kind.CHANGE:
        _check_changes(notice, add)
    elif notice.changes:
        add("changes", _("Only a change notice lists new values; leave this empty."))
    if notice.pk is None or notice.status in (NS.DRAFT, NS.ANNOUNCED):
        _check_conflicts(notice, add)
    if errors:
        raise ValidationError(errors)


def _check_changes(notice: ChangeNotice, add) -> None:
    changes = notice.changes
    if not isinstance(changes, dict) or not changes:
        add("changes", _("List the new values, e.g. {\"processing_region\": \"us\"}."))
        return
    unknown = sorted(set(changes) - set(ChangeNotice.CHANGEABLE))
    if unknown:
        add("changes", _("These fields cannot be changed by a notice: %(names)s. Allowed: %(allowed)s.")
            % {"names": ", ".join(unknown), "allowed": ", ".join(ChangeNotice.CHANGEABLE)})
        return
    changed = _with_changes(notice.subprocessor, changes)
    try:
        changed.full_clean(validate_unique=False)
    except ValidationError as error:
        for name, messages in error.message_dict.items():
            for message in messages:
                add("changes", f"{name}: {message}")
        return
    if all(getattr(changed, name) == getattr(notice.subprocessor, name) for name in changes):
        add("changes", _("These values are those in force already: the notice changes nothing."))


def _with_changes(subprocessor: Subprocessor, changes: dict) -> Subprocessor:
    """An unsaved copy of the provider with the new values set."""
    changed = copy.copy(subprocessor)
    for name, value in changes.items():
        setattr(changed, name, value)
    return changed


def _check_conflicts(notice: ChangeNotice, add) -> None:
    """Refuse two notices announced at once about the same provider: their effects would collide."""
    involved = {notice.subprocessor_id, notice.replaces_id} - {None}
    others = (ChangeNotice.objects.filter(status=NS.ANNOUNCED).exclude(pk=notice.pk)
              .filter(Q(subprocessor_id__in=involved) | Q(replaces_id__in=involved)))
    other = others.first()
    if other is not None:
        add(NON_FIELD_ERRORS, _("Change notice #%(number)s, announced already, concerns the same provider; withdraw "
                                "or apply it first.") % {"number": other.pk})


def _lock(notice: ChangeNotice) -> ChangeNotice:
    # Only the notice's row is locked: "replaces" is a nullable join, which PostgreSQL cannot lock.
    return (ChangeNotice.objects.select_for_update(of=("self",)).select_related("subprocessor", "replaces")
            .get(pk=notice.pk))


# Announcing -------------------------------------------------------------------------------------------------------

@transaction.atomic
def notice_announce(*, notice: ChangeNotice, actor: User | None) -> ChangeNotice:
    """Announce a draft: check it, mail every customer and subscriber once, and tell the customers' systems."""
    notice = _lock(notice)
    if notice.status != NS.DRAFT:
        raise ValidationError(_("Only a draft can be announced; this notice is “%(status)s”.")
                              % {"status": notice.get_status_display()}, code="not_draft")
    earliest = earliest_effective_date()
    if notice.effective_date < earliest:
        raise ValidationError({"effective_date": _(
            "Customers must be told at least %(days)d days ahead: the effective date can be %(date)s at the "
            "earliest.") % {"days": notice_days(), "date": date_format(earliest, "DATE_FORMAT")}},
            code="too_soon")
    notice.full_clean()
    notice_check(notice)
    notice.status, notice.announced_at, notice.announced_by = NS.ANNOUNCED, timezone.now(), actor
    notice.save(update_fields=["status", "announced_at", "announced_by"])
    mailing_create(key=f"notice-{notice.pk}", template="notice", context=_mail_context(notice))
    for tenant in Tenant.objects.filter(status=Tenant.Status.ACTIVE).order_by("pk"):
        transaction.on_commit(partial(_announced_emit, notice, tenant), robust=True)
    return notice


def register_url() -> str:
    return settings.CALLKOM_PUBLIC_URL + reverse("subprocessors")


def portal_url(tenant: Tenant, notice: ChangeNotice | None = None) -> str:
    if notice is None:
        return settings.CALLKOM_PUBLIC_URL + reverse("tenant-subprocessors", args=[tenant.slug])
    return settings.CALLKOM_PUBLIC_URL + reverse("tenant-notice-detail", args=[tenant.slug, notice.pk])


def portal_url_pattern() -> str:
    """The portal's register page with the company's place left for the reader: one mailing goes to everyone."""
    placeholder = "your-company"
    return (settings.CALLKOM_PUBLIC_URL + reverse("tenant-subprocessors", args=[placeholder])).replace(
        placeholder, "<your-company>")


def _mail_context(notice: ChangeNotice) -> dict:
    """Plain JSON for the mailing, rendered in each recipient's language: codes, not translated labels; nothing
    about a person."""
    subprocessor = notice.subprocessor
    values = _with_changes(subprocessor, notice.changes) if notice.kind == Kind.CHANGE else subprocessor
    deadline = objection_deadline(notice)
    return {
        "notice_id": notice.pk,
        "kind": notice.kind,
        "subprocessor": subprocessor.name,
        "role": subprocessor.role,
        "replaces": notice.replaces.name if notice.replaces else "",
        "region": values.processing_region,
        "in_eu": values.in_eu,
        "country": values.country,
        "transfer_mechanism": values.transfer_mechanism,
        "changed_fields": sorted(notice.changes) if notice.kind == Kind.CHANGE else [],
        "effective_date": notice.effective_date.isoformat(),
        "objection_deadline": deadline.isoformat() if deadline else "",
        "summary": notice.summary,
        "summary_fr": notice.summary_fr,
        "register_url": register_url(),
        "portal_url_pattern": portal_url_pattern(),
    }


def _announced_emit(notice: ChangeNotice, tenant: Tenant) -> None:
    """The ``subprocessor.change_announced`` webhook for one customer (its own portal link)."""
    subprocessor = notice.subprocessor
    event_emit(tenant=tenant, event=Event.SUBPROCESSOR_CHANGE_ANNOUNCED, data={
        "id": notice.pk,
        "kind": notice.kind,
        "subprocessor": {
            "slug": subprocessor.slug,
            "name": subprocessor.name,
            "role": subprocessor.role,
            "processing_region": subprocessor.processing_region,
            "country": subprocessor.country,
            "transfer_mechanism": subprocessor.transfer_mechanism,
        },
        "replaces": notice.replaces.slug if notice.replaces else None,
        "changes": notice.changes if notice.kind == Kind.CHANGE else {},
        "effective_date": notice.effective_date,
        "summary": notice.summary,
        "summary_fr": notice.summary_fr,
        "objection_deadline": objection_deadline(notice),
        "portal_url": portal_url(tenant, notice),
    })


# Withdrawing ------------------------------------------------------------------------------------------------------

@transaction.atomic
def notice_withdraw(*, notice: ChangeNotice, actor: User | None) -> ChangeNotice:
    """Withdraw a draft, or an announced notice before it takes effect. Open objections to it become moot (answered,
    with a note saying so); customers told of it are told it is withdrawn."""
    notice = _lock(notice)
    if not can_withdraw(notice):
        if notice.status == NS.ANNOUNCED:
            raise ValidationError(_("This change takes effect today or took effect already: it can no longer be "
                                    "withdrawn. Apply it, then announce the reverse change."), code="too_late")
        raise ValidationError(_("A notice that is “%(status)s” cannot be withdrawn.")
                              % {"status": notice.get_status_display()}, code="not_withdrawable")
    was_announced = notice.status == NS.ANNOUNCED
    notice.status, notice.withdrawn_at = NS.WITHDRAWN, timezone.now()
    notice.save(update_fields=["status", "withdrawn_at"])
    with all_tenants_scope("notice withdrawn"):
        for objection in Objection.objects.select_for_update().filter(notice=notice, status=OS.OPEN):
            with tenant_scope(objection.tenant):
                objection.status, objection.resolved_by, objection.resolved_at = OS.ANSWERED, actor, timezone.now()
                objection.resolution = _("CALLKOM withdrew this change: nothing changes, and the objection has no "
                                         "object any more.")
                objection.save(update_fields=["status", "resolution", "resolved_by", "resolved_at"])
    if was_announced:
        mailing_create(key=f"notice-{notice.pk}-withdrawn", template="notice_withdrawn",
                       context=_mail_context(notice))
    return notice


# Applying ---------------------------------------------------------------------------------------------------------

@transaction.atomic
def notice_apply(*, notice: ChangeNotice) -> ChangeNotice:
    """Put an announced notice into effect on or after its date and publish the new list. Applying it again does
    nothing."""
    notice = _lock(notice)
    if notice.status == NS.APPLIED:
        return notice
    if notice.status != NS.ANNOUNCED:
        raise ValidationError(_("Only an announced notice takes effect; this one is “%(status)s”.")
                              % {"status": notice.get_status_display()}, code="not_announced")
    if notice.effective_date > timezone.localdate():
        raise ValidationError(_("This change takes effect on %(date)s, not before.")
                              % {"date": date_format(notice.effective_date, "DATE_FORMAT")}, code="not_due")
    day_before = notice.effective_date - datetime.timedelta(days=1)
    subprocessor = Subprocessor.objects.select_for_update().get(pk=notice.subprocessor_id)
    if notice.kind in (Kind.ADDITION, Kind.REPLACEMENT):
        subprocessor.status, subprocessor.effective_from = SP.ACTIVE, notice.effective_date
        subprocessor.effective_until = None
    elif notice.kind == Kind.REMOVAL:
        subprocessor.status, subprocessor.effective_until = SP.RETIRED, day_before
    else:
        for name, value in notice.changes.items():
            setattr(subprocessor, name, value)
    subprocessor.full_clean()
    subprocessor.save()
    if notice.kind == Kind.REPLACEMENT:
        outgoing = Subprocessor.objects.select_for_update().get(pk=notice.replaces_id)
        outgoing.status, outgoing.effective_until = SP.RETIRED, day_before
        outgoing.save(update_fields=["status", "effective_until"])
    notice.status, notice.applied_at = NS.APPLIED, timezone.now()
    notice.save(update_fields=["status", "applied_at"])
    register_publish(note=f"Change notice #{notice.pk} ({notice.kind}) in effect", notice=notice)
    return notice


def notices_apply_due() -> int:
    """Apply every announced notice whose date has come (the daily beat task); return how many took effect. One
    notice that fails is logged and left announced for staff; the others still take effect."""
    applied = 0
    due = ChangeNotice.objects.filter(status=NS.ANNOUNCED, effective_date__lte=timezone.localdate())
    for notice in due.order_by("effective_date", "pk"):
        try:
            notice_apply(notice=notice)
        except ValidationError as error:
            log.error("change notice %s could not take effect: %s", notice.pk, "; ".join(error.messages))
            continue
        applied += 1
    return applied


# Objections -------------------------------------------------------------------------------------------------------

def clean_reason(reason: str) -> str:
    """The reason as stored; a ValidationError on ``reason`` when it is missing, too short or too long."""
    reason = (reason or "").strip()
    if not reason:
        error = ValidationError(_("Say why you object: CALLKOM answers each objection."), code="required")
    elif len(reason) > REASON_MAX_LENGTH:
        error = ValidationError(_("Keep the reason under %(max)d characters (it has %(length)d).")
                                % {"max": REASON_MAX_LENGTH, "length": len(reason)}, code="too_long")
    elif len(reason.split()) < REASON_MIN_WORDS:
        error = ValidationError(_("Explain your objection in a few words, so that CALLKOM can answer it."),
                                code="too_short")
    else:
        return reason
    raise ValidationError({"reason": error})


@transaction.atomic
def objection_raise(*, notice: ChangeNotice, tenant: Tenant, actor: User, reason: str) -> Objection:
    """Record a customer's objection to an announced change, before it takes effect; one per customer and notice.
    From now on (while it is open) the customer's data never reaches the provider concerned. CALLKOM staff are
    told by e-mail, without the reason (which may name people): they read it in the admin."""
    membership = membership_for(actor, tenant)
    if membership is None or not can_object(membership.role):
        raise PermissionDenied
    notice = _lock(notice)
    if not notice.objectable:
        raise ValidationError(_("This change no longer accepts objections: objections are possible while it is "
                                "announced and before it takes effect, and never to a removal."),
                              code="not_objectable")
    reason = clean_reason(reason)
    with tenant_scope(tenant):
        existing = Objection.objects.filter(tenant=tenant, notice=notice).first()
        if existing is not None:
            raise ValidationError(_("Your company already objected to this change on %(date)s; CALLKOM answers it "
                                    "on the register page.")
                                  % {"date": date_format(timezone.localtime(existing.raised_at), "DATE_FORMAT")},
                                  code="duplicate")
        objection = Objection(tenant=tenant, notice=notice, reason=reason, raised_by=actor)
        try:
            with transaction.atomic():
                objection.save()
        except IntegrityError:  # raised meanwhile by another member
            raise ValidationError(_("Your company already objected to this change."), code="duplicate")
    _mail_on_commit("objection_raised", {
        "tenant": tenant.name, "notice_id": notice.pk, "kind": notice.kind, "subprocessor": notice.subprocessor.name,
        "effective_date": notice.effective_date,
        "admin_url": settings.CALLKOM_PUBLIC_URL + reverse("admin:subprocessors_objection_change",
                                                           args=[objection.pk]),
    }, [(settings.PRIVACY_CONTACT_EMAIL, settings.LANGUAGE_CODE)])
    return objection


@transaction.atomic
def objection_resolve(*, objection: Objection, status: str, resolution: str, actor: User | None) -> Objection:
    """Staff close an open objection: answered (the customer withdrew it), the customer exempted from the provider
    for good, or the contract ended. The customer's DPO and owners are told to read the answer in the portal."""
    if status not in RESOLUTIONS:
        raise ValidationError({"status": _("Choose how the objection was resolved.")}, code="invalid_status")
    resolution = (resolution or "").strip()
    if not resolution:
        raise ValidationError({"resolution": _("Write the answer the customer will read.")}, code="required")
    tenant = objection.tenant
    with tenant_scope(tenant):
        objection = Objection.objects.select_for_update().select_related("notice__subprocessor").get(pk=objection.pk)
        if objection.status != OS.OPEN:
            raise ValidationError(_("This objection was resolved already (“%(status)s”).")
                                  % {"status": objection.get_status_display()}, code="resolved")
        objection.status, objection.resolution = status, resolution
        objection.resolved_by, objection.resolved_at = actor, timezone.now()
        objection.full_clean()
        objection.save(update_fields=["status", "resolution", "resolved_by", "resolved_at"])
    notice = objection.notice
    _mail_on_commit("objection_resolved", {
        "tenant": tenant.name, "notice_id": notice.pk, "kind": notice.kind, "subprocessor": notice.subprocessor.name,
        "status": objection.status, "portal_url": portal_url(tenant, notice),
    }, tenant_recipients(tenant))
    return objection


def _mail_on_commit(template: str, context: dict, recipients: list[tuple[str, str]]) -> None:
    """One e-mail per recipient, in their language, sent once the transaction commits. No personal data."""
    for address, language in recipients:
        with translation.override(language):
            base = f"subprocessors/emails/{template}"
            subject = " ".join(render_to_string(f"{base}_subject.txt", context).split())
            body = render_to_string(f"{base}.txt", context)
        message = EmailMessage(subject, body, to=[address], reply_to=[settings.PRIVACY_CONTACT_EMAIL])
        transaction.on_commit(message.send, robust=True)
