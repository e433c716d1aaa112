"""Writes of the calls app: scripts, contacts, the call lifecycle, what a call leaves behind."""

from __future__ import annotations

import datetime
import json

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tenants.crypto import email_index, normalize_email, normalize_phone, phone_index
from tenants.models import Tenant
from tenants.roles import Perm, role_has
from tenants.selectors import membership_for
from voice.extract import DECLINED, OBJECTED, detect_refusal
from voice.safeguards import discloses_ai, redact

from . import signals
from .donotcall import do_not_call_add
from .events import call_completed_emit
from .models import Call, CallReport, Contact, DoNotCallSource, Script, SupervisorAction, Utterance

REPORT_SLOTS = ("name", "phone", "email", "company", "need", "appointment")
TOOLS = ("transfer", "end_call")


def _validate_script(script: Script) -> None:
    first_sentence = script.greeting.strip().split(".")[0]
    if not discloses_ai(first_sentence, script.language):
        raise ValidationError({"greeting": _("The first sentence of the greeting must say that the caller is "
                                             "talking to an AI (e.g. “I am a virtual assistant”).")})
    if not isinstance(script.steps, list) or not all(
        isinstance(step, dict) and step.get("slot") in REPORT_SLOTS and str(step.get("question", "")).strip()
        for step in script.steps
    ):
        raise ValidationError({"steps": _("Each step needs a question and one of these fields: %s.")
                               % ", ".join(REPORT_SLOTS)})
    unknown = set(script.allowed_tools) - set(TOOLS)
    if unknown:
        raise ValidationError({"allowed_tools": _("Unknown tools: %s") % ", ".join(sorted(unknown))})


@transaction.atomic
def script_create(*, tenant: Tenant, name: str, language: str, greeting: str, goal: str, steps: list[dict],
                  instructions: str = "", closing: str = "", voice: str = "", allowed_tools=TOOLS,
                  max_duration_s: int = 600, silence_timeout_s: int = 8) -> Script:
    script = Script(tenant=tenant, name=name, language=language, greeting=greeting, goal=goal, steps=steps,
                    instructions=instructions, closing=closing, voice=voice, allowed_tools=list(allowed_tools),
                    max_duration_s=max_duration_s, silence_timeout_s=silence_timeout_s)
    _validate_script(script)
    script.full_clean()
    script.save()
    return script


@transaction.atomic
def contact_create(*, tenant: Tenant, phone: str, name: str = "", email: str = "", company: str = "",
                   custom_fields: dict | None = None, notes: str = "", region: str = "FR",
                   time_zone: str = "") -> Contact:
    phone = normalize_phone(phone, region)
    email = normalize_email(email) if email else ""
    contact = Contact(tenant=tenant, name=name, phone=phone, email=email, company=company,
                      custom_fields=json.dumps(custom_fields or {}, ensure_ascii=False), notes=notes,
                      phone_index=phone_index(phone), email_index=email_index(email) if email else "")
    if time_zone:
        contact.time_zone = time_zone
    contact.full_clean()
    contact.save()
    return contact


@transaction.atomic
def contact_update(*, contact: Contact, changes: dict) -> Contact:
    """Change a contact (its blind indexes follow); a new number or new custom fields are announced, so that its
    lists go back to the risk check, as adding contacts does."""
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    recheck = False
    for field in ("name", "company", "time_zone", "notes"):
        if field in changes:
            setattr(contact, field, changes[field])
    if "phone" in changes:
        phone = normalize_phone(changes["phone"])
        recheck = recheck or phone != contact.phone
        contact.phone, contact.phone_index = phone, phone_index(phone)
    if "email" in changes:
        email = normalize_email(changes["email"]) if changes["email"] else ""
        contact.email, contact.email_index = email, email_index(email) if email else ""
    if "custom_fields" in changes:
        custom = json.dumps(changes["custom_fields"] or {}, ensure_ascii=False)
        recheck = recheck or custom != contact.custom_fields
        contact.custom_fields = custom
    contact.full_clean()
    contact.save()
    if recheck:
        signals.contact_data_changed.send(sender=Contact, contact=contact)
    return contact


class ContactLocked(Exception):
    """The contact may not be deleted now; the message says why."""


@transaction.atomic
def contact_delete(*, contact: Contact) -> None:
    """Delete a contact: out of its lists and campaigns; its calls stay, without contact. Refused while it is in a
    call, and while a legal hold covers the person."""
    from compliance.selectors import is_held

    if Call.objects.filter(contact_id=contact.pk, status__in=(S.QUEUED, S.RINGING, S.IN_PROGRESS)).exists():
        raise ContactLocked(_("This contact is in a call that is not over yet; delete it afterwards."))
    if is_held(contact.tenant, phone_index=contact.phone_index or None, email_index=contact.email_index or None):
        raise ContactLocked(_("A legal hold covers this person: their data must be kept until it is released."))
    contact.delete()


@transaction.atomic
def script_update(*, script: Script, changes: dict) -> Script:
    """Change a script; validated as ``script_create`` validates (the greeting discloses the AI, …)."""
    script = Script.objects.select_for_update().get(pk=script.pk)
    for field, value in changes.items():
        setattr(script, field, value)
    _validate_script(script)
    script.full_clean()
    script.save()
    return script


@transaction.atomic
def call_create(*, tenant: Tenant, script: Script, direction: str, channel: str = Call.Channel.PHONE,
                contact: Contact | None = None, legal_basis: str = "", campaign=None) -> Call:
    if script.tenant_id != tenant.pk or (contact is not None and contact.tenant_id != tenant.pk):
        raise ValidationError(_("The script and the contact must belong to this tenant."))
    call = Call(tenant=tenant, script=script, contact=contact, direction=direction, channel=channel,
                legal_basis=legal_basis or tenant.settings.default_legal_basis, campaign=campaign)
    call.full_clean()
    call.save()
    return call


S = Call.Status
TRANSITIONS = {
    S.QUEUED: {S.RINGING, S.IN_PROGRESS, S.CANCELED, S.FAILED},
    S.RINGING: {S.IN_PROGRESS, S.NO_ANSWER, S.FAILED, S.CANCELED},
    S.IN_PROGRESS: {S.COMPLETED, S.TRANSFERRED, S.FAILED},
}


class TransitionError(ValidationError):
    pass


@transaction.atomic
def call_transition(*, call: Call, to: str, reason: str = "") -> Call:
    """Move the call along its lifecycle; refuse a move the table does not allow."""
    call = Call.objects.select_for_update().get(pk=call.pk)
    if to not in TRANSITIONS.get(call.status, set()):
        raise TransitionError(_("A call cannot go from “%(from)s” to “%(to)s”.") % {"from": call.status, "to": to})
    now = timezone.now()
    call.status = to
    if to == S.RINGING:
        call.started_at = call.started_at or now
    if to == S.IN_PROGRESS:
        call.started_at = call.started_at or now
        call.answered_at = now
    if to not in TRANSITIONS:
        call.ended_at = now
        call.end_reason = reason[:40]
    call.save()
    if call.is_over:
        call_completed_emit(call=call)
    if call.is_over:
        signals.call_ended.send(sender=Call, call=call)
    return call


@transaction.atomic
def call_record_conversation(*, call: Call, transcript: list[dict], turn_metrics: list[dict], interruptions: int,
                             providers_used: list[str]) -> Call:
    """Store what was said (redacted, encrypted) and how each turn performed."""
    start = call.utterances.count()
    Utterance.objects.bulk_create(
        Utterance(tenant_id=call.tenant_id, call=call, seq=start + index, speaker=line["speaker"],
                  text=redact(line["text"])[0], started_ms=line.get("started_ms"), ended_ms=line.get("ended_ms"),
                  interrupted=bool(line.get("interrupted")), final=line.get("final", True))
        for index, line in enumerate(transcript)
    )
    call.turn_metrics = turn_metrics
    call.interruptions = interruptions
    call.providers_used = sorted(set(call.providers_used) | set(providers_used))
    call.save(update_fields=["turn_metrics", "interruptions", "providers_used"])
    return call


def _clean_phone(value) -> str:
    try:
        return normalize_phone(value) if value else ""
    except ValidationError:
        return ""


def _clean_email(value) -> str:
    try:
        validate_email(value or "")
    except ValidationError:
        return ""
    return normalize_email(value)


def _clean_datetime(value):
    if not value:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value) if isinstance(value, str) else value
    except ValueError:
        return None
    return parsed if timezone.is_aware(parsed) else None


@transaction.atomic
def call_report_save(*, call: Call, report: dict, summary: str, source: str) -> CallReport:
    """Store the structured report of a call (values that do not parse are left empty) and mark the call."""
    phone, email = _clean_phone(report.get("phone")), _clean_email(report.get("email"))
    instance = CallReport.objects.filter(call=call).first() or CallReport(tenant_id=call.tenant_id, call=call)
    instance.summary = redact(summary)[0]
    instance.name = (report.get("name") or "")[:200]
    instance.phone = phone
    instance.email = email
    instance.company = (report.get("company") or "")[:200]
    instance.need = redact(report.get("need") or "")[0]
    instance.appointment_at = _clean_datetime(report.get("appointment"))
    instance.appointment_tz = call.tenant.settings.calling_timezone if instance.appointment_at else ""
    instance.next_step = redact(report.get("next_step") or "")[0]
    instance.confidence = report.get("confidence")
    instance.special_category = bool(report.get("special_category"))
    instance.source = source
    instance.phone_index = phone_index(phone) if phone else ""
    instance.email_index = email_index(email) if email else ""
    instance.full_clean()
    instance.save()
    call.special_category = instance.special_category
    refusal = detect_refusal(call.utterances.filter(speaker=Utterance.Speaker.CALLER).values_list("text", flat=True))
    if not call.outcome:
        call.outcome = _outcome_of(call, instance, refusal)
    call.save(update_fields=["special_category", "outcome"])
    if refusal == OBJECTED:
        _objection_record(call)
    return instance


def _outcome_of(call: Call, report: CallReport, refusal: str = "") -> str:
    """A transfer or an appointment wins; then a refusal; a bare "no thanks" only when nothing else came of it."""
    if call.status == Call.Status.TRANSFERRED:
        return Call.Outcome.TRANSFERRED
    if report.appointment_at:
        return Call.Outcome.APPOINTMENT
    if refusal and refusal != DECLINED:
        return Call.Outcome.REFUSED
    if report.need or report.phone or report.email:
        return Call.Outcome.INFORMATION
    if refusal:
        return Call.Outcome.REFUSED
    return Call.Outcome.NO_RESULT


def _objection_record(call: Call) -> None:
    """The person asked not to be called again: put the number they were called on on the do-not-call list."""
    phone = _clean_phone(call.contact.phone) if call.contact is not None else ""
    if phone:
        do_not_call_add(tenant=call.tenant, phone=phone, source=DoNotCallSource.OBJECTION,
                        reason=_("Asked on call %(call)s not to be called again.") % {"call": call.pk})


DEMO_SCRIPTS = [
    dict(
        name="Prise de rendez-vous cuisine",
        language="fr",
        greeting="Bonjour, je suis l'assistant virtuel de Demo Cuisines, une intelligence artificielle. "
                 "Je vous appelle au sujet de votre projet de cuisine.",
        goal="Comprendre le projet de cuisine de la personne et lui proposer un rendez-vous en magasin.",
        steps=[
            {"slot": "name", "question": "Puis-je avoir votre nom, s'il vous plaît ?"},
            {"slot": "need", "question": "Quel est votre projet de cuisine ?"},
            {"slot": "appointment", "question": "Quand seriez-vous disponible pour un rendez-vous en magasin ?"},
            {"slot": "email", "question": "À quelle adresse e-mail puis-je envoyer la confirmation ?"},
        ],
        closing="Merci, votre rendez-vous est noté. Un conseiller vous confirmera par e-mail. Bonne journée !",
    ),
    dict(
        name="Kitchen appointment",
        language="en",
        greeting="Hello, I am Demo Cuisines' virtual assistant, an artificial intelligence. "
                 "I am calling about your kitchen project.",
        goal="Understand the person's kitchen project and offer a showroom appointment.",
        steps=[
            {"slot": "name", "question": "May I have your name, please?"},
            {"slot": "need", "question": "What is your kitchen project?"},
            {"slot": "appointment", "question": "When would you be available for a showroom appointment?"},
            {"slot": "email", "question": "Which e-mail address should I send the confirmation to?"},
        ],
        closing="Thank you, your appointment is booked. An adviser will confirm it by e-mail. Goodbye!",
    ),
]


def demo_scripts_ensure(*, tenant: Tenant) -> list[Script]:
    """Create the demo scripts the tenant does not have yet."""
    return [script_create(tenant=tenant, **spec) for spec in DEMO_SCRIPTS
            if not Script.objects.filter(tenant=tenant, name=spec["name"]).exists()]


class SupervisionRefused(Exception):
    """A supervisor command that cannot be carried out; the message says why."""


STEERING = {SupervisorAction.Action.TAKE_OVER, SupervisorAction.Action.HANG_UP}


@transaction.atomic
def call_supervise(*, call: Call, user, command: str, note: str = "") -> SupervisorAction:
    """Record a supervisor's command on a call (the transport carries it out); refuse what cannot apply."""
    if command not in SupervisorAction.Action.values:
        raise SupervisionRefused(_("Unknown command; use take_over, hang_up or note."))
    membership = membership_for(user, call.tenant)
    if command in STEERING and (membership is None or not role_has(membership.role, Perm.RUN_CAMPAIGNS)):
        raise SupervisionRefused(_("Your role lets you watch calls, not steer them."))
    if command in STEERING and call.is_over:
        raise SupervisionRefused(_("This call has ended: it can no longer be taken over or hung up."))
    if command == SupervisorAction.Action.NOTE and not note.strip():
        raise SupervisionRefused(_("A note needs some text."))
    action = SupervisorAction(tenant_id=call.tenant_id, call=call, user=user, action=command, note=note.strip())
    action.full_clean()
    action.save()
    return action
