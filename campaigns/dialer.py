"""The dialer: each minute, place the due and allowed calls of a running campaign, and record every skip's reason.

A campaign's targets are considered in a stable order (never tried first, then by when they are due, then by id),
at most ``DIALER_BATCH`` per minute, and only while the campaign has free lines (``max_concurrent_calls``). Each is
decided by ``dialer_decide``, which never lets through a call outside the callee's calling hours, to a number on a
do-not-call list, past the attempt cap or within the cool-down after a refusal. What it needs about the batch's
numbers is read up front in four queries (``NumberFacts``), not per contact. A skipped target gets a ``DialerSkip``
row and a ``next_attempt_at`` (the instant it may be called again), so it is not reconsidered every minute; a skip
that can never clear (invalid number, objection, no consent) excludes the target for good.
"""

from __future__ import annotations

import datetime
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import NamedTuple

import phonenumbers
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from calls import calling_rules
from calls.models import Call, Contact, DoNotCall, DoNotCallSource, PlatformDoNotCall
from calls.outbound import call_start_outbound
from compliance.selectors import held_phone_indexes
from tenants.crypto import DEFAULT_PHONE_REGION, blind_index

from .events import campaign_completed_emit
from .models import Campaign, CampaignTarget, DialerSkip
from .services.campaigns import consent_missing

DIALER_BATCH = 200
LIVE = (Call.Status.QUEUED, Call.Status.RINGING, Call.Status.IN_PROGRESS)
R = DialerSkip.Reason
T = CampaignTarget.Status
TARGET_FIELDS = ("status", "attempts", "next_attempt_at", "last_call", "last_skip_reason", "updated_at")


@dataclass(frozen=True)
class Decision:
    """Call now (no reason), or skip with a reason, a detail, when to try again, and ``final`` status if never."""

    reason: str = ""
    detail: str = ""
    retry_at: datetime.datetime | None = None
    final: str = ""

    @property
    def call(self) -> bool:
        return not self.reason


@dataclass
class NumberFacts:
    """What the dialer must know about a batch's numbers (by blind index), read in five queries whatever the
    batch's size or the tenant's history."""

    platform_blocked: set[str]
    held: set[str]  # indexes under an active legal hold (a restriction of processing, an incident, litigation)
    blocked: dict[str, str]  # index -> source of the do-not-call entry
    attempts: dict[str, list[datetime.datetime]]  # index -> when each attempt of the period was placed, oldest first
    last_refusal: dict[str, datetime.datetime]  # index -> the latest refusal within the cool-down

    @classmethod
    def load(cls, *, campaign: Campaign, indexes: set[str], now: datetime.datetime) -> NumberFacts:
        blocked = dict(DoNotCall.objects.filter(tenant_id=campaign.tenant_id, phone_index__in=indexes)
                       .values_list("phone_index", "source"))
        platform = set(PlatformDoNotCall.objects.filter(phone_index__in=indexes).values_list("phone_index", flat=True))
        held = held_phone_indexes(campaign.tenant_id, phone_indexes=indexes)
        # Every contact card with these numbers, then their calls: both by index, whatever the tenant's history
        # (a join filtered on the numbers lets the database walk all the period's calls instead).
        index_of = dict(Contact.objects.filter(tenant_id=campaign.tenant_id, phone_index__in=indexes)
                        .values_list("pk", "phone_index"))
        attempts_since = now - datetime.timedelta(days=campaign.attempts_period_days)
        refusals_since = now - datetime.timedelta(days=campaign.refusal_cooldown_days)
        calls = (Call.objects.filter(tenant_id=campaign.tenant_id, contact_id__in=index_of, created_at__lte=now,
                                     created_at__gt=min(attempts_since, refusals_since))
                 .order_by("created_at")
                 .values_list("contact_id", "created_at", "direction", "status", "started_at", "outcome"))
        attempts, last_refusal = defaultdict(list), {}
        for contact_id, created_at, direction, status, started_at, outcome in calls:
            index = index_of[contact_id]
            if outcome == Call.Outcome.REFUSED and created_at > refusals_since:
                last_refusal[index] = created_at
            attempted = direction == Call.Direction.OUTBOUND and _reached_network(status, started_at)
            if attempted and created_at > attempts_since:
                attempts[index].append(created_at)
        return cls(platform, held, blocked, attempts, last_refusal)


def _reached_network(status: str, started_at: datetime.datetime | None) -> bool:
    """An attempt is an outbound call that reached the network: one canceled, or failed before it rang, is not."""
    return status != Call.Status.CANCELED and not (status == Call.Status.FAILED and started_at is None)


@dataclass
class DialContext:
    """One tick's view of a campaign: its rules, the batch's number facts, and verdicts cached by time zones."""

    campaign: Campaign
    now: datetime.datetime
    facts: NumberFacts
    rules: calling_rules.CallingRules = field(init=False)
    consent_missing: bool = field(init=False)
    verdicts: dict[tuple[str, ...], calling_rules.Verdict] = field(default_factory=dict)
    numbers: dict[int, Number] = field(default_factory=dict)

    def __post_init__(self):
        self.rules = calling_rules.CallingRules.of(self.campaign)
        self.consent_missing = consent_missing(self.campaign, self.now)

    def verdict(self, zones: tuple[str, ...]) -> calling_rules.Verdict:
        if zones not in self.verdicts:
            self.verdicts[zones] = calling_rules.allowed_at(self.rules, zones, self.now)
        return self.verdicts[zones]

    def number(self, target: CampaignTarget) -> Number:
        if target.pk not in self.numbers:
            self.numbers[target.pk] = target_number(target)
        return self.numbers[target.pk]


class Number(NamedTuple):
    """A target's number, parsed once per tick (None when it cannot be called), and its blind index."""

    parsed: phonenumbers.PhoneNumber | None
    index: str


def target_number(target: CampaignTarget) -> Number:
    try:
        parsed = phonenumbers.parse(target.contact.phone or "", DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        return Number(None, target.contact.phone_index)
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return Number(parsed, target.contact.phone_index or blind_index("phone", e164))


def dialer_decide(*, context: DialContext, target: CampaignTarget) -> Decision:
    """Decide whether to call ``target`` now. The checks run from the skips that last for good to those that pass
    with time, so the reason recorded is the one that matters most."""
    campaign, facts = context.campaign, context.facts
    number, index = context.number(target)
    if number is None:
        return Decision(R.INVALID_NUMBER, _("The contact's number cannot be called."), final=T.EXCLUDED)
    if index in facts.platform_blocked:
        return Decision(R.PLATFORM_DO_NOT_CALL, final=T.EXCLUDED)
    if index in facts.held:
        return Decision(R.RESTRICTED, final=T.EXCLUDED)
    if index in facts.blocked:
        return Decision(R.DO_NOT_CALL, str(DoNotCallSource(facts.blocked[index]).label), final=T.EXCLUDED)
    if context.consent_missing:
        return Decision(R.NO_CONSENT, _("Consumers need to have consented to canvassing calls since "
                                        "11 August 2026."), final=T.EXCLUDED)
    refused = facts.last_refusal.get(index)
    if refused is not None:
        return Decision(R.REFUSAL_COOLDOWN, _("Refused on %(day)s.") % {"day": refused.date().isoformat()},
                        refused + datetime.timedelta(days=campaign.refusal_cooldown_days))
    attempts = facts.attempts.get(index, [])
    if len(attempts) >= campaign.max_attempts:
        oldest_counted = attempts[len(attempts) - campaign.max_attempts]
        return Decision(R.ATTEMPT_CAP, _("%(count)s calls to this number in the last %(days)s days.")
                        % {"count": len(attempts), "days": campaign.attempts_period_days},
                        oldest_counted + datetime.timedelta(days=campaign.attempts_period_days))
    zones = calling_rules.callee_zones(phone=number, contact_zone=target.contact.time_zone,
                                       default_zone=campaign.default_timezone)
    verdict = context.verdict(zones)
    if verdict.allowed:
        return Decision()
    if verdict.next_allowed is None:
        return Decision(R.OUTSIDE_WINDOW, _("No time is allowed in all of the number's time zones (%(zones)s).")
                        % {"zones": ", ".join(zones)}, final=T.EXCLUDED)
    return Decision(verdict.reason, ", ".join(zones), verdict.next_allowed)


@dataclass
class DialResult:
    placed: int = 0
    skipped: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        return {"placed": self.placed, "skipped": dict(self.skipped)}


def _due_targets(campaign: Campaign, now: datetime.datetime, limit: int) -> list[CampaignTarget]:
    return list(
        CampaignTarget.objects.filter(campaign=campaign, status=T.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .select_related("contact").only(*TARGET_FIELDS, "campaign_id", "tenant_id", "contact__tenant_id",
                                        "contact__phone", "contact__phone_index", "contact__time_zone")
        .order_by(F("next_attempt_at").asc(nulls_first=True), "pk")[:limit]
    )


def _skip(target: CampaignTarget, decision: Decision, now: datetime.datetime) -> DialerSkip:
    target.status = decision.final or T.PENDING
    target.next_attempt_at = None if decision.final else decision.retry_at
    target.last_skip_reason, target.updated_at = decision.reason, now
    return DialerSkip(tenant_id=target.tenant_id, campaign_id=target.campaign_id, target=target,
                      reason=decision.reason, detail=decision.detail[:300], retry_at=target.next_attempt_at, at=now)


def _place(context: DialContext, target: CampaignTarget) -> DialerSkip | None:
    """Queue the call (dialled once the transaction commits); a refusal at the last moment becomes a skip."""
    campaign, now = context.campaign, context.now
    try:
        call = call_start_outbound(tenant=campaign.tenant, script=campaign.script, contact=target.contact,
                                   legal_basis=campaign.legal_basis, campaign=campaign)
    except ValidationError as error:
        retry = now + datetime.timedelta(minutes=campaign.retry_delay_minutes)
        return _skip(target, Decision(R.CALL_FAILED, " ".join(error.messages), retry), now)
    target.status, target.attempts, target.last_call = T.CALLING, target.attempts + 1, call
    target.next_attempt_at, target.last_skip_reason, target.updated_at = None, "", now
    context.facts.attempts[context.number(target).index].append(now)  # the same number later in the batch counts it
    return None


def _save_targets(targets: list[CampaignTarget], now: datetime.datetime) -> None:
    """Write the targets' new state: one UPDATE per placed call, one per kind of skip (skips of a tick mostly share
    their reason and retry time). Much cheaper than ``bulk_update``, whose CASE per row and field costs
    milliseconds per target."""
    skipped = defaultdict(list)
    for target in targets:
        if target.status == T.CALLING:
            target.save(update_fields=TARGET_FIELDS)
        else:
            skipped[(target.status, target.next_attempt_at, target.last_skip_reason)].append(target.pk)
    for (status, next_attempt_at, reason), pks in skipped.items():
        CampaignTarget.objects.filter(pk__in=pks).update(status=status, next_attempt_at=next_attempt_at,
                                                         last_skip_reason=reason, updated_at=now)


def _complete_if_finished(campaign: Campaign, now: datetime.datetime) -> None:
    """Mark the campaign completed once no target is left to call or being called (a canceled one stays so); saved,
    not updated in bulk, so that the audit log records it."""
    if CampaignTarget.objects.filter(campaign_id=campaign.pk, status__in=(T.PENDING, T.CALLING)).exists():
        return
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status in (Campaign.Status.RUNNING, Campaign.Status.PAUSED):
        campaign.status, campaign.finished_at = Campaign.Status.COMPLETED, now
        campaign.save(update_fields=["status", "finished_at"])
        campaign_completed_emit(campaign=campaign)


@transaction.atomic
def campaign_dial_due(*, campaign: Campaign, now: datetime.datetime | None = None,
                      batch_size: int = DIALER_BATCH) -> DialResult:
    """Place the running campaign's due calls that are allowed, up to its free lines; record every skip."""
    now = now or timezone.now()
    campaign = Campaign.objects.select_for_update().select_related("tenant", "script").get(pk=campaign.pk)
    result = DialResult()
    if campaign.status != Campaign.Status.RUNNING:
        return result
    free = campaign.max_concurrent_calls - Call.objects.filter(campaign=campaign, status__in=LIVE).count()
    targets = _due_targets(campaign, now, batch_size) if free > 0 else []
    numbers = {target.pk: target_number(target) for target in targets}
    facts = NumberFacts.load(campaign=campaign, indexes={n.index for n in numbers.values()} - {""}, now=now)
    context, skips, considered = DialContext(campaign, now, facts, numbers=numbers), [], []
    for target in targets:
        if result.placed >= free:
            break
        considered.append(target)
        decision = dialer_decide(context=context, target=target)
        skip = _skip(target, decision, now) if not decision.call else _place(context, target)
        if skip is None:
            result.placed += 1
        else:
            skips.append(skip)
            result.skipped[skip.reason] += 1
    _save_targets(considered, now)
    DialerSkip.objects.bulk_create(skips)
    _complete_if_finished(campaign, now)
    return result


@transaction.atomic
def campaign_call_ended(*, call: Call) -> None:
    """Move the call's target on: reached, excluded after a late objection, or to be tried again (or used up)."""
    target = (CampaignTarget.objects.select_for_update()
              .filter(campaign_id=call.campaign_id, last_call_id=call.pk, status=T.CALLING).first())
    if target is None:
        return
    campaign = Campaign.objects.get(pk=call.campaign_id)
    now = call.ended_at or timezone.now()
    retry_at = now + datetime.timedelta(minutes=campaign.retry_delay_minutes)
    never_rang = call.started_at is None and call.status in (Call.Status.CANCELED, Call.Status.FAILED)
    skip = None
    if call.answered_at is not None or call.status in (Call.Status.COMPLETED, Call.Status.TRANSFERRED):
        target.status = T.DONE
    elif call.status == Call.Status.CANCELED and call.end_reason == "do_not_call":
        skip = Decision(R.DO_NOT_CALL, _("The number was put on the do-not-call list after the call was queued."),
                        final=T.EXCLUDED)
    elif never_rang:  # not an attempt: the call never reached the network
        target.attempts = max(target.attempts - 1, 0)
        if call.status == Call.Status.FAILED:
            skip = Decision(R.CALL_FAILED, call.end_reason, retry_at)
        else:
            target.status, target.next_attempt_at = T.PENDING, None
    elif target.attempts >= campaign.max_attempts:
        target.status = T.EXHAUSTED
    else:
        target.status, target.next_attempt_at = T.PENDING, retry_at
    target.updated_at = now
    if skip is not None:
        DialerSkip.objects.bulk_create([_skip(target, skip, now)])
    target.save(update_fields=TARGET_FIELDS)
    _complete_if_finished(campaign, now)
