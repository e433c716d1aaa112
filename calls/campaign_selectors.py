"""Reads of campaigns for the portal: progress, outcomes, skips. Run inside the request's tenant scope."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, QuerySet

from tenants.models import Tenant

from .models import Call, Campaign, CampaignTarget, DialerSkip

T = CampaignTarget.Status
FINISHED = (T.DONE, T.EXCLUDED, T.EXHAUSTED)


@dataclass
class Progress:
    """How far a campaign got: its targets by status; *finished* ones need no more call."""

    total: int = 0
    by_status: dict[str, int] = field(default_factory=dict)

    @property
    def finished(self) -> int:
        return sum(self.by_status.get(status, 0) for status in FINISHED)

    @property
    def percent(self) -> int:
        return round(100 * self.finished / self.total) if self.total else 0

    def rows(self) -> list[tuple[str, str, int]]:
        """(status, label, count) for every target status, in lifecycle order."""
        return [(value, label, self.by_status.get(value, 0)) for value, label in T.choices]


@dataclass
class Outcomes:
    """What the campaign's calls gave: counts by outcome, and appointments per person reached."""

    calls: int = 0
    by_outcome: dict[str, int] = field(default_factory=dict)
    reached: int = 0

    @property
    def appointments(self) -> int:
        return self.by_outcome.get(Call.Outcome.APPOINTMENT, 0)

    @property
    def appointment_rate(self) -> float | None:
        return round(100 * self.appointments / self.reached, 1) if self.reached else None

    def rows(self) -> list[tuple[str, str, int]]:
        return [(value, label, self.by_outcome.get(value, 0)) for value, label in Call.Outcome.choices
                if self.by_outcome.get(value)]


def campaign_progress(*, campaign: Campaign) -> Progress:
    counts = dict(CampaignTarget.objects.filter(campaign=campaign).values_list("status")
                  .annotate(n=Count("id")).order_by())
    return Progress(total=sum(counts.values()), by_status=counts)


def campaign_outcomes(*, campaign: Campaign) -> Outcomes:
    counts = dict(Call.objects.filter(campaign=campaign).values_list("outcome").annotate(n=Count("id")).order_by())
    reached = CampaignTarget.objects.filter(campaign=campaign, status=T.DONE).count()
    return Outcomes(calls=sum(counts.values()), by_outcome=counts, reached=reached)


def campaign_skip_counts(*, campaign: Campaign) -> list[tuple[str, str, int]]:
    """(reason, label, count) of every reason the dialer skipped a contact for, most frequent first."""
    counts = (DialerSkip.objects.filter(campaign=campaign).values_list("reason").annotate(n=Count("id"))
              .order_by("-n", "reason"))
    labels = dict(DialerSkip.Reason.choices)
    return [(reason, labels.get(reason, reason), n) for reason, n in counts]


def campaign_skips(*, campaign: Campaign) -> QuerySet[DialerSkip]:
    """The campaign's skips, newest first (the page pages them)."""
    return DialerSkip.objects.filter(campaign=campaign).order_by("-at", "-pk")


def campaign_calls(*, campaign: Campaign, limit: int = 50) -> list[Call]:
    return list(Call.objects.filter(campaign=campaign).only("id", "tenant_id", "created_at", "status", "outcome",
                                                            "campaign_id").order_by("-created_at")[:limit])


def campaigns_overview(*, tenant: Tenant) -> list[Campaign]:
    """The tenant's campaigns, each with ``progress`` and ``outcomes`` set, in three queries."""
    campaigns = list(Campaign.objects.filter(tenant=tenant).select_related("script", "contact_list")
                     .order_by("-created_at"))
    ids = [campaign.pk for campaign in campaigns]
    targets = (CampaignTarget.objects.filter(campaign_id__in=ids).values_list("campaign_id", "status")
               .annotate(n=Count("id")).order_by())
    calls = (Call.objects.filter(campaign_id__in=ids).values_list("campaign_id", "outcome")
             .annotate(n=Count("id")).order_by())
    by_campaign = {campaign.pk: campaign for campaign in campaigns}
    for campaign in campaigns:
        campaign.progress, campaign.outcomes = Progress(), Outcomes()
    for campaign_id, status, n in targets:
        campaign = by_campaign[campaign_id]
        campaign.progress.by_status[status], campaign.progress.total = n, campaign.progress.total + n
        if status == T.DONE:
            campaign.outcomes.reached = n
    for campaign_id, outcome, n in calls:
        outcomes = by_campaign[campaign_id].outcomes
        outcomes.by_outcome[outcome], outcomes.calls = n, outcomes.calls + n
    return campaigns
