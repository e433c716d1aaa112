"""Reads of the insights page: calls per day, outcomes, appointment rate, turn latency, AI provider health.

Every figure covers one period of whole days in the tenant's calling time zone (``selectors.tenant_zone``) and,
optionally, one campaign. The page costs a fixed number of queries whatever the period or the volume:

* calls per day: one GROUP BY on the day in the tenant's zone (``TruncDate`` with ``tzinfo``, which SQLite and
  PostgreSQL both shift before truncating, so a call at 00:30 local time lands on its local day, DST or not);
* outcomes, answered calls and appointments: one aggregate;
* turn latency: one query over the ``turn_metrics`` of the newest ``LATENCY_SAMPLE_CALLS`` answered calls (the
  list of turns is JSON, which neither database unnests portably); percentiles are computed here on that sample;
* AI providers: one GROUP BY for the request and error counts, and one window query for the latency percentiles,
  where the database sorts each (provider, role) group and returns only the rows at the percentile ranks, so
  nothing grows with the number of requests on this side.

Percentiles use the nearest-rank method on both paths: the p-th percentile of n sorted values is the value at
rank ceil(p * n / 100). It is always a measured value, and the same definition in SQL and in Python.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, F, Model, Q, QuerySet, Window
from django.db.models.functions import RowNumber, TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from compliance.models import AIInvocation
from tenants.models import Tenant

from .models import Call
from .selectors import tenant_zone

PERIOD_CHOICES = (7, 30, 90)
DEFAULT_PERIOD_DAYS = 30
MAX_PERIOD_DAYS = 366
LATENCY_SAMPLE_CALLS = 2000
PERCENTILES = (50, 95)

# (key in Call.turn_metrics, label); the first one is the latency the caller feels.
TURN_STAGES = (
    ("e2e_ms", _("End of speech to first audio")),
    ("stt_final_delay_ms", _("Speech-to-text final delay")),
    ("llm_first_token_ms", _("LLM first token")),
    ("tts_first_byte_ms", _("TTS first byte")),
)
FAILED_OUTCOMES = (AIInvocation.Outcome.ERROR, AIInvocation.Outcome.TIMEOUT)


# --- the period --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Whole days, first to last included, in one time zone; ``start``/``end`` bound them as instants."""

    first_day: datetime.date
    last_day: datetime.date
    zone: datetime.tzinfo

    @property
    def start(self) -> datetime.datetime:
        return datetime.datetime.combine(self.first_day, datetime.time.min, self.zone)

    @property
    def end(self) -> datetime.datetime:
        return datetime.datetime.combine(self.last_day + datetime.timedelta(days=1), datetime.time.min, self.zone)

    @property
    def length(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def days(self) -> list[datetime.date]:
        return [self.first_day + datetime.timedelta(days=offset) for offset in range(self.length)]


def period_of_last_days(tenant: Tenant, days: int, *, now: datetime.datetime | None = None) -> Period:
    """Return the last ``days`` days up to today included, today being the tenant's local date."""
    zone = tenant_zone(tenant)
    today = (now or timezone.now()).astimezone(zone).date()
    return Period(first_day=today - datetime.timedelta(days=days - 1), last_day=today, zone=zone)


def period_between(tenant: Tenant, first_day: datetime.date, last_day: datetime.date) -> Period:
    return Period(first_day=first_day, last_day=last_day, zone=tenant_zone(tenant))


# --- percentiles -----------------------------------------------------------------------------------------------------


def nearest_rank(size: int, pct: int) -> int:
    """Return the 1-based rank of the ``pct``-th percentile among ``size`` sorted values: ceil(pct * size / 100).

    Integer arithmetic, as in the SQL twin in ``_provider_percentiles``: 0.95 * 100 in floats is not always 95.
    """
    return max(1, (pct * size + 99) // 100)


def percentile(sorted_values: list[float], pct: int) -> float | None:
    """Return the nearest-rank percentile of already sorted values, or None when there are none."""
    if not sorted_values:
        return None
    return sorted_values[nearest_rank(len(sorted_values), pct) - 1]


# --- calls -----------------------------------------------------------------------------------------------------------


def period_calls(*, tenant: Tenant, period: Period, campaign: Model | None = None) -> QuerySet[Call]:
    """Return the tenant's calls created during the period, of one campaign when given."""
    calls = Call.objects.filter(tenant=tenant, created_at__gte=period.start, created_at__lt=period.end)
    return calls.filter(campaign=campaign) if campaign is not None else calls


@dataclass(frozen=True)
class DayCount:
    day: datetime.date
    calls: int


def calls_per_day(calls: QuerySet[Call], period: Period) -> list[DayCount]:
    """Count the calls of each day of the period in its zone, days without calls included (as zero)."""
    rows = (
        calls.order_by()  # the model's ordering would otherwise join the GROUP BY
        .annotate(day=TruncDate("created_at", tzinfo=period.zone))
        .values("day")
        .annotate(calls=Count("id"))
        .values_list("day", "calls")
    )
    counts = dict(rows)
    return [DayCount(day=day, calls=counts.get(day, 0)) for day in period.days()]


@dataclass(frozen=True)
class OutcomeCount:
    outcome: str
    label: str
    calls: int


@dataclass(frozen=True)
class CallTotals:
    """How the period's calls ended. ``answered`` (someone picked up) is the appointment rate's denominator."""

    total: int
    answered: int
    appointments: int
    outcomes: list[OutcomeCount]

    @property
    def appointment_rate(self) -> float | None:
        """Return appointments per answered call (0..1), or None when no call was answered."""
        return self.appointments / self.answered if self.answered else None


def _outcome_key(value: str) -> str:
    return f"outcome_{value or 'pending'}"


def call_totals(calls: QuerySet[Call]) -> CallTotals:
    """Count the calls, the answered ones, the appointments among them and each outcome, in one query.

    Only answered calls count as appointments, so the rate never exceeds 100 % even if a report was written
    for a call that never connected.
    """
    answered = Q(answered_at__isnull=False)
    counts = calls.order_by().aggregate(
        total=Count("id"),
        answered=Count("id", filter=answered),
        appointments=Count("id", filter=answered & Q(outcome=Call.Outcome.APPOINTMENT)),
        **{_outcome_key(value): Count("id", filter=Q(outcome=value)) for value in Call.Outcome.values},
    )
    ordered = sorted(Call.Outcome.choices, key=lambda choice: choice[0] == Call.Outcome.PENDING)  # pending last
    outcomes = [OutcomeCount(outcome=value, label=str(label), calls=counts[_outcome_key(value)])
                for value, label in ordered]
    return CallTotals(total=counts["total"], answered=counts["answered"], appointments=counts["appointments"],
                      outcomes=outcomes)


# --- latency of the conversation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LatencyStat:
    key: str
    label: str
    turns: int
    p50: float | None
    p95: float | None


@dataclass(frozen=True)
class TurnLatency:
    """Per-stage percentiles over the turns of ``calls_sampled`` calls; ``capped`` when older calls were left out."""

    stages: list[LatencyStat]
    calls_sampled: int
    capped: bool


def _milliseconds(value) -> float | None:
    """Return a measured latency, or None for a stage that did not run (or a value that is not a number)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        return None
    return float(value)


def _stage_values(all_turns: Iterable[list]) -> dict[str, list[float]]:
    values = {key: [] for key, _label in TURN_STAGES}
    for turns in all_turns:
        for metrics in turns if isinstance(turns, list) else ():
            if not isinstance(metrics, dict):
                continue
            for key, bucket in values.items():
                measured = _milliseconds(metrics.get(key))
                if measured is not None:
                    bucket.append(measured)
    return values


def turn_latency(calls: QuerySet[Call], *, sample: int = LATENCY_SAMPLE_CALLS) -> TurnLatency:
    """Return the percentiles of each turn stage over the newest ``sample`` answered calls.

    The cap bounds the memory of this request: a call holds a few dozen turns at most, so 2000 calls are well
    under a megabyte of numbers, and the newest calls are the ones whose latency matters.
    """
    rows = list(
        calls.filter(answered_at__isnull=False)
        .order_by("-created_at", "-id")
        .values_list("turn_metrics", flat=True)[:sample + 1]
    )
    capped = len(rows) > sample
    values = _stage_values(rows[:sample])
    stages = []
    for key, label in TURN_STAGES:
        measured = sorted(values[key])
        stages.append(LatencyStat(key=key, label=str(label), turns=len(measured),
                                  p50=percentile(measured, 50), p95=percentile(measured, 95)))
    return TurnLatency(stages=stages, calls_sampled=min(len(rows), sample), capped=capped)


# --- AI providers ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProviderStat:
    """One provider in one role: how many requests, how many failed, how long the successful ones took."""

    provider: str
    role: str
    role_label: str
    requests: int
    failures: int
    p50_ms: float | None = None
    p95_ms: float | None = None

    @property
    def error_rate(self) -> float | None:
        """Return (errors + timeouts) / all requests, 0..1; filtered replies are answers, not failures."""
        return self.failures / self.requests if self.requests else None


def period_invocations(*, tenant: Tenant, period: Period, campaign: Model | None = None):
    """Return the tenant's AI requests started during the period, of one campaign's calls when given.

    With a campaign the request's own start time still decides the period (not its call's creation time), so
    the numbers with and without the filter agree for a campaign that is the tenant's only activity.
    """
    invocations = AIInvocation.objects.filter(tenant=tenant, started_at__gte=period.start,
                                              started_at__lt=period.end)
    if campaign is not None:
        campaign_calls = Call.objects.filter(tenant=tenant, campaign=campaign).values("id")
        invocations = invocations.filter(call_id__in=campaign_calls)
    return invocations


def _provider_counts(invocations) -> list[dict]:
    return list(
        invocations.order_by()
        .values("provider", "role")
        .annotate(requests=Count("id"), failures=Count("id", filter=Q(outcome__in=FAILED_OUTCOMES)))
        .order_by("provider", "role")
    )


def _provider_percentiles(invocations) -> dict[tuple[str, str], dict[int, float]]:
    """Return {(provider, role): {pct: duration_ms}} over the successful requests, computed by the database.

    Each group is numbered in order of duration (ROW_NUMBER) next to its size (COUNT OVER), and only the rows
    whose number is a percentile's nearest rank come back: two or fewer rows per group, however many requests.
    """
    group = [F("provider"), F("role")]
    wanted = Q()
    for pct in PERCENTILES:
        wanted |= Q(position=(F("size") * pct + 99) / 100)
    rows = (
        invocations.filter(outcome=AIInvocation.Outcome.OK)
        .order_by()
        .annotate(
            position=Window(RowNumber(), partition_by=group, order_by=[F("duration_ms").asc(), F("id").asc()]),
            size=Window(Count("id"), partition_by=group),
        )
        .filter(wanted)
        .values_list("provider", "role", "position", "size", "duration_ms")
    )
    found: dict[tuple[str, str], dict[int, float]] = {}
    for provider, role, position, size, duration in rows:
        for pct in PERCENTILES:
            if position == nearest_rank(size, pct):
                found.setdefault((provider, role), {})[pct] = float(duration)
    return found


def provider_stats(invocations) -> list[ProviderStat]:
    """Return request counts, error rates and latency percentiles per (provider, role), by provider name."""
    roles = dict(AIInvocation.Role.choices)
    percentiles = _provider_percentiles(invocations)
    stats = []
    for row in _provider_counts(invocations):
        found = percentiles.get((row["provider"], row["role"]), {})
        stats.append(ProviderStat(
            provider=row["provider"], role=row["role"], role_label=str(roles.get(row["role"], row["role"])),
            requests=row["requests"], failures=row["failures"], p50_ms=found.get(50), p95_ms=found.get(95),
        ))
    return stats


# --- the page --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Insights:
    period: Period
    campaign: Model | None
    per_day: list[DayCount]
    totals: CallTotals
    latency: TurnLatency
    providers: list[ProviderStat]


def insights(*, tenant: Tenant, period: Period, campaign: Model | None = None) -> Insights:
    """Gather the insights page's figures in five queries."""
    calls = period_calls(tenant=tenant, period=period, campaign=campaign)
    return Insights(
        period=period,
        campaign=campaign,
        per_day=calls_per_day(calls, period),
        totals=call_totals(calls),
        latency=turn_latency(calls),
        providers=provider_stats(period_invocations(tenant=tenant, period=period, campaign=campaign)),
    )
