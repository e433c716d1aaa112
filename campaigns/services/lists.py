"""Contact lists: creation, the contacts in them, the risk checks a list must pass before a campaign may call it,
and the user's fixes and acknowledgements of what the checks find.

Each service runs in one transaction inside the tenant's scope. Lists and risk findings are audited
(campaigns/apps.py), so a change, a fix or an acknowledgement is on the record with its author.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter, defaultdict

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from calls.models import Contact, DoNotCall, DoNotCallSource, PlatformDoNotCall
from tenants.models import LegalBasis, Tenant, User

from ..models import ContactImport, ContactList, ContactListEntry, RiskFinding

Kind = RiskFinding.Kind
FindingStatus = RiskFinding.Status
ImportStatus = ContactImport.Status

LISTED_SOURCES = (DoNotCallSource.MANUAL, DoNotCallSource.IMPORT)
OBJECTION_SOURCES = (DoNotCallSource.OBJECTION, DoNotCallSource.RIGHTS_REQUEST)
MIN_JUSTIFICATION = 10
VALUES_SAMPLED = 500  # values per column looked at by the content checks
FLAGGED_SHARE = 0.1  # share of sampled values that must look sensitive for a column to be flagged
ERASE_BATCH = 1000



def contact_list_blockers(*, contact_list: ContactList) -> list[str]:
    """Return why a campaign may not use this list yet (an empty list when it may).

    A list is usable once its risks were checked after its last import and every finding is fixed or
    acknowledged. The legal basis is the campaign's to give; a list without one is a finding of its own.
    """
    reasons = []
    if contact_list.risk_checked_at is None:
        reasons.append(_("The list's risks have not been checked yet."))
    open_findings = RiskFinding.objects.filter(contact_list=contact_list, status=RiskFinding.Status.OPEN).count()
    if open_findings:
        reasons.append(_("%(count)s risk finding(s) must be fixed or acknowledged.") % {"count": open_findings})
    return reasons




def _validate_list(contact_list: ContactList) -> None:
    contact_list.name = contact_list.name.strip()
    if not contact_list.name:
        raise ValidationError({"name": _("Give the list a name.")})
    taken = ContactList.objects.filter(tenant_id=contact_list.tenant_id, name__iexact=contact_list.name)
    if taken.exclude(pk=contact_list.pk).exists():
        raise ValidationError({"name": _("Another list already has this name.")})
    if contact_list.legal_basis == LegalBasis.CONSENT and not contact_list.consent_proof.strip():
        raise ValidationError({"consent_proof": _("With consent as the legal basis, say where the proof of each "
                                                  "person's consent is kept.")})
    contact_list.full_clean(validate_constraints=False)


@transaction.atomic
def contact_list_create(*, tenant: Tenant, name: str, description: str = "", legal_basis: str = "",
                        consent_proof: str = "", actor: User | None = None) -> ContactList:
    contact_list = ContactList(tenant=tenant, name=name, description=description, legal_basis=legal_basis,
                               consent_proof=consent_proof, created_by=actor)
    _validate_list(contact_list)
    contact_list.save()
    return contact_list


@transaction.atomic
def contact_list_add(*, contact_list: ContactList, contacts: list[Contact]) -> int:
    """Put contacts in a list (those already in it are left alone); the list's risks must be checked again."""
    present = set(ContactListEntry.objects.filter(contact_list=contact_list).values_list("contact_id", flat=True))
    new = [ContactListEntry(tenant_id=contact_list.tenant_id, contact_list=contact_list, contact=contact)
           for contact in contacts if contact.pk not in present]
    ContactListEntry.objects.bulk_create(new)
    if new and contact_list.risk_checked_at is not None:
        contact_list.risk_checked_at = None
        contact_list.save(update_fields=["risk_checked_at"])
    return len(new)


@transaction.atomic
def contact_lists_recheck(*, contact: Contact) -> None:
    """Send the lists a changed contact is in back to the risk check (its number or other data changed)."""
    ContactList.objects.filter(entries__contact=contact, risk_checked_at__isnull=False).update(risk_checked_at=None)


@transaction.atomic
def contact_list_update(*, contact_list: ContactList, name: str, description: str, legal_basis: str,
                        consent_proof: str, actor: User | None = None) -> ContactList:
    """Change a list's name, description and legal basis; giving a legal basis resolves the finding of its
    absence, removing it opens that finding again."""
    contact_list = ContactList.objects.select_for_update().get(pk=contact_list.pk)
    contact_list.name, contact_list.description = name, description
    contact_list.legal_basis, contact_list.consent_proof = legal_basis, consent_proof
    _validate_list(contact_list)
    contact_list.save()
    _sync_findings(contact_list, _legal_basis_flags(contact_list), kinds=[Kind.NO_LEGAL_BASIS], actor=actor)
    return contact_list


# --- risk checks -----------------------------------------------------------------------------------


def match_words(text: str) -> str:
    """Normalise a column name or a value for matching: camelCase split, accents and case dropped, punctuation
    as spaces, a plural “s” dropped (“Maladies”, “dateDeNaissance” and “date_de_naissance” all match)."""
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", str(text))
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return " ".join(word[:-1] if len(word) > 3 and word.endswith("s") else word
                    for word in re.findall(r"[a-z0-9]+", ascii_text))


def _terms(*terms: str) -> tuple[str, ...]:
    return tuple(match_words(term) for term in terms)


SPECIAL_CATEGORY_HEADERS = _terms(
    "santé", "health", "maladie", "disease", "illness", "médical", "medical", "diagnostic", "diagnosis",
    "pathologie", "handicap", "disability", "allergie", "allergy", "grossesse", "pregnancy", "traitement médical",
    "religion", "religious", "religieux", "religieuse", "confession", "croyance", "belief", "faith",
    "ethnic", "ethnicity", "ethnie", "ethnique", "race", "racial", "origine",
    "syndicat", "syndical", "syndicale", "union", "trade union",
    "sexual", "sexuel", "sexuelle", "sexualité", "sexuality", "orientation sexuelle",
    "politique", "political", "politics", "opinion politique",
    "biometric", "biométrique", "biométrie", "empreinte", "fingerprint", "genetic", "génétique", "adn", "dna",
)
UNNEEDED_HEADERS = _terms(
    "nir", "insee", "sécurité sociale", "secu", "social security", "ssn", "national id", "nationalid",
    "carte d'identité", "carte identité", "identity card", "id card", "identity number", "numéro fiscal", "tax id",
    "passport", "passeport", "iban", "bic", "rib", "bank account", "compte bancaire", "account number",
    "card number", "credit card", "carte bancaire", "numéro de carte", "cvv", "cvc", "cryptogramme",
    "date de naissance", "naissance", "birth", "birthday", "birthdate", "dob", "date of birth",
    "password", "mot de passe", "mdp", "passwd", "pin", "permis de conduire", "driving licence", "driver license",
)
SPECIAL_CATEGORY_VALUES = set(_terms(
    "diabète", "diabétique", "diabetes", "diabetic", "cancer", "vih", "hiv", "sida", "aids", "asthme", "asthma",
    "dépression", "depression", "épilepsie", "epilepsy", "alzheimer", "parkinson", "enceinte", "pregnant",
    "handicapé", "disabled", "catholique", "catholic", "musulman", "musulmane", "muslim", "islam", "juif", "juive",
    "jewish", "chrétien", "chrétienne", "christian", "protestant", "bouddhiste", "buddhist", "hindou", "hindu",
    "athée", "atheist", "homosexuel", "homosexuelle", "homosexual", "gay", "lesbienne", "lesbian", "bisexuel",
    "bisexual", "transgenre", "transgender", "syndiqué", "cgt", "cfdt",
))


def _has_term(words: str, terms: tuple[str, ...]) -> bool:
    padded = f" {words} "
    return any(f" {term} " in padded for term in terms)


def header_risk(header: str) -> str | None:
    """Return the finding kind a column name suggests (special-category or unneeded data), or None."""
    words = match_words(header)
    if _has_term(words, SPECIAL_CATEGORY_HEADERS):
        return Kind.SPECIAL_CATEGORY
    if _has_term(words, UNNEEDED_HEADERS):
        return Kind.UNNEEDED_DATA
    return None


def is_iban(value: str) -> bool:
    """An IBAN whose check digits are right (ISO 13616: mod 97 of the rearranged number is 1)."""
    compact = re.sub(r"[\s-]", "", value).upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}", compact):
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def is_card_number(value: str) -> bool:
    """A payment card number: a known issuer prefix and length, and the Luhn checksum."""
    digits = re.sub(r"[\s-]", "", value)
    if not re.fullmatch(r"(4\d{12}(\d{3}){0,2}|(5[1-5]|2[2-7])\d{14}|3[47]\d{13}|6\d{15}(\d{3})?)", digits):
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        number = int(char) * (2 if position % 2 else 1)
        total += number - 9 if number > 9 else number
    return total % 10 == 0


def is_nir(value: str) -> bool:
    """A French social security number (NIR) with its two-digit key."""
    compact = re.sub(r"[\s.-]", "", value).upper()
    match = re.fullmatch(r"([12378]\d{4}(?:\d{2}|2A|2B)\d{6})(\d{2})", compact)
    if not match:
        return False
    body = match[1].replace("2A", "19").replace("2B", "18")
    return 97 - int(body) % 97 == int(match[2])


def _mentions_special_category(value: str) -> bool:
    return bool(set(match_words(value).split()) & SPECIAL_CATEGORY_VALUES)


VALUE_CHECKS = (
    (Kind.UNNEEDED_DATA, is_iban,
     gettext_lazy("%(count)s of %(sampled)s values checked are IBAN bank account numbers.")),
    (Kind.UNNEEDED_DATA, is_card_number,
     gettext_lazy("%(count)s of %(sampled)s values checked are payment card numbers.")),
    (Kind.UNNEEDED_DATA, is_nir,
     gettext_lazy("%(count)s of %(sampled)s values checked are French social security numbers.")),
    (Kind.SPECIAL_CATEGORY, _mentions_special_category,
     gettext_lazy("%(count)s of %(sampled)s values checked mention health, religion, sex life or union membership.")),
)


def column_risk(header: str, values: list[str]) -> tuple[str, str] | None:
    """Return (kind, detail) when a column's name or enough of its values look like data a call must not carry."""
    kind = header_risk(header)
    if kind == Kind.SPECIAL_CATEGORY:
        return kind, _("The column's name suggests special-category data (health, religion, origin, union "
                       "membership, sex life, political opinions, biometrics).")
    if kind == Kind.UNNEEDED_DATA:
        return kind, _("The column's name suggests data a call does not need (identity or social security number, "
                       "bank or card details, date of birth, password).")
    for kind, check, detail in VALUE_CHECKS:
        count = sum(1 for value in values if check(value))
        if count and count >= FLAGGED_SHARE * len(values):
            return kind, detail % {"count": count, "sampled": len(values)}
    return None


def _custom(text: str) -> dict:
    try:
        data = json.loads(text or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _list_contacts(contact_list: ContactList) -> QuerySet:
    return Contact.objects.filter(tenant_id=contact_list.tenant_id, list_entries__contact_list=contact_list)


def _flagged_entries(contact_list: ContactList) -> dict[str, QuerySet]:
    """Entries of the list whose number must not be called: people who objected (to this tenant, through a
    rights request, or to every CALLKOM customer), and numbers on the tenant's own do-not-call list."""
    entries = ContactListEntry.objects.filter(tenant_id=contact_list.tenant_id, contact_list=contact_list)
    tenant_numbers = DoNotCall.objects.filter(tenant_id=contact_list.tenant_id)
    objected = (Q(contact__phone_index__in=tenant_numbers.filter(source__in=OBJECTION_SOURCES).values("phone_index"))
                | Q(contact__phone_index__in=PlatformDoNotCall.objects.values("phone_index")))
    listed = Q(contact__phone_index__in=tenant_numbers.filter(source__in=LISTED_SOURCES).values("phone_index"))
    return {Kind.OBJECTION: entries.filter(objected), Kind.DO_NOT_CALL: entries.filter(listed & ~objected)}


def _number_flags(contact_list: ContactList) -> dict:
    details = {Kind.OBJECTION: _("These people objected to calls: the dialer will skip them."),
               Kind.DO_NOT_CALL: _("These numbers are on your do-not-call list: the dialer will skip them.")}
    flags = {}
    for kind, entries in _flagged_entries(contact_list).items():
        count = entries.count()
        if count:
            flags[(kind, "")] = (count, details[kind])
    return flags


def _column_flags(contact_list: ContactList) -> dict:
    """Read every contact's other information once (decrypting it) and flag the sensitive columns."""
    filled: Counter = Counter()
    samples: dict[str, list[str]] = defaultdict(list)
    for text in _list_contacts(contact_list).values_list("custom_fields", flat=True).iterator(chunk_size=2000):
        for column, value in _custom(text).items():
            if value in ("", None):
                continue
            filled[column] += 1
            if len(samples[column]) < VALUES_SAMPLED:
                samples[column].append(str(value))
    flags = {}
    for column, count in filled.items():
        risk = column_risk(column, samples[column])
        if risk is not None:
            flags[(risk[0], column[:120])] = (count, risk[1])
    return flags


def _legal_basis_flags(contact_list: ContactList) -> dict:
    if contact_list.legal_basis:
        return {}
    count = ContactListEntry.objects.filter(tenant_id=contact_list.tenant_id, contact_list=contact_list).count()
    return {(Kind.NO_LEGAL_BASIS, ""): (count, _("Say on which legal basis these people may be called."))}


def _sync_findings(contact_list: ContactList, detected: dict, *, kinds, actor: User | None = None) -> None:
    """Bring the list's findings of these kinds in line with what a check detected, keyed by (kind, column).

    New problems open a finding; a fixed one that is found again reopens; an acknowledged one stays acknowledged
    (its count follows); an open one no longer found is marked fixed.
    """
    existing = {(finding.kind, finding.column): finding
                for finding in RiskFinding.objects.filter(contact_list=contact_list, kind__in=kinds)}
    for (kind, column), (affected, detail) in detected.items():
        finding = existing.get((kind, column))
        if finding is None:
            RiskFinding.objects.create(tenant_id=contact_list.tenant_id, contact_list=contact_list, kind=kind,
                                       column=column, affected=affected, detail=detail)
            continue
        changed = (finding.affected, finding.detail) != (affected, detail)
        finding.affected, finding.detail = affected, detail
        if finding.status == FindingStatus.FIXED:
            finding.status, finding.resolved_by, finding.resolved_at, changed = FindingStatus.OPEN, None, None, True
        if changed:
            finding.save()
    for key, finding in existing.items():
        if key not in detected and finding.status == FindingStatus.OPEN:
            finding.status, finding.resolved_by, finding.resolved_at = FindingStatus.FIXED, actor, timezone.now()
            finding.save()


@transaction.atomic
def contact_list_check_risks(*, contact_list: ContactList) -> list[RiskFinding]:
    """Check a list for numbers that must not be called, sensitive columns and a missing legal basis; record the
    findings and the time of the check (which a campaign needs)."""
    contact_list = ContactList.objects.select_for_update().get(pk=contact_list.pk)
    detected = {**_number_flags(contact_list), **_column_flags(contact_list), **_legal_basis_flags(contact_list)}
    _sync_findings(contact_list, detected, kinds=Kind.values)
    ContactList.objects.filter(pk=contact_list.pk).update(risk_checked_at=timezone.now())
    return list(RiskFinding.objects.filter(contact_list=contact_list))


def _locked_finding(finding: RiskFinding) -> RiskFinding:
    return RiskFinding.objects.select_for_update().select_related("contact_list").get(pk=finding.pk)


@transaction.atomic
def finding_fix(*, finding: RiskFinding, actor: User, legal_basis: str = "", consent_proof: str = "") -> RiskFinding:
    """Fix a finding in the list itself: take the flagged numbers out of the list, erase the flagged column from
    its contacts, or (no legal basis) set the list's legal basis."""
    finding = _locked_finding(finding)
    if finding.status == FindingStatus.FIXED:
        raise ValidationError(_("This finding is already fixed."))
    contact_list = finding.contact_list
    if finding.kind == Kind.NO_LEGAL_BASIS:
        if not legal_basis:
            raise ValidationError({"legal_basis": _("Choose the list's legal basis.")})
        contact_list_update(contact_list=contact_list, name=contact_list.name, description=contact_list.description,
                            legal_basis=legal_basis, consent_proof=consent_proof, actor=actor)
        finding.refresh_from_db()
        if finding.status == FindingStatus.FIXED:
            return finding
    elif finding.kind in (Kind.DO_NOT_CALL, Kind.OBJECTION):
        _flagged_entries(contact_list)[finding.kind].delete()
    else:
        _erase_column(contact_list, finding.column)
    finding.status, finding.resolved_by, finding.resolved_at = FindingStatus.FIXED, actor, timezone.now()
    finding.save()
    return finding


def _erase_column(contact_list: ContactList, column: str) -> None:
    """Remove one column of other information from every contact of the list, one UPDATE per contact that has it:
    ``bulk_update`` cannot be used, as the encrypted field would encrypt its CASE expression instead of the values."""
    contact_ids = list(_list_contacts(contact_list).values_list("pk", flat=True))
    for start in range(0, len(contact_ids), ERASE_BATCH):
        for contact in Contact.objects.filter(pk__in=contact_ids[start:start + ERASE_BATCH]).only("custom_fields"):
            data = _custom(contact.custom_fields)
            if column in data:
                del data[column]
                Contact.objects.filter(pk=contact.pk).update(custom_fields=json.dumps(data, ensure_ascii=False))


@transaction.atomic
def finding_acknowledge(*, finding: RiskFinding, actor: User, justification: str) -> RiskFinding:
    """Keep the list as it is and account for it: a written justification, recorded with its author and time
    (and in the audit log)."""
    justification = justification.strip()
    if len(justification) < MIN_JUSTIFICATION:
        raise ValidationError({"justification": _("Explain in a sentence why this list may be called as it is.")})
    finding = _locked_finding(finding)
    if finding.status != FindingStatus.OPEN:
        raise ValidationError(_("Only an open finding can be acknowledged."))
    finding.status, finding.acknowledgement = FindingStatus.ACKNOWLEDGED, justification
    finding.resolved_by, finding.resolved_at = actor, timezone.now()
    finding.save()
    return finding
