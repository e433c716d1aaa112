"""CALLKOM's two versioned documents: the data processing agreement (GDPR Art. 28) and the public AI policy.

Both are :class:`~compliance.models.PublishedDocument`: staff write a draft, publish it once, and it never changes
again (a change is a new version). There is at most one draft of each at a time, so version numbers follow each
other with no gap; the draft takes the next number when it is created. Publishing is audited and announced:

- a new DPA version is e-mailed to every customer's DPO and owners (not to the list's subscribers: the DPA is a
  contract between CALLKOM and its customers), and each customer's owner is asked to accept it in the portal;
- a new AI policy version is e-mailed to the customers and to the subscribers only when it is a substantial change
  (a new purpose, a new provider outside the EU); an editorial change is just published.

A customer accepts a DPA version once (:func:`dpa_accept`): who, when, from which IP address, and which version of
the subprocessor list was in force, which the DPA's Annex I names. The version in force for a customer at a moment
is the one it had accepted last by then (:func:`dpa_in_force`); a new version applies once accepted.

The texts are plain text, paragraphs on their own lines; :func:`text_blocks` cuts them into headings and paragraphs
for the web pages and the PDF, which escape them: nothing typed by staff is ever read as markup or as a template.
"""

from __future__ import annotations

import datetime
import io
import re
from dataclasses import dataclass
from xml.sax.saxutils import escape

from auditlog.models import LogEntry
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_ipv46_address
from django.db import IntegrityError, transaction
from django.db.models import Max, QuerySet
from django.db.models.signals import pre_delete, pre_save
from django.dispatch import receiver
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

from subprocessors import register
from subprocessors.mailing import mailing_create
from subprocessors.models import RegisterVersion, Subprocessor
from tenants.models import Tenant, User
from tenants.roles import Role
from tenants.scope import tenant_scope
from tenants.selectors import membership_for

from .documents import Section, pdf_cell, pdf_styles, pdf_table
from .models import AiPolicyVersion, DpaAcceptance, DpaVersion, PublishedDocument
from .records import PERIOD, PROCESSOR_NAME, security_section, when

PLACEHOLDERS = ("{controller}", "{processor}")


# --- immutability ------------------------------------------------------------------------------------------------


@receiver(pre_save, sender=DpaVersion, dispatch_uid="compliance.policies.dpa_immutable")
@receiver(pre_save, sender=AiPolicyVersion, dispatch_uid="compliance.policies.ai_policy_immutable")
def _refuse_changing_a_published_version(sender, instance, raw=False, **kwargs):
    """A stored version that is published is never written again, whoever tries (the admin, a shell, a service)."""
    if raw or instance.pk is None:
        return
    if sender.objects.filter(pk=instance.pk, published_at__isnull=False).exists():
        raise ValidationError(_("A published version cannot be changed; write a new version instead."))


@receiver(pre_delete, sender=DpaVersion, dispatch_uid="compliance.policies.dpa_undeletable")
@receiver(pre_delete, sender=AiPolicyVersion, dispatch_uid="compliance.policies.ai_policy_undeletable")
def _refuse_deleting_a_published_version(sender, instance, **kwargs):
    if sender.objects.filter(pk=instance.pk, published_at__isnull=False).exists():
        raise ValidationError(_("A published version cannot be deleted."))


# --- drafts and publication (both documents) ---------------------------------------------------------------------


def _draft_create(model: type[PublishedDocument], fields: dict) -> PublishedDocument:
    # Lock the latest version so that two staff members never take the same number.
    model.objects.select_for_update().order_by("-number").first()
    draft = model.objects.filter(published_at__isnull=True).first()
    if draft is not None:
        raise ValidationError(_("Version %(number)s is still a draft: edit it, publish it or delete it first.")
                              % {"number": draft.number})
    number = (model.objects.aggregate(n=Max("number"))["n"] or 0) + 1
    document = model(number=number, **fields)
    document.full_clean()
    document.save(force_insert=True)
    return document


def _draft_update(model: type[PublishedDocument], document: PublishedDocument, fields: dict) -> PublishedDocument:
    stored = model.objects.select_for_update().get(pk=document.pk)
    if stored.published:
        raise ValidationError(_("A published version cannot be changed; write a new version instead."))
    for name, value in fields.items():
        setattr(stored, name, value)
    stored.full_clean()
    stored.save(update_fields=list(fields))
    return stored


def _publish(model: type[PublishedDocument], document: PublishedDocument, actor: User | None) -> PublishedDocument:
    stored = model.objects.select_for_update().get(pk=document.pk)
    if stored.published:
        raise ValidationError(_("Version %(number)s is already published.") % {"number": stored.number})
    last = model.objects.filter(published_at__isnull=False).aggregate(n=Max("number"))["n"] or 0
    if stored.number != last + 1:
        raise ValidationError(_("Versions are published in order: the next version to publish is %(number)s.")
                              % {"number": last + 1})
    if not stored.title.strip() or not stored.body.strip():
        raise ValidationError(_("A version needs a title and a text before it is published."))
    stored.published_at, stored.published_by = timezone.now(), actor
    stored.save(update_fields=["published_at", "published_by"])
    LogEntry.objects.log_create(stored, force_log=True, action=LogEntry.Action.UPDATE, actor=actor,
                                changes={"published_at": [None, stored.published_at.isoformat()]})
    return stored


@transaction.atomic
def dpa_draft_create(*, title: str, body: str, title_fr: str = "", body_fr: str = "", changes: str = "",
                     changes_fr: str = "") -> DpaVersion:
    """Start the next DPA version (one draft at a time); it takes the next number."""
    return _draft_create(DpaVersion, dict(title=title, body=body, title_fr=title_fr, body_fr=body_fr,
                                          changes=changes, changes_fr=changes_fr))


@transaction.atomic
def dpa_draft_update(*, version: DpaVersion, title: str, body: str, title_fr: str = "", body_fr: str = "",
                     changes: str = "", changes_fr: str = "") -> DpaVersion:
    """Edit a draft; a published version is refused (ValidationError)."""
    return _draft_update(DpaVersion, version, dict(title=title, body=body, title_fr=title_fr, body_fr=body_fr,
                                                   changes=changes, changes_fr=changes_fr))


@transaction.atomic
def dpa_publish(*, version: DpaVersion, actor: User | None) -> DpaVersion:
    """Publish the draft and tell every customer's DPO and owners that a new version awaits their acceptance."""
    version = _publish(DpaVersion, version, actor)
    mailing_create(key=f"dpa-{version.number}", template="dpa_new_version", context=_mailing_context(version),
                   subscribers=False)
    return version


@transaction.atomic
def ai_policy_draft_create(*, title: str, body: str, title_fr: str = "", body_fr: str = "", changes: str = "",
                           changes_fr: str = "", substantial: str = "") -> AiPolicyVersion:
    """Start the next AI policy version (one draft at a time); it takes the next number."""
    return _draft_create(AiPolicyVersion, dict(
        title=title, body=body, title_fr=title_fr, body_fr=body_fr, changes=changes, changes_fr=changes_fr,
        substantial=substantial))


@transaction.atomic
def ai_policy_draft_update(*, version: AiPolicyVersion, title: str, body: str, title_fr: str = "",
                           body_fr: str = "", changes: str = "", changes_fr: str = "",
                           substantial: str = "") -> AiPolicyVersion:
    """Edit a draft; a published version is refused (ValidationError)."""
    return _draft_update(AiPolicyVersion, version, dict(
        title=title, body=body, title_fr=title_fr, body_fr=body_fr, changes=changes, changes_fr=changes_fr,
        substantial=substantial))


@transaction.atomic
def ai_policy_publish(*, version: AiPolicyVersion, actor: User | None) -> AiPolicyVersion:
    """Publish the draft; a substantial change is e-mailed to the customers and to the subscribers."""
    version = _publish(AiPolicyVersion, version, actor)
    if version.substantial:
        context = {**_mailing_context(version), "substantial": version.substantial,
                   "policy_url": settings.CALLKOM_PUBLIC_URL + reverse("ai-policy-version", args=[version.number])}
        mailing_create(key=f"ai-policy-{version.number}", template="ai_policy_changed", context=context)
    return version


def _mailing_context(version: PublishedDocument) -> dict:
    """What the e-mail says, as plain JSON in both languages (each recipient reads it in their own): no personal
    data, no per-customer link."""
    return {
        "number": version.number, "title": version.title, "title_fr": version.title_fr,
        "changes": version.changes, "changes_fr": version.changes_fr,
        "published_on": timezone.localdate(version.published_at).isoformat(),
        "portal_url": settings.CALLKOM_PUBLIC_URL + reverse("portal-home"),
    }


# --- reading ---------------------------------------------------------------------------------------------------


def dpa_versions() -> QuerySet[DpaVersion]:
    """Published DPA versions, newest first."""
    return DpaVersion.objects.filter(published_at__isnull=False).order_by("-number")


def dpa_current() -> DpaVersion | None:
    """The latest published DPA version."""
    return dpa_versions().first()


def dpa_version(number: int) -> DpaVersion | None:
    """The published DPA version with that number (a draft is None)."""
    return dpa_versions().filter(number=number).first()


def dpa_acceptances(tenant: Tenant) -> QuerySet[DpaAcceptance]:
    """The tenant's acceptances, newest first; run inside its scope."""
    return (DpaAcceptance.objects.filter(tenant=tenant).select_related("version", "accepted_by")
            .order_by("-accepted_at", "-version__number"))


def dpa_acceptance(tenant: Tenant, version: DpaVersion) -> DpaAcceptance | None:
    with tenant_scope(tenant):
        return dpa_acceptances(tenant).filter(version=version).first()


def dpa_pending(tenant: Tenant) -> DpaVersion | None:
    """The latest published version if the tenant has not accepted it yet, else None."""
    current = dpa_current()
    if current is None:
        return None
    with tenant_scope(tenant):
        accepted = DpaAcceptance.objects.filter(tenant=tenant, version=current).exists()
    return None if accepted else current


def dpa_acceptance_in_force(tenant: Tenant, at: datetime.datetime) -> DpaAcceptance | None:
    """The tenant's acceptance in force at that moment: its latest acceptance made by then, or None."""
    with tenant_scope(tenant):
        return dpa_acceptances(tenant).filter(accepted_at__lte=at).first()


def dpa_in_force(tenant: Tenant, at: datetime.datetime) -> DpaVersion | None:
    """The DPA version the tenant had accepted at that moment (the latest acceptance by then), or None."""
    acceptance = dpa_acceptance_in_force(tenant, at)
    return None if acceptance is None else acceptance.version


def ai_policy_versions() -> QuerySet[AiPolicyVersion]:
    """Published AI policy versions, newest first."""
    return AiPolicyVersion.objects.filter(published_at__isnull=False).order_by("-number")


def ai_policy_current() -> AiPolicyVersion | None:
    return ai_policy_versions().first()


def ai_policy_version(number: int) -> AiPolicyVersion | None:
    """The published AI policy version with that number (a draft is None)."""
    return ai_policy_versions().filter(number=number).first()


# --- acceptance ------------------------------------------------------------------------------------------------


def may_accept_dpa(role: str) -> bool:
    """Only an owner accepts the DPA: it is a contract that binds the company, and the owner is the member who holds
    the customer account (the DPO advises the company, an administrator runs it day to day; neither signs for it)."""
    return role == Role.OWNER


def client_ip(meta: dict) -> str | None:
    """The address the request came from: REMOTE_ADDR only. X-Forwarded-For is set by the client unless a trusted
    proxy rewrites it, and this installation declares no such proxy, so it is not believed."""
    address = meta.get("REMOTE_ADDR") or ""
    try:
        validate_ipv46_address(address)
    except ValidationError:
        return None
    return address


@transaction.atomic
def dpa_accept(*, tenant: Tenant, version: DpaVersion, actor: User, ip_address: str | None) -> DpaAcceptance:
    """Record that ``actor`` accepted ``version`` of the DPA for ``tenant``; audited.

    Only an owner may (PermissionDenied), only the latest published version, and only once (ValidationError).
    """
    membership = membership_for(actor, tenant)
    if membership is None or not may_accept_dpa(membership.role):
        raise PermissionDenied
    current = dpa_current()
    if not version.published or current is None or version.pk != current.pk:
        raise ValidationError(_("Only the latest published version of the agreement can be accepted (version "
                                "%(number)s).") % {"number": current.number if current else "—"})
    list_version = register.current_version()
    with tenant_scope(tenant):
        if DpaAcceptance.objects.filter(tenant=tenant, version=version).exists():
            raise ValidationError(_("Version %(number)s of the agreement is already accepted.")
                                  % {"number": version.number})
        try:
            with transaction.atomic():
                acceptance = DpaAcceptance.objects.create(
                    tenant=tenant, version=version, accepted_by=actor, accepted_by_email=actor.email,
                    accepted_at=timezone.now(), ip_address=ip_address,
                    register_version=list_version.number if list_version else None)
        except IntegrityError:  # accepted at the same moment by another owner
            raise ValidationError(_("Version %(number)s of the agreement is already accepted.")
                                  % {"number": version.number})
    LogEntry.objects.log_create(
        acceptance, force_log=True, action=LogEntry.Action.CREATE, actor=actor,
        changes={"version": [None, str(version.number)], "accepted_at": [None, acceptance.accepted_at.isoformat()],
                 "register_version": [None, str(acceptance.register_version or "")]},
        additional_data={"tenant": tenant.pk})
    return acceptance


# --- text --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    kind: str  # "h2" (a numbered section), "h3" (another heading) or "p"
    text: str


_TOP_HEADING = re.compile(r"^\d+\.\s")


def _is_heading(line: str) -> bool:
    """A short line that does not end a sentence and does not read "label: value"."""
    return len(line) <= 90 and not line.endswith((".", ":", ";", ",", "!", "?", "»", "”")) and ": " not in line


def text_blocks(text: str) -> list[Block]:
    """Cut a plain text into headings and paragraphs: each non-empty line is one block."""
    blocks = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if _is_heading(line):
            blocks.append(Block("h2" if _TOP_HEADING.match(line) else "h3", line))
        else:
            blocks.append(Block("p", line))
    return blocks


def dpa_text(version: DpaVersion, tenant: Tenant) -> str:
    """The version's text in the active language, with the parties' names put in (plain replacement, no template)."""
    text = version.localised("body")
    names = {"{controller}": tenant.legal_name, "{processor}": PROCESSOR_NAME}
    for placeholder in PLACEHOLDERS:
        text = text.replace(placeholder, names[placeholder])
    return text


# --- the PDF -----------------------------------------------------------------------------------------------------


def _subprocessor_rows(rows: list[dict]) -> list[tuple[str, ...]]:
    roles, transfers = dict(Subprocessor.Role.choices), dict(Subprocessor.Transfer.choices)
    french = (translation.get_language() or "en").startswith("fr")
    result = []
    for row in rows:
        services = (row.get("services_fr") if french else "") or row.get("services") or ""
        result.append((
            str(row.get("name", "")), str(roles.get(row.get("role"), row.get("role") or "")),
            str(row.get("legal_entity", "")), services,
            f'{row.get("processing_region", "")} ({row.get("country", "")})',
            str(transfers.get(row.get("transfer_mechanism"), row.get("transfer_mechanism") or "")),
        ))
    return result


def annex_list_version(acceptance: DpaAcceptance | None) -> RegisterVersion | None:
    """Annex I's list: the version in force when the customer accepted, or the current one before it accepts."""
    if acceptance is None:
        return register.current_version()
    if acceptance.register_version is None:
        return None
    return RegisterVersion.objects.filter(number=acceptance.register_version).first()


def _annex_one(acceptance: DpaAcceptance | None) -> Section:
    list_version = annex_list_version(acceptance)
    columns = (_("Subprocessor"), _("Role"), _("Legal entity"), _("Services"), _("Region (country)"),
               _("Transfer mechanism"))
    widths = (0.18, 0.12, 0.2, 0.24, 0.11, 0.15)
    if list_version is None:
        return Section(_("Annex I: subprocessors"), columns, [], widths=widths,
                       note=_("No version of the subprocessor list was published when the agreement was accepted."))
    title = _("Annex I: subprocessors, list version %(number)s of %(date)s") % {
        "number": list_version.number, "date": formats.date_format(timezone.localdate(list_version.published_at))}
    note = _("The current list and its earlier versions are public at %(url)s; a change is announced at least "
             "%(days)s days before it takes effect.") % {
        "url": settings.CALLKOM_PUBLIC_URL + reverse("subprocessors"), "days": settings.SUBPROCESSOR_NOTICE_DAYS}
    return Section(title, columns, _subprocessor_rows(list_version.snapshot), widths=widths, note=note)


def _annex_two(tenant: Tenant) -> Section:
    with tenant_scope(tenant):
        measures = security_section(tenant, timezone.now() - PERIOD)
    return Section(_("Annex II: technical and organisational security measures (GDPR Art. 32)"), measures.columns,
                   measures.rows, note=_("As implemented by the platform on the date this document was generated."))


def _acceptance_section(version: DpaVersion, acceptance: DpaAcceptance | None) -> Section:
    columns = (_("Item"), _("Value"))
    if acceptance is None:
        return Section(_("Acceptance"), columns, [(_("Status"), _("Not accepted yet"))])
    return Section(_("Acceptance"), columns, [
        (_("Version accepted"), str(version.number)),
        (_("Accepted by"), acceptance.accepted_by_email),
        (_("Accepted on"), when(acceptance.accepted_at)),
        (_("From IP address"), acceptance.ip_address or "—"),
        (_("Subprocessor list version at acceptance"), str(acceptance.register_version or "—")),
    ])


def dpa_pdf(tenant: Tenant, version: DpaVersion) -> bytes:
    """The DPA of ``version`` for ``tenant``: parties, clauses, Annex I (the subprocessor list), Annex II (security
    measures) and the acceptance record; in the active language."""
    acceptance = dpa_acceptance(tenant, version)
    styles = pdf_styles()
    body = ParagraphStyle("body", parent=styles["cell"], fontSize=9, leading=12, spaceAfter=4)
    subheading = ParagraphStyle("subheading", parent=styles["head"], fontSize=9.5, leading=12, spaceBefore=4)
    buffer = io.BytesIO()
    title = version.localised("title")
    document = SimpleDocTemplate(buffer, pagesize=A4, title=f"{title} v{version.number}", author=PROCESSOR_NAME,
                                 leftMargin=18 * mm, rightMargin=18 * mm, topMargin=15 * mm, bottomMargin=15 * mm)
    story = [pdf_cell(title, styles, "title"), pdf_cell(_("Version %(number)s, published on %(date)s") % {
        "number": version.number, "date": formats.date_format(timezone.localdate(version.published_at))},
        styles, "subtitle")]
    story += [pdf_cell(line, styles, "subtitle") for line in (
        _("Controller: %(name)s (%(country)s)") % {"name": tenant.legal_name, "country": tenant.country},
        _("Processor: %(name)s") % {"name": PROCESSOR_NAME},
    )]
    story.append(Spacer(1, 4 * mm))
    for block in text_blocks(dpa_text(version, tenant)):
        style = {"h2": styles["heading"], "h3": subheading}.get(block.kind, body)
        story.append(Paragraph(escape(block.text), style))
    for section in (_annex_one(acceptance), _annex_two(tenant), _acceptance_section(version, acceptance)):
        story.append(pdf_cell(section.title, styles, "heading"))
        story.append(pdf_table(section, styles, document.width) if section.rows else pdf_cell(_("Nothing."), styles,
                                                                                          "note"))
        if section.note:
            story += [Spacer(1, 2 * mm), pdf_cell(section.note, styles, "note")]
    document.build(story)
    return buffer.getvalue()


def dpa_filename(tenant: Tenant, version: DpaVersion) -> str:
    return f"dpa-v{version.number}-{tenant.slug}.pdf"
