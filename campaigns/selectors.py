"""Reads of campaigns (progress, outcomes, skips), contact lists and imports for the portal, inside the request's
tenant scope."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.paginator import Page, Paginator
from django.db.models import Case, Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce

from calls.models import Call
from tenants.models import Tenant

from .models import Campaign, CampaignTarget, ContactImport, ContactList, ContactListEntry, DialerSkip, RiskFinding

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


# Contact lists and imports ----------------------------------------------------------------------------------------

CONTACTS_PER_PAGE = 50
IMPORTS_SHOWN = 20


def _count(queryset: QuerySet) -> Subquery:
    return Coalesce(Subquery(queryset.order_by().values("contact_list").annotate(n=Count("pk")).values("n")[:1],
                             output_field=IntegerField()), Value(0))


def contact_lists_overview() -> QuerySet:
    """Every list with its number of contacts and of open findings (one query, no join fan-out)."""
    entries = ContactListEntry.objects.filter(contact_list=OuterRef("pk"))
    open_findings = RiskFinding.objects.filter(contact_list=OuterRef("pk"), status=RiskFinding.Status.OPEN)
    return ContactList.objects.annotate(contact_count=_count(entries), open_findings=_count(open_findings),
                                        ready=Case(When(Q(risk_checked_at__isnull=False) & Q(open_findings=0),
                                                        then=Value(True)), default=Value(False)))


def contact_list_counts() -> dict:
    lists = contact_lists_overview()
    return {"lists": lists.count(), "needing_attention": lists.filter(ready=False).count()}


def list_contacts_page(contact_list: ContactList, page_number) -> Page:
    """One page of the list's contacts, oldest entry first; a bad page number gives the first or last page."""
    entries = (ContactListEntry.objects.filter(contact_list=contact_list).select_related("contact")
               .order_by("pk"))
    return Paginator(entries, CONTACTS_PER_PAGE).get_page(page_number)


def list_findings(contact_list: ContactList) -> list[RiskFinding]:
    """The list's findings, open ones first."""
    findings = RiskFinding.objects.filter(contact_list=contact_list).select_related("resolved_by")
    order = {RiskFinding.Status.OPEN: 0, RiskFinding.Status.ACKNOWLEDGED: 1, RiskFinding.Status.FIXED: 2}
    return sorted(findings, key=lambda finding: (order[finding.status], finding.kind, finding.column))


def list_imports(contact_list: ContactList) -> QuerySet:
    return ContactImport.objects.filter(contact_list=contact_list).select_related("created_by")[:IMPORTS_SHOWN]


VALIDATION_SHARE = 20  # of the progress bar: checking the rows is much faster than writing them


def import_progress(contact_import: ContactImport) -> dict:
    """The progress bar of an import: checking the rows fills its first fifth, writing them the rest."""
    status = contact_import.status
    done = min(contact_import.processed_rows / contact_import.total_rows, 1.0) if contact_import.total_rows else 0.0
    if status == ContactImport.Status.COMPLETED:
        return {"phase": "done", "percent": 100}
    if status == ContactImport.Status.VALIDATING:
        return {"phase": "checking", "percent": round(VALIDATION_SHARE * done)}
    if status == ContactImport.Status.IMPORTING:
        return {"phase": "importing", "percent": round(VALIDATION_SHARE + (100 - VALIDATION_SHARE) * done)}
    if status == ContactImport.Status.NEEDS_DECISION:
        return {"phase": "decision", "percent": VALIDATION_SHARE}
    return {"phase": "waiting" if status in (ContactImport.Status.UPLOADED, ContactImport.Status.QUEUED) else "ended",
            "percent": 0}
