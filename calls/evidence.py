"""The evidence bundle of one call: what was sent to which AI provider, on what legal basis, and the proof that the
AI log says so unaltered.

Built in the calls app because it needs the call's facts (compliance never imports calls). The bundle is a JSON
document with stable keys, generated now from the database: the call and its legal basis (the campaign's, with its
consent proof reference, when the call came from one), the script and its revision in the audit log, every row of
the AI log for the call (sizes and SHA-256 digests of what was sent and received, never the content), the
subprocessor register entries of the providers used, and the hash-chain proof of each row, checked at generation
time against its neighbours in the tenant's chain (``compliance.selectors.ai_log_rows_prove``).

The DPA version is the one the controller had accepted when the call started (``dpa_version``, null when it had
accepted none by then), next to the latest published one (``dpa_current``). What is not recorded is said so, not
guessed: each AI row carries whatever ``register_version`` the pipeline wrote (often empty), and the register
entries are today's.
"""

from __future__ import annotations

import datetime

from auditlog.models import LogEntry
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from reportlab.lib.pagesizes import A4, landscape

from compliance.documents import Section, document_pdf
from compliance.models import AIInvocation, AILogHead
from compliance.policies import dpa_acceptance_in_force, dpa_current
from compliance.records import when, yes_no
from compliance.selectors import ai_invocations_for_call, ai_log_rows_prove
from subprocessors.models import RegisterVersion, Subprocessor
from tenants.models import LegalBasis, TenantSettings

from .models import Call

SCHEMA = "callkom.call-evidence/1"


def _iso(value: datetime.datetime | None) -> str | None:
    return value.astimezone(datetime.UTC).isoformat() if value else None


def _legal_basis(value: str) -> dict | None:
    return {"code": value, "label": str(dict(LegalBasis.choices).get(value, value))} if value else None


def _campaign(call: Call) -> dict | None:
    campaign = call.campaign
    if campaign is None:
        return None
    contact_list = campaign.contact_list
    return {
        "id": campaign.pk, "name": campaign.name, "legal_basis": _legal_basis(campaign.legal_basis),
        "consent_proof": campaign.consent_proof or None, "audience": campaign.audience,
        "ongoing_contract": campaign.ongoing_contract,
        "contact_list": {"id": contact_list.pk, "name": contact_list.name,
                         "legal_basis": _legal_basis(contact_list.legal_basis),
                         "consent_proof": contact_list.consent_proof or None},
    }


def _script(call: Call) -> dict:
    """The script and its revision: the last audit-log entry of the script at the time of the call (scripts carry
    no version number; the audit log dates every change)."""
    script = call.script
    entries = LogEntry.objects.get_for_object(script).filter(additional_data__tenant=call.tenant_id)
    revision = entries.filter(timestamp__lte=call.created_at).order_by("-timestamp").first()
    return {
        "id": script.pk, "name": script.name, "language": script.language,
        "revision": {"audit_entry": revision.pk, "at": _iso(revision.timestamp)} if revision else None,
        "changed_since_call": entries.filter(timestamp__gt=call.created_at).exists(),
    }


def _invocation(row: AIInvocation) -> dict:
    return {
        "id": row.pk, "provider": row.provider, "role": row.role, "model": row.model, "region": row.region,
        "started_at": _iso(row.started_at), "duration_ms": row.duration_ms, "outcome": row.outcome,
        "error_class": row.error_class or None,
        "request": {"bytes": row.request_bytes, "sha256": row.request_sha256},
        "response": {"bytes": row.response_bytes, "sha256": row.response_sha256 or None},
        "prompt_tokens": row.prompt_tokens, "completion_tokens": row.completion_tokens,
        "minimised_fields": row.minimised_fields, "redactions": row.redactions, "no_training": row.no_training,
        "register_version": row.register_version or None,
    }


PUBLISHED_FIELDS = ("slug", "name", "legal_entity", "role", "processing_region", "country", "transfer_mechanism",
                    "supplementary_measures", "no_training_offered", "no_training_enabled", "zero_retention_offered",
                    "zero_retention_enabled")


def _subprocessor(entry: Subprocessor) -> dict:
    return {**{name: getattr(entry, name) for name in PUBLISHED_FIELDS}, "register_version": None}


def _dpa(call: Call) -> dict | None:
    """The DPA version the controller had accepted when the call started (an acceptance after it does not count)."""
    acceptance = dpa_acceptance_in_force(call.tenant, call.started_at or call.created_at)
    if acceptance is None:
        return None
    return {"number": acceptance.version.number, "title": acceptance.version.title,
            "accepted_at": _iso(acceptance.accepted_at), "accepted_by": acceptance.accepted_by_email}


def _published_entries(rows: list[AIInvocation]) -> dict[str, dict]:
    """Each provider's entry as published in the list version its latest request recorded (slug -> entry)."""
    version_of = {}
    for row in rows:
        if row.register_version.isdigit():
            version_of[row.provider] = max(version_of.get(row.provider, 0), int(row.register_version))
    snapshots = {version.number: {entry["slug"]: entry for entry in version.snapshot}
                 for version in RegisterVersion.objects.filter(number__in=set(version_of.values()))}
    entries = {}
    for slug, number in version_of.items():
        entry = snapshots.get(number, {}).get(slug)
        if entry is not None:
            entries[slug] = {**{name: entry.get(name) for name in PUBLISHED_FIELDS}, "register_version": number}
    return entries


def _subprocessors(call: Call, rows: list[AIInvocation]) -> dict:
    used = sorted({row.provider for row in rows})
    published = _published_entries(rows)
    register = Subprocessor.objects.in_bulk([slug for slug in used if slug not in published], field_name="slug")
    current = dpa_current()
    return {
        "register_versions": sorted({row.register_version for row in rows if row.register_version}),
        "dpa_version": _dpa(call),
        "dpa_current": current.number if current else None,
        "note": _("The DPA version is the one the controller had accepted when the call started. Each AI request "
                  "records the subprocessor list version in force; a provider's entry below is as published in that "
                  "version (register_version), or else the register's current row (register_version null)."),
        "entries": [published.get(slug) or _subprocessor(register[slug]) for slug in used
                    if slug in published or slug in register],
        "not_in_register": [slug for slug in used if slug not in published and slug not in register],
    }


def _chain_proof(call: Call, rows: list[AIInvocation]) -> dict:
    proofs = ai_log_rows_prove(call.tenant, rows)
    head = AILogHead.objects.filter(tenant=call.tenant).first()
    return {
        "method": _("Each row's SHA-256 is recomputed from its fields (compliance.chain.CHAINED_FIELDS) and its "
                    "previous hash is checked against the row just before it in the tenant's chain."),
        "checked_at": _iso(timezone.now()),
        "verified": all(proof.ok for proof in proofs),
        "rows": [{"id": proof.invocation_id, "prev_hash": proof.prev_hash, "row_hash": proof.row_hash,
                  "recomputed_hash": proof.recomputed_hash, "link": proof.link,
                  "predecessor_id": proof.predecessor_id, "ok": proof.ok, "problem": proof.problem or None}
                 for proof in proofs],
        "head": {"last_hash": head.last_hash, "length": head.length, "anchor_hash": head.anchor_hash or None,
                 "pruned": head.pruned} if head else None,
    }


def call_evidence(call: Call) -> dict:
    """Return the call's evidence bundle as JSON-ready data; run inside the call's tenant scope."""
    rows = list(ai_invocations_for_call(call.pk).filter(tenant=call.tenant).defer("payload"))
    tenant = call.tenant
    tenant_settings = TenantSettings.objects.get(tenant=tenant)
    return {
        "schema": SCHEMA,
        "generated_at": _iso(timezone.now()),
        "call": {"id": str(call.pk), "direction": call.direction, "channel": call.channel, "status": call.status,
                 "created_at": _iso(call.created_at), "started_at": _iso(call.started_at),
                 "ended_at": _iso(call.ended_at), "end_reason": call.end_reason or None,
                 "legal_basis": _legal_basis(call.legal_basis), "campaign": _campaign(call)},
        "tenant": {"slug": tenant.slug, "legal_name": tenant.legal_name, "country": tenant.country,
                   "region_policy": tenant.region_policy},
        "script": _script(call),
        "ai_excluded_fields": {"current": tenant_settings.ai_excluded_fields, "note": _(
            "The tenant's setting today; each AI request lists the fields actually removed when it was sent.")},
        "ai_invocations": [_invocation(row) for row in rows],
        "subprocessors": _subprocessors(call, rows),
        "chain_proof": _chain_proof(call, rows),
    }


# --- the same, as a PDF ------------------------------------------------------------------------------------------


PROBLEMS = {
    "content_changed": gettext_lazy("content changed after it was written"),
    "predecessor_missing": gettext_lazy("the previous row is missing"),
    "predecessor_changed": gettext_lazy("the previous row was changed"),
    "not_adjacent": gettext_lazy("rows were removed or inserted before it"),
    "bad_start": gettext_lazy("it claims to start the chain but is not the first row"),
}


def _text(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return yes_no(value)
    return str(value)


def _fields(names: list[str]) -> str:
    labels = dict(TenantSettings.AI_EXCLUDABLE_FIELDS)
    return ", ".join(str(labels.get(name, name)) for name in names) or _("None")


def _stamp(value: str | None) -> str:
    return when(datetime.datetime.fromisoformat(value)) if value else "—"


def _basis(value: dict | None) -> str:
    return value["label"] if value else "—"


def _campaign_rows(campaign: dict | None) -> list[tuple[str, str]]:
    if campaign is None:
        return []
    proof = campaign["consent_proof"] or campaign["contact_list"]["consent_proof"]
    return [(_("Campaign"), campaign["name"]), (_("Legal basis of the campaign"), _basis(campaign["legal_basis"])),
            (_("Consent proof reference"), _text(proof))]


def _script_rows(script: dict) -> list[tuple[str, str]]:
    revision = script["revision"]
    changed = f'#{revision["audit_entry"]}, {_stamp(revision["at"])}' if revision else "—"
    return [(_("Script"), f'{script["name"]} ({script["language"]})'), (_("Script revision (audit log)"), changed),
            (_("Script changed since the call"), _text(script["changed_since_call"]))]


def _dpa_text(subprocessors: dict) -> str:
    dpa = subprocessors["dpa_version"]
    if dpa is None:
        return _("None accepted when the call started (latest published version: %(current)s)") % {
            "current": _text(subprocessors["dpa_current"])}
    return _("Version %(number)s, accepted on %(when)s by %(who)s") % {
        "number": dpa["number"], "when": _stamp(dpa["accepted_at"]), "who": dpa["accepted_by"]}


def _call_section(evidence: dict) -> Section:
    call = evidence["call"]
    rows = [
        (_("Call"), call["id"]),
        (_("Controller"), evidence["tenant"]["legal_name"]),
        (_("Direction"), str(dict(Call.Direction.choices).get(call["direction"], call["direction"]))),
        (_("Created"), _stamp(call["created_at"])),
        (_("Ended"), _stamp(call["ended_at"])),
        (_("Legal basis"), _basis(call["legal_basis"])),
        *_campaign_rows(call["campaign"]),
        *_script_rows(evidence["script"]),
        (_("Fields never sent to an AI (today)"), _fields(evidence["ai_excluded_fields"]["current"])),
        (_("Subprocessor list version"), ", ".join(evidence["subprocessors"]["register_versions"]) or "—"),
        (_("DPA version in force at the call"), _dpa_text(evidence["subprocessors"])),
    ]
    return Section(_("The call"), (_("Item"), _("Value")), rows, note=evidence["subprocessors"]["note"])


def _invocations_section(evidence: dict) -> Section:
    roles = dict(AIInvocation.Role.choices)
    outcomes = dict(AIInvocation.Outcome.choices)
    rows = [(
        str(row["id"]), _stamp(row["started_at"]), str(roles.get(row["role"], row["role"])),
        f'{row["provider"]} ({row["model"]})', row["region"], f'{row["duration_ms"]} ms',
        str(outcomes.get(row["outcome"], row["outcome"])),
        f'{row["request"]["bytes"]} / {row["response"]["bytes"]}',
        f'{_text(row["prompt_tokens"])} / {_text(row["completion_tokens"])}',
        f'{_fields(row["minimised_fields"])}; {row["redactions"]}', _text(row["no_training"]),
    ) for row in evidence["ai_invocations"]]
    columns = (_("Row"), _("Started"), _("Role"), _("Provider (model)"), _("Region"), _("Duration"), _("Outcome"),
               _("Bytes sent / received"), _("Tokens in / out"), _("Fields removed; redactions"), _("No training"))
    widths = (0.05, 0.13, 0.09, 0.15, 0.06, 0.07, 0.07, 0.1, 0.08, 0.13, 0.07)
    return Section(_("AI requests"), columns, rows, widths=widths)


def _subprocessors_section(evidence: dict) -> Section:
    transfers = dict(Subprocessor.Transfer.choices)
    rows = [(entry["name"], entry["legal_entity"], f'{entry["processing_region"]} ({entry["country"]})',
             str(transfers.get(entry["transfer_mechanism"], entry["transfer_mechanism"])),
             _text(entry["no_training_enabled"]), _text(entry["zero_retention_enabled"]))
            for entry in evidence["subprocessors"]["entries"]]
    rows += [(slug, _("Not in the register"), "—", "—", "—", "—")
             for slug in evidence["subprocessors"]["not_in_register"]]
    columns = (_("Subprocessor"), _("Legal entity"), _("Region"), _("Transfer mechanism"), _("No training"),
               _("Zero retention"))
    return Section(_("Subprocessors reached"), columns, rows)


def _digests_section(evidence: dict) -> Section:
    rows = [(str(row["id"]), row["request"]["sha256"], row["response"]["sha256"] or "—")
            for row in evidence["ai_invocations"]]
    return Section(_("Digests of what was sent and received (SHA-256)"), (_("Row"), _("Request"), _("Response")),
                   rows, widths=(0.1, 0.45, 0.45))


def _chain_section(evidence: dict) -> Section:
    proof = evidence["chain_proof"]
    rows = [(str(row["id"]), row["prev_hash"], row["row_hash"],
             _("Verified") if row["ok"] else _("FAILED: %(problem)s") % {"problem": PROBLEMS[row["problem"]]})
            for row in proof["rows"]]
    verdict = _("Every row verifies.") if proof["verified"] else _("At least one row does NOT verify.")
    head = proof["head"]
    head_text = (_("Chain head: %(hash)s, %(length)s rows.") % {"hash": head["last_hash"], "length": head["length"]}
                 if head else "")
    return Section(_("Hash-chain proof"), (_("Row"), _("Previous hash"), _("Row hash"), _("Check")), rows,
                   note=f'{verdict} {_("Checked on %(when)s.") % {"when": _stamp(proof["checked_at"])}} '
                        f'{proof["method"]} {head_text}', widths=(0.06, 0.4, 0.4, 0.14))


def evidence_pdf(evidence: dict) -> bytes:
    """Render the bundle for a human reader; the JSON stays the reference (it has every field)."""
    sections = [_call_section(evidence), _invocations_section(evidence), _subprocessors_section(evidence),
                _digests_section(evidence), _chain_section(evidence)]
    title = _("Evidence of AI processing for a call")
    subtitle = [_("Controller: %(controller)s. Call %(call)s. Generated on %(when)s.") % {
        "controller": evidence["tenant"]["legal_name"], "call": evidence["call"]["id"],
        "when": _stamp(evidence["generated_at"])}]
    return document_pdf(sections, title=title, subtitle=subtitle, empty=_("Nothing."), pagesize=landscape(A4))
