"""API: usage. What the tenant used over a period: calls, minutes, AI requests, contacts, campaigns.

A handful of aggregate queries whatever the volume: calls by direction and status (one GROUP BY), minutes (one
aggregate, the rounding per call done by the database), AI requests by provider and role (one GROUP BY), contacts
(one aggregate) and campaigns (one COUNT).
"""

from __future__ import annotations

import datetime
import re

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import Count, DurationField, ExpressionWrapper, F, FloatField, Func, Q, Sum
from django.db.models.functions import Ceil, Coalesce
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.response import Response

from compliance.api_audit import AIRequestRoleField
from compliance.models import AIInvocation
from tenants.api_support import PROBLEM_JSON, ProblemSerializer

from ..dashboard import MAX_PERIOD_DAYS, Period, period_calls, period_invocations
from ..models import Call, Contact, campaign_model
from ..selectors import tenant_zone

FIRST_DAY = datetime.date(2000, 1, 1)
LAST_DAY = datetime.date(2999, 12, 31)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


# --- the period ----------------------------------------------------------------------------------------------------


class UsageQuerySerializer(serializers.Serializer):
    """``month`` (YYYY-MM) or ``from`` and ``to`` (dates, both included); neither: the current month."""

    month = serializers.CharField(required=False, max_length=7)

    def get_fields(self):
        fields = super().get_fields()
        bounds = {"required": False, "validators": [MinValueValidator(FIRST_DAY), MaxValueValidator(LAST_DAY)]}
        fields["from"] = serializers.DateField(**bounds)
        fields["to"] = serializers.DateField(**bounds)
        return fields

    def validate_month(self, value: str) -> datetime.date:
        match = _MONTH.match(value)
        if match is None or not (1 <= int(match[2]) <= 12) or not (2000 <= int(match[1]) <= 2999):
            raise serializers.ValidationError(_("Give a month as YYYY-MM, e.g. 2025-03."), code="invalid_month")
        return datetime.date(int(match[1]), int(match[2]), 1)

    def validate(self, attrs):
        first, last = attrs.get("from"), attrs.get("to")
        if "month" in attrs and (first or last):
            raise serializers.ValidationError({"month": [_("Give month, or from and to, not both.")]},
                                              code="month_or_range")
        if (first is None) != (last is None):
            missing = "to" if last is None else "from"
            raise serializers.ValidationError({missing: [_("Give both from and to.")]}, code="required")
        if first is not None:
            if last < first:
                raise serializers.ValidationError({"to": [_("The end must not be before the start.")]},
                                                  code="invalid_range")
            if (last - first).days + 1 > MAX_PERIOD_DAYS:
                raise serializers.ValidationError(
                    {"to": [_("A period covers at most %(days)s days.") % {"days": MAX_PERIOD_DAYS}]},
                    code="period_too_long")
        return attrs


def _month_period(first: datetime.date, zone) -> Period:
    following = (first.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
    return Period(first_day=first, last_day=following - datetime.timedelta(days=1), zone=zone)


def usage_period(tenant, params) -> Period:
    """Return the period the query string asks for, in the tenant's calling time zone (400 when not valid)."""
    query = UsageQuerySerializer(data={key: params[key] for key in ("month", "from", "to") if key in params})
    query.is_valid(raise_exception=True)
    zone = tenant_zone(tenant)
    data = query.validated_data
    if "from" in data:
        return Period(first_day=data["from"], last_day=data["to"], zone=zone)
    first = data.get("month") or timezone.now().astimezone(zone).date().replace(day=1)
    return _month_period(first, zone)


# --- the figures ----------------------------------------------------------------------------------------------------


class _Seconds(Func):
    """The length of a duration in seconds, on PostgreSQL (an interval) and SQLite (microseconds) alike."""

    template = "EXTRACT(EPOCH FROM %(expressions)s)"
    output_field = FloatField()

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, template="(%(expressions)s / 1000000.0)", **extra_context)


def _call_seconds():
    return _Seconds(ExpressionWrapper(F("ended_at") - F("started_at"), output_field=DurationField()))


def usage_figures(*, tenant, period: Period) -> dict:
    calls = period_calls(tenant=tenant, period=period).order_by()
    counts = {(row["direction"], row["status"]): row["n"]
              for row in calls.values("direction", "status").annotate(n=Count("id"))}
    ended = calls.filter(started_at__isnull=False, ended_at__isnull=False)
    minutes = ended.aggregate(
        seconds=Coalesce(Sum(_call_seconds()), 0.0, output_field=FloatField()),
        billable=Coalesce(Sum(Ceil(_call_seconds() / 60.0), filter=Q(answered_at__isnull=False)), 0.0,
                          output_field=FloatField()),
    )
    ai_rows = (period_invocations(tenant=tenant, period=period).order_by()
               .values("provider", "role").annotate(requests=Count("id"), duration_ms=Sum("duration_ms"))
               .order_by("provider", "role"))
    contacts = Contact.objects.filter(tenant=tenant).aggregate(
        total=Count("id"), created=Count("id", filter=Q(created_at__gte=period.start, created_at__lt=period.end)))
    active_campaigns = campaign_model().objects.filter(
        Q(finished_at__isnull=True) | Q(finished_at__gte=period.start),
        tenant=tenant, started_at__isnull=False, started_at__lt=period.end,
    ).count()
    return {
        "period": {"from": period.first_day, "to": period.last_day, "time_zone": str(period.zone)},
        "calls": {
            "total": sum(counts.values()),
            "by_direction": {direction: sum(n for (d, _s), n in counts.items() if d == direction)
                             for direction in Call.Direction.values},
            "by_status": {state: sum(n for (_d, s), n in counts.items() if s == state) for state in Call.Status.values},
        },
        "minutes": {"total": round(minutes["seconds"] / 60, 2), "billable": int(minutes["billable"])},
        "ai_requests": [{"provider": row["provider"], "role": row["role"], "requests": row["requests"],
                         "duration_ms": row["duration_ms"] or 0} for row in ai_rows],
        "contacts": contacts,
        "active_campaigns": active_campaigns,
    }


# --- the answer ------------------------------------------------------------------------------------------------------


def _counts(name: str, values, help_text) -> type[serializers.Serializer]:
    fields = {value: serializers.IntegerField(read_only=True) for value in values}
    return type(name, (serializers.Serializer,), {**fields, "__doc__": str(help_text)})


CallsByDirection = _counts("UsageCallsByDirection", Call.Direction.values, "Calls of the period by direction.")
CallsByStatus = _counts("UsageCallsByStatus", Call.Status.values, "Calls of the period by status, as they stand now.")


class UsagePeriodSerializer(serializers.Serializer):
    time_zone = serializers.CharField(read_only=True, help_text=gettext_lazy(
        "Your calling time zone: the days of the period are days there."))

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.DateField(read_only=True, help_text=gettext_lazy("First day, included."))
        fields["to"] = serializers.DateField(read_only=True, help_text=gettext_lazy("Last day, included."))
        return fields


class UsageCallsSerializer(serializers.Serializer):
    total = serializers.IntegerField(read_only=True, help_text=gettext_lazy("Calls created during the period."))
    by_direction = CallsByDirection(read_only=True)
    by_status = CallsByStatus(read_only=True)


class UsageMinutesSerializer(serializers.Serializer):
    total = serializers.FloatField(read_only=True, help_text=gettext_lazy(
        "Sum of the durations of the period's calls that have ended (from started_at to ended_at), in minutes, "
        "to two decimals; ringing time included."))
    billable = serializers.IntegerField(read_only=True, help_text=gettext_lazy(
        "Sum over the calls that were answered and have ended of their duration rounded UP to the whole minute per "
        "call (a 61-second call counts 2 minutes). Calls never answered (no answer, busy, failed) count 0."))


class UsageAIRequestsSerializer(serializers.Serializer):
    provider = serializers.CharField(read_only=True)
    role = AIRequestRoleField(choices=AIInvocation.Role.choices, read_only=True)
    requests = serializers.IntegerField(read_only=True)
    duration_ms = serializers.IntegerField(read_only=True, help_text=gettext_lazy("Total time of these requests."))


class UsageContactsSerializer(serializers.Serializer):
    total = serializers.IntegerField(read_only=True, help_text=gettext_lazy("Contacts you hold now."))
    created = serializers.IntegerField(read_only=True, help_text=gettext_lazy("Contacts added during the period."))


class UsageSerializer(serializers.Serializer):
    period = UsagePeriodSerializer(read_only=True)
    calls = UsageCallsSerializer(read_only=True)
    minutes = UsageMinutesSerializer(read_only=True)
    ai_requests = UsageAIRequestsSerializer(many=True, read_only=True, help_text=gettext_lazy(
        "AI requests started during the period, per provider and role (by provider, then role)."))
    contacts = UsageContactsSerializer(read_only=True)
    active_campaigns = serializers.IntegerField(read_only=True, help_text=gettext_lazy(
        "Campaigns that ran during the period: started before its end and not finished before its start "
        "(paused ones included)."))


_EXAMPLE = {
    "period": {"from": "2025-03-01", "to": "2025-03-31", "time_zone": "Europe/Paris"},
    "calls": {"total": 412, "by_direction": {"inbound": 130, "outbound": 282},
              "by_status": {"queued": 0, "ringing": 0, "in_progress": 1, "completed": 301, "transferred": 12,
                            "no_answer": 88, "failed": 6, "canceled": 4}},
    "minutes": {"total": 1093.42, "billable": 1297},
    "ai_requests": [{"provider": "mistral", "role": "llm", "requests": 2954, "duration_ms": 1722103},
                    {"provider": "mistral", "role": "summary", "requests": 313, "duration_ms": 402881}],
    "contacts": {"total": 5210, "created": 730},
    "active_campaigns": 2,
}


class UsageViewSet(viewsets.ViewSet):
    """Usage of your tenant."""

    required_scopes = {"summary": ["calls:read"]}

    @extend_schema(
        summary="Usage over a period",
        parameters=[
            OpenApiParameter("month", OpenApiTypes.STR, pattern=r"^\d{4}-\d{2}$", description=gettext_lazy(
                "A month, YYYY-MM. Default (no parameter): the current month in your calling time zone.")),
            OpenApiParameter("from", OpenApiTypes.DATE, description=gettext_lazy(
                "First day (included), with `to`; instead of month.")),
            OpenApiParameter("to", OpenApiTypes.DATE, description=gettext_lazy(
                "Last day (included), with `from`; at most 366 days after it.")),
        ],
        responses={200: UsageSerializer, (400, PROBLEM_JSON): OpenApiResponse(
            ProblemSerializer, description=gettext_lazy("A parameter is not valid: `errors` names it."))},
        examples=[OpenApiExample("March", value=_EXAMPLE, response_only=True)],
    )
    def summary(self, request):
        """Get what your tenant used over a month (or the days from `from` to `to`, both included, at most 366),
        in your calling time zone: calls created in the period by direction and by status, their minutes (total,
        and billable: rounded up per call to the whole minute, answered calls only), AI requests per provider and
        role with their count and total duration, contacts, and the campaigns that ran."""
        period = usage_period(request.auth.tenant, request.query_params)
        return Response(UsageSerializer(usage_figures(tenant=request.auth.tenant, period=period)).data)


urlpatterns = [
    path("usage/", UsageViewSet.as_view({"get": "summary"}), name="api-usage"),
]
