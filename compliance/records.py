"""The processor's record of processing activities (GDPR Art. 30(2)) for one controller, built from live data.

Art. 30(2) asks a processor to keep, per controller: its own and the controller's identity and DPO, the categories
of processing carried out on the controller's behalf, the transfers to third countries with their safeguards, and
a description of the security measures. Nothing here is typed in by hand: the categories come from what the
platform actually did for the tenant in the last twelve months, the subprocessors from the AI request log joined
with the public register, the retention periods and instructions from the tenant's settings. A record generated
today therefore says what is true today; regenerate it rather than keep an old copy.

``compliance`` never imports ``calls``: apps that carry out processing for a tenant report their figures through
:func:`register_processing_facts`, from their ``AppConfig.ready()``.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count
from django.utils import formats, timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from subprocessors.models import EU_REGIONS, Subprocessor
from subprocessors.register import current_version
from tenants.models import LegalBasis, StaffAccess, Tenant, TenantSettings
from tenants.roles import Perm, role_has

from .documents import Section, document_csv, document_pdf
from .models import AIInvocation, AILogHead, RetentionCategory, RoutedRequest

PERIOD = datetime.timedelta(days=365)
PROCESSOR_NAME = "CALLKOM"
RECORD_PERMS = (Perm.HANDLE_PRIVACY, Perm.VIEW_AUDIT)
# Register roles that serve every call of every tenant, whatever the AI log says.
PLATFORM_ROLES = (Subprocessor.Role.HOSTING, Subprocessor.Role.QUEUE, Subprocessor.Role.TELEPHONY)

# A facts function takes (tenant, since=datetime) and returns some of these keys (missing means 0 or empty):
# calls_inbound, calls_outbound, reports, campaigns (int, since the date); recordings, contacts (int, stored now);
# legal_bases (dict legal basis -> calls since the date).
FactsFunction = Callable[..., dict]
_facts_functions: dict[str, FactsFunction] = {}


def register_processing_facts(function: FactsFunction) -> FactsFunction:
    """Add an app's facts function (usable as a decorator); registering the same function again replaces it."""
    _facts_functions[f"{function.__module__}.{function.__qualname__}"] = function
    return function


def processing_facts(tenant: Tenant, *, since: datetime.datetime) -> dict:
    """Merge what every registered app reports about its processing for the tenant since the date."""
    facts: dict = {}
    for function in _facts_functions.values():
        facts.update(function(tenant, since=since))
    return facts


def may_read_records(role: str) -> bool:
    """Records and evidence are for whoever answers to an auditor: the DPO, owners and administrators."""
    return any(role_has(role, perm) for perm in RECORD_PERMS)


@dataclass(frozen=True)
class ProcessingRecord:
    tenant: Tenant
    generated_at: datetime.datetime
    since: datetime.datetime
    sections: list[Section]

    @property
    def title(self) -> str:
        return _("Record of processing activities (GDPR Art. 30(2))")

    @property
    def subtitle(self) -> list[str]:
        return [
            _("Processor: %(processor)s. Controller: %(controller)s.")
            % {"processor": PROCESSOR_NAME, "controller": self.tenant.legal_name},
            _("Generated on %(when)s from live data; activity covered: %(start)s to %(end)s.")
            % {"when": when(self.generated_at), "start": formats.date_format(self.since.date()),
               "end": formats.date_format(self.generated_at.date())},
        ]


def when(value: datetime.datetime) -> str:
    """A date and time in the site's zone, named, in the active language's format."""
    local = timezone.localtime(value)
    return f"{formats.date_format(local, 'DATETIME_FORMAT')} ({local.tzname()})"


def yes_no(value: bool) -> str:
    return _("Yes") if value else _("No")


def _or_missing(value: str) -> str:
    return value or _("Not provided")


def _processor_section() -> Section:
    return Section(_("Processor"), (_("Item"), _("Value")), [
        (_("Name"), PROCESSOR_NAME),
        (_("Role"), _("Processor (GDPR Art. 28), acting on the controller's documented instructions")),
        (_("Data protection contact"), settings.PRIVACY_CONTACT_EMAIL),
    ])


def _controller_section(tenant: Tenant) -> Section:
    return Section(_("Controller"), (_("Item"), _("Value")), [
        (_("Legal name"), tenant.legal_name),
        (_("Trade name"), tenant.name),
        (_("Country"), tenant.country),
        (_("DPO name"), _or_missing(tenant.dpo_name)),
        (_("DPO e-mail"), _or_missing(tenant.dpo_email)),
        (_("DPO phone"), _or_missing(tenant.dpo_phone)),
    ])


def _ai_role_counts(tenant: Tenant, since: datetime.datetime) -> dict[str, int]:
    rows = (AIInvocation.objects.filter(tenant=tenant, started_at__gte=since).order_by()
            .values_list("role").annotate(n=Count("id")))
    return dict(rows)


def _calls(count: int) -> str:
    return ngettext("%(count)s call", "%(count)s calls", count) % {"count": count}


def _requests(count: int) -> str:
    return ngettext("%(count)s AI request", "%(count)s AI requests", count) % {"count": count}


def _call_categories(facts: dict) -> list[tuple[str, str]]:
    rows = []
    if facts.get("calls_inbound"):
        rows.append((_("Inbound calls answered by an AI agent"), _calls(facts["calls_inbound"])))
    if facts.get("calls_outbound"):
        rows.append((_("Outbound calls placed by an AI agent"), _calls(facts["calls_outbound"])))
    if campaigns := facts.get("campaigns"):
        rows.append((_("Calling campaigns (automated dialing of contact lists, with calling rules)"),
                     ngettext("%(count)s campaign", "%(count)s campaigns", campaigns) % {"count": campaigns}))
    if contacts := facts.get("contacts"):
        rows.append((_("Storage of the contacts to be called (encrypted)"),
                     ngettext("%(count)s contact stored", "%(count)s contacts stored", contacts)
                     % {"count": contacts}))
    return rows


def _ai_categories(roles: dict[str, int], facts: dict) -> list[tuple[str, str]]:
    rows = []
    if roles.get(AIInvocation.Role.STT):
        rows.append((_("Speech-to-text transcription of the calls"), _requests(roles[AIInvocation.Role.STT])))
    if roles.get(AIInvocation.Role.LLM):
        rows.append((_("Conversational response generation"), _requests(roles[AIInvocation.Role.LLM])))
    if roles.get(AIInvocation.Role.TTS):
        rows.append((_("Voice synthesis"), _requests(roles[AIInvocation.Role.TTS])))
    report_requests = roles.get(AIInvocation.Role.SUMMARY, 0) + roles.get(AIInvocation.Role.EXTRACTION, 0)
    reports = facts.get("reports", 0)
    if report_requests or reports:
        rows.append((_("Post-call summary and structured report (name, contact details, need, appointment)"),
                     _("%(reports)s; %(requests)s") % {
                         "reports": ngettext("%(count)s report", "%(count)s reports", reports) % {"count": reports},
                         "requests": _requests(report_requests)}))
    return rows


def _recording_category(tenant_settings: TenantSettings, facts: dict) -> list[tuple[str, str]]:
    """Recording is a category only while the tenant records, or while recordings made earlier are still kept."""
    stored = facts.get("recordings", 0)
    if not tenant_settings.recording_enabled and not stored:
        return []
    state = _("Recording on") if tenant_settings.recording_enabled else _("Recording off now")
    kept = ngettext("%(count)s recording stored", "%(count)s recordings stored", stored) % {"count": stored}
    return [(_("Call recording (encrypted audio)"), f"{state}; {kept}")]


def _categories_section(tenant: Tenant, tenant_settings: TenantSettings, facts: dict,
                        since: datetime.datetime) -> Section:
    rows = _call_categories(facts) + _ai_categories(_ai_role_counts(tenant, since), facts)
    rows += _recording_category(tenant_settings, facts)
    rights = RoutedRequest.objects.filter(tenant=tenant, routed_at__gte=since).count()
    rows.append((_("Forwarding and carrying out data-subject rights requests"),
                 ngettext("%(count)s request forwarded", "%(count)s requests forwarded", rights) % {"count": rights}))
    rows.append((_("Security and traceability log of the AI requests"),
                 _("Every AI request: provider, role, region, size and digest of what was sent")))
    return Section(_("Categories of processing carried out on the controller's behalf"),
                   (_("Processing"), _("In the last 12 months")), rows)


def _legal_bases_used(facts: dict) -> str:
    labels = dict(LegalBasis.choices)
    used = sorted((facts.get("legal_bases") or {}).items(), key=lambda item: -item[1])
    return "; ".join(f"{labels.get(basis, basis)}: {count}" for basis, count in used) or _("No call")


def _instructions_section(tenant: Tenant, tenant_settings: TenantSettings, facts: dict) -> Section:
    fields = dict(TenantSettings.AI_EXCLUDABLE_FIELDS)
    excluded = ", ".join(str(fields.get(name, name)) for name in tenant_settings.ai_excluded_fields)
    return Section(_("Controller's instructions and legal bases"), (_("Item"), _("Value")), [
        (_("Default legal basis of the calls"), tenant_settings.get_default_legal_basis_display()),
        (_("Legal bases of the calls in the last 12 months"), _legal_bases_used(facts)),
        (_("Region policy"), tenant.get_region_policy_display()),
        (_("Calls recorded"), yes_no(tenant_settings.recording_enabled)),
        (_("Fields never sent to an AI"), excluded or _("None")),
        (_("Exact AI requests kept (encrypted)"), yes_no(tenant_settings.log_ai_request_payloads)),
    ], note=_("The controller chooses the legal basis of each call or campaign; CALLKOM records it with the call."))


@dataclass(frozen=True)
class ProviderUse:
    """One (provider, role, region) seen in the AI log over the period, with the register's row if it has one."""

    provider: str
    role: str
    region: str
    requests: int
    entry: Subprocessor | None


def providers_used(tenant: Tenant, since: datetime.datetime) -> list[ProviderUse]:
    """Return the AI providers the tenant's calls actually reached over the period, most used first."""
    rows = list(AIInvocation.objects.filter(tenant=tenant, started_at__gte=since).order_by()
                .values_list("provider", "role", "region").annotate(n=Count("id")))
    register = Subprocessor.objects.in_bulk({provider for provider, *_rest in rows}, field_name="slug")
    uses = [ProviderUse(provider, role, region, n, register.get(provider)) for provider, role, region, n in rows]
    return sorted(uses, key=lambda use: (-use.requests, use.provider, use.role))


def _on_off(offered: bool, enabled: bool) -> str:
    if not offered:
        return _("Not offered")
    return _("On") if enabled else _("Offered, off")


def _subprocessor_row(name: str, entry: Subprocessor | None, role: str, region: str, requests: str) -> tuple:
    outside = region not in EU_REGIONS
    if entry is None:
        return (name, role, region, _("Not in the register"), yes_no(outside), "", requests)
    transfer = entry.get_transfer_mechanism_display()
    measures = entry.localised("supplementary_measures")
    if entry.transfer_mechanism != Subprocessor.Transfer.EU and measures:
        transfer = f"{transfer}. {measures}"
    return (
        f"{entry.name} ({entry.legal_entity}, {entry.country})", role, region, transfer, yes_no(outside),
        _("No training: %(training)s. Zero retention: %(retention)s.") % {
            "training": _on_off(entry.no_training_offered, entry.no_training_enabled),
            "retention": _on_off(entry.zero_retention_offered, entry.zero_retention_enabled)},
        requests,
    )


def _subprocessors_section(tenant: Tenant, since: datetime.datetime) -> Section:
    roles = dict(AIInvocation.Role.choices)
    rows = [_subprocessor_row(use.provider, use.entry, str(roles.get(use.role, use.role)), use.region,
                              str(use.requests)) for use in providers_used(tenant, since)]
    platform = Subprocessor.objects.filter(role__in=PLATFORM_ROLES, status=Subprocessor.Status.ACTIVE)
    rows += [_subprocessor_row(entry.name, entry, entry.get_role_display(), entry.processing_region,
                               _("Every call")) for entry in platform]
    columns = (_("Subprocessor"), _("Role"), _("Region"), _("Transfer mechanism and measures"), _("Outside the EU"),
               _("Provider options"), _("Requests (12 months)"))
    version = current_version()
    note = _("AI providers as recorded in the AI request log over the last 12 months, with their entry in CALLKOM's "
             "public subprocessor register; infrastructure subprocessors serve every call.")
    if version is not None:
        note = _("%(note)s Register: list version %(number)s of %(date)s.") % {
            "note": note, "number": version.number, "date": date_format(version.published_at, "DATE_FORMAT")}
    return Section(_("Subprocessors and transfers"), columns, rows, widths=(0.22, 0.11, 0.07, 0.2, 0.08, 0.19, 0.13),
                   note=note)


def _retention_section(tenant_settings: TenantSettings) -> Section:
    rows = []
    for category in RetentionCategory:
        field = TenantSettings._meta.get_field(f"retention_{category.value}_days")
        days = getattr(tenant_settings, field.attname)
        rows.append((category.label, ngettext("%(days)s day", "%(days)s days", days) % {"days": days}))
    return Section(_("Retention periods in force"), (_("Data"), _("Kept for")), rows, note=_(
        "Data past its period is deleted every day, except what a legal hold keeps (a rights request or a dispute)."))


def _transport_measure() -> str:
    hsts = getattr(settings, "SECURE_HSTS_SECONDS", 0)
    if getattr(settings, "SECURE_SSL_REDIRECT", False) and hsts:
        return _("The portal and the API answer over HTTPS only (redirect, HSTS for %(days)s days); webhooks go "
                 "to https:// addresses only, signed with HMAC-SHA256.") % {"days": hsts // 86400}
    return _("This installation does not enforce HTTPS itself (development mode): a TLS proxy must front it. "
             "Webhooks go to https:// addresses only, signed with HMAC-SHA256.")


def security_section(tenant: Tenant, since: datetime.datetime) -> Section:
    head = AILogHead.objects.filter(tenant=tenant).first()
    staff_views = StaffAccess.objects.filter(tenant=tenant, at__gte=since).count()
    return Section(_("Technical and organisational security measures"), (_("Measure"), _("What the platform does")), [
        (_("Encryption at rest"), _(
            "Personal data and call content (contacts, transcripts, reports, AI request payloads, DPO details) are "
            "encrypted in the database with Fernet (AES-128 and HMAC-SHA256); recordings, uploaded files and "
            "exports are stored encrypted. Keys rotate: the newest key encrypts, the older ones still decrypt.")),
        (_("Blind indexes"), _(
            "Phone numbers and e-mail addresses are also kept as an HMAC-SHA256 of their normalised form under a "
            "separate key, so that a person can be found without decrypting anyone's data.")),
        (_("Separation of customers"), _(
            "Every record carries its controller; the application refuses to read customer data outside one "
            "controller's scope, and another controller's pages answer as if they did not exist.")),
        (_("Access control"), _(
            "Portal roles (owner, administrator, campaign manager, viewer, DPO) grant separate permissions; "
            "passwords are stored hashed; API keys are stored as SHA-256 digests, with scopes and expiry.")),
        (_("Minimisation before AI providers"), _(
            "The controller's excluded fields are removed and payment-card and IBAN numbers are redacted before "
            "any request leaves for an AI provider.")),
        (_("Audit log"), _(
            "Every change of configuration and workflow state is recorded with who made it and when; encrypted "
            "fields stay out of the log.")),
        (_("Hash-chained AI request log"), _(
            "Append-only and hash-chained per controller, so that an edited or removed row is detected; "
            "%(rows)s rows in this controller's chain.") % {"rows": head.length if head else 0}),
        (_("Encrypted transport"), _transport_measure()),
        (_("Logged staff access"), _(
            "CALLKOM staff reach controller data only through the administration, where each view is logged; "
            "%(count)s logged views of this controller's data in the last 12 months.") % {"count": staff_views}),
    ])


def processing_record(tenant: Tenant, *, now: datetime.datetime | None = None) -> ProcessingRecord:
    """Build the tenant's record from live data; run inside the tenant's scope."""
    now = now or timezone.now()
    since = now - PERIOD
    tenant_settings = TenantSettings.objects.get(tenant=tenant)
    facts = processing_facts(tenant, since=since)
    return ProcessingRecord(tenant=tenant, generated_at=now, since=since, sections=[
        _processor_section(),
        _controller_section(tenant),
        _categories_section(tenant, tenant_settings, facts, since),
        _instructions_section(tenant, tenant_settings, facts),
        _subprocessors_section(tenant, since),
        _retention_section(tenant_settings),
        security_section(tenant, since),
    ])


def record_csv(record: ProcessingRecord) -> str:
    return document_csv(record.sections, header=(_("Section"), _("Item"), _("Value")))


def record_pdf(record: ProcessingRecord) -> bytes:
    return document_pdf(record.sections, title=record.title, subtitle=record.subtitle, empty=_("Nothing."))


def record_filename(record: ProcessingRecord, extension: str) -> str:
    return f"processing-record-{record.tenant.slug}-{record.generated_at.date().isoformat()}.{extension}"
