"""Campaigns: create and edit them within the calling rules, then start, pause, resume or cancel them.

The dialer that calls a running campaign's contacts lives in ``campaigns.dialer``; the rules it applies in
``calls.calling_rules``. Every write here checks what the law and the AI policy ask before it lets a campaign run:
a legal basis (with where the consent proofs are kept when it is consent), prior consent to consumer canvassing
from 11 August 2026 unless the call concerns an ongoing contract, a contact list whose risks were dealt with, and
calling rules no looser than France's consumer canvassing rules when consumers are called.
"""

from __future__ import annotations

import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from calls import calling_rules
from calls.models import Call, Script
from calls.services import call_transition
from tenants.models import LegalBasis, Tenant, TenantSettings
from voice.safeguards import discloses_ai

from ..models import Campaign, CampaignTarget, ContactList, ContactListEntry
from .lists import contact_list_blockers

C = Campaign.Status
EDITABLE_FIELDS = (
    "name", "script", "contact_list", "legal_basis", "consent_proof", "audience", "ongoing_contract", "calling_days",
    "calling_windows", "skip_public_holidays", "default_timezone", "max_attempts", "attempts_period_days",
    "refusal_cooldown_days", "retry_delay_minutes", "max_concurrent_calls",
)
TARGETS_BATCH = 2000
PARIS = ZoneInfo(calling_rules.METROPOLITAN_ZONE)  # the consent rule's date is a French date


def consent_missing(campaign: Campaign, now: datetime.datetime) -> bool:
    """Whether calling for this campaign on ``now``'s day (in France) needs a prior consent it does not have."""
    return calling_rules.consent_required(
        audience_is_consumers=campaign.audience == Campaign.Audience.CONSUMERS,
        basis_is_consent=campaign.legal_basis == LegalBasis.CONSENT,
        ongoing_contract=campaign.ongoing_contract, on=now.astimezone(PARIS).date())


def _are_weekdays(days) -> bool:
    """Whether ``days`` is a non-empty list of distinct weekday numbers (Monday = 0)."""
    return (isinstance(days, list) and bool(days) and len(set(days)) == len(days)
            and all(isinstance(day, int) and 0 <= day <= 6 for day in days))


def _rule_errors(campaign: Campaign) -> dict[str, list[str]]:
    """Check the calling rules' shape, then that consumers are called no more than D.223-9 allows."""
    errors: dict[str, list[str]] = {}
    days = campaign.calling_days
    if not _are_weekdays(days):
        errors["calling_days"] = [_("Choose at least one calling day.")]
    try:
        calling_rules.windows_from_json(campaign.calling_windows)
    except (ValueError, TypeError) as error:
        errors["calling_windows"] = [str(error)]
    if not calling_rules.is_known_zone(campaign.default_timezone):
        errors["default_timezone"] = [_("“%(zone)s” is not a time zone (e.g. Europe/Paris).")
                                      % {"zone": campaign.default_timezone}]
    if errors or campaign.audience != Campaign.Audience.CONSUMERS:
        return errors
    looser = calling_rules.looser_than_french(
        days=days, windows=campaign.calling_windows, skip_public_holidays=campaign.skip_public_holidays,
        max_attempts=campaign.max_attempts, attempts_period_days=campaign.attempts_period_days,
        refusal_cooldown_days=campaign.refusal_cooldown_days)
    messages = {
        "days": ("calling_days", _("Consumers may be called on weekdays only (Consumer Code D.223-9).")),
        "windows": ("calling_windows", _("Consumers may be called between 10:00 and 13:00 and between 14:00 and "
                                         "20:00 only (Consumer Code D.223-9).")),
        "public_holidays": ("skip_public_holidays", _("Consumers may not be called on public holidays "
                                                      "(Consumer Code D.223-9).")),
        "attempts": ("max_attempts", _("Consumers may be called at most 4 times in 30 days "
                                       "(Consumer Code D.223-9).")),
        "refusal_cooldown": ("refusal_cooldown_days", _("After a refusal, a consumer may not be called again for "
                                                        "60 days (Consumer Code D.223-9).")),
    }
    for problem in looser:
        field, message = messages[problem]
        errors.setdefault(field, []).append(message)
    return errors


def _validate(campaign: Campaign, now: datetime.datetime) -> None:
    """Raise a ValidationError (by field) for anything that would make the campaign's calls unlawful or unsafe."""
    errors = _rule_errors(campaign)
    tenant_id = campaign.tenant_id
    if campaign.script.tenant_id != tenant_id or campaign.contact_list.tenant_id != tenant_id:
        raise ValidationError(_("The script and the contact list must belong to this tenant."))
    first_sentence = campaign.script.greeting.strip().split(".")[0]
    if not discloses_ai(first_sentence, campaign.script.language):
        errors.setdefault("script", []).append(_("This script's greeting does not say first that the caller is an "
                                                 "AI: fix the script before using it in a campaign."))
    if campaign.legal_basis == LegalBasis.CONSENT and not campaign.consent_proof.strip():
        errors.setdefault("consent_proof", []).append(_("Say where the proof of each person's consent is kept."))
    if consent_missing(campaign, now):
        errors.setdefault("legal_basis", []).append(_(
            "From 11 August 2026, canvassing consumers by phone needs their prior consent (Consumer Code L.223-1), "
            "unless the call is about a contract in progress with them."))
    blockers = contact_list_blockers(contact_list=campaign.contact_list)
    if blockers:
        errors.setdefault("contact_list", []).extend(blockers)
    try:
        campaign.full_clean()
    except ValidationError as error:
        for field, messages in error.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def campaign_create(*, tenant: Tenant, name: str, script: Script, contact_list: ContactList, legal_basis: str,
                    consent_proof: str = "", audience: str = Campaign.Audience.CONSUMERS,
                    ongoing_contract: bool = False, calling_days: list[int] | None = None,
                    calling_windows: list[list[str]] | None = None, skip_public_holidays: bool = True,
                    default_timezone: str = calling_rules.METROPOLITAN_ZONE,
                    max_attempts: int = calling_rules.FRENCH_MAX_ATTEMPTS,
                    attempts_period_days: int = calling_rules.FRENCH_ATTEMPTS_PERIOD_DAYS,
                    refusal_cooldown_days: int = calling_rules.FRENCH_REFUSAL_COOLDOWN_DAYS,
                    retry_delay_minutes: int = 240, max_concurrent_calls: int = 2, created_by=None,
                    now: datetime.datetime | None = None) -> Campaign:
    """Create a draft campaign; the calling rules default to France's consumer canvassing rules."""
    campaign = Campaign(
        tenant=tenant, name=name.strip(), script=script, contact_list=contact_list, legal_basis=legal_basis,
        consent_proof=consent_proof.strip(), audience=audience, ongoing_contract=ongoing_contract,
        calling_days=list(calling_rules.FRENCH_DAYS if calling_days is None else calling_days),
        calling_windows=[list(w) for w in (calling_rules.FRENCH_WINDOWS if calling_windows is None
                                           else calling_windows)],
        skip_public_holidays=skip_public_holidays, default_timezone=default_timezone, max_attempts=max_attempts,
        attempts_period_days=attempts_period_days, refusal_cooldown_days=refusal_cooldown_days,
        retry_delay_minutes=retry_delay_minutes, max_concurrent_calls=max_concurrent_calls, created_by=created_by,
    )
    _validate(campaign, now or timezone.now())
    campaign.save()
    return campaign


@transaction.atomic
def campaign_update(*, campaign: Campaign, now: datetime.datetime | None = None, **changes: Any) -> Campaign:
    """Change a draft or paused campaign; its script and contact list can change only while it is a draft."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"campaign_update() got unknown fields: {', '.join(sorted(unknown))}")
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status not in (C.DRAFT, C.PAUSED):
        raise ValidationError(_("Pause the campaign before changing it."))
    for field in ("script", "contact_list"):
        if field in changes and campaign.status != C.DRAFT and changes[field].pk != getattr(campaign, f"{field}_id"):
            raise ValidationError({field: [_("The script and the list of a started campaign cannot change.")]})
    for field, value in changes.items():
        setattr(campaign, field, value.strip() if isinstance(value, str) else value)
    _validate(campaign, now or timezone.now())
    campaign.save()
    return campaign


@transaction.atomic
def campaign_start(*, campaign: Campaign, now: datetime.datetime | None = None) -> Campaign:
    """Check the campaign once more, add every contact of its list as a target and let the dialer run it."""
    now = now or timezone.now()
    campaign = Campaign.objects.select_for_update().select_related("script", "contact_list").get(pk=campaign.pk)
    if campaign.status != C.DRAFT:
        raise ValidationError(_("Only a draft campaign can be started."))
    _validate(campaign, now)
    if not TenantSettings.objects.filter(tenant_id=campaign.tenant_id).exclude(sip_outbound_trunk_id="").exists():
        raise ValidationError(_("Set the outbound SIP trunk in the settings first: campaigns place phone calls."))
    contact_ids = ContactListEntry.objects.filter(contact_list=campaign.contact_list).values_list("contact_id",
                                                                                                flat=True)
    CampaignTarget.objects.bulk_create(
        (CampaignTarget(tenant_id=campaign.tenant_id, campaign=campaign, contact_id=contact_id, updated_at=now)
         for contact_id in contact_ids.iterator(chunk_size=TARGETS_BATCH)),
        batch_size=TARGETS_BATCH, ignore_conflicts=True)
    if not CampaignTarget.objects.filter(campaign=campaign).exists():
        raise ValidationError(_("The contact list is empty."))
    campaign.status, campaign.started_at = C.RUNNING, now
    campaign.save(update_fields=["status", "started_at"])
    return campaign


def _set_status(campaign: Campaign, allowed_from: tuple[str, ...], to: str, refusal: str) -> Campaign:
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status not in allowed_from:
        raise ValidationError(refusal)
    campaign.status = to
    campaign.save(update_fields=["status"])
    return campaign


@transaction.atomic
def campaign_pause(*, campaign: Campaign) -> Campaign:
    """Stop placing new calls; the calls already dialled go on to their end."""
    return _set_status(campaign, (C.RUNNING,), C.PAUSED, _("Only a running campaign can be paused."))


@transaction.atomic
def campaign_resume(*, campaign: Campaign, now: datetime.datetime | None = None) -> Campaign:
    """Place calls again, after checking the campaign still may (its list, the consent rule)."""
    campaign = _set_status(campaign, (C.PAUSED,), C.RUNNING, _("Only a paused campaign can be resumed."))
    _validate(campaign, now or timezone.now())
    return campaign


@transaction.atomic
def campaign_cancel(*, campaign: Campaign, now: datetime.datetime | None = None) -> Campaign:
    """End the campaign for good: its calls still queued are canceled; calls already ringing go on to their end."""
    campaign = _set_status(campaign, (C.DRAFT, C.RUNNING, C.PAUSED), C.CANCELED,
                           _("This campaign has already ended."))
    campaign.finished_at = now or timezone.now()
    campaign.save(update_fields=["finished_at"])
    for call in Call.objects.filter(campaign=campaign, status=Call.Status.QUEUED):
        call_transition(call=call, to=Call.Status.CANCELED, reason="campaign_canceled")
    return campaign
