"""API: campaigns (/api/v1/campaigns/): create and edit them, start, pause, resume or cancel them, and their figures.

Every write goes through ``campaigns.services.campaigns``, which checks the legal basis, the contact list's risks
and the calling rules; its refusals that name a field answer 400 (validation problem), those about the campaign's
state (or the tenant's set-up, or an empty list) answer 409.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Sum
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from calls.dashboard import call_totals
from calls.models import Call, Script
from tenants.api_support import PROBLEM_JSON, Conflict, Cursor, ProblemSerializer
from tenants.models import LegalBasis

from .. import selectors
from ..models import Campaign, CampaignTarget, ContactList, DialerSkip
from ..services import campaigns

READ, WRITE = ["calls:read"], ["calls:write"]
CONFLICT = {(409, PROBLEM_JSON): ProblemSerializer}  # documents the 409 answers of refusal()
BAD_QUERY = {(400, PROBLEM_JSON): ProblemSerializer}  # a list's filter or cursor that is not valid
MAX_ID = 2**63 - 1  # a BigAutoField: larger ids cannot exist (and would overflow the database's integer)


def refusal(error: DjangoValidationError) -> Exception:
    """A service's refusal as the API answers it: by field → 400 (as is); a bare message (a state the request
    conflicts with) → 409 problem."""
    if hasattr(error, "error_dict"):
        return error
    return Conflict(" ".join(error.messages))


# Serializers -------------------------------------------------------------------------------------------------------

WINDOW_HELP = gettext_lazy("Calling hours in the callee's time zone: a list of [start, end] pairs in 24-hour HH:MM, "
                           "e.g. [[\"10:00\", \"13:00\"], [\"14:00\", \"20:00\"]]. A window includes its start and "
                           "stops just before its end.")


class CampaignSerializer(serializers.ModelSerializer):
    script = serializers.IntegerField(source="script_id", read_only=True, help_text=gettext_lazy("The script's id."))
    contact_list = serializers.IntegerField(source="contact_list_id", read_only=True,
                                            help_text=gettext_lazy("The contact list's id."))
    calling_days = serializers.ListField(child=serializers.IntegerField(min_value=0, max_value=6),
                                         help_text=gettext_lazy("Weekdays on which calls are placed (Monday = 0)."))
    calling_windows = serializers.ListField(
        child=serializers.ListField(child=serializers.CharField(), min_length=2, max_length=2), help_text=WINDOW_HELP)

    class Meta:
        model = Campaign
        fields = ["id", "name", "status", "script", "contact_list", "legal_basis", "consent_proof", "audience",
                  "ongoing_contract", "calling_days", "calling_windows", "skip_public_holidays", "default_timezone",
                  "max_attempts", "attempts_period_days", "refusal_cooldown_days", "retry_delay_minutes",
                  "max_concurrent_calls", "created_at", "started_at", "finished_at"]
        read_only_fields = fields


class CampaignWriteSerializer(serializers.Serializer):
    """The fields of ``campaigns.campaign_create`` / ``campaign_update``; those left out keep their default (France's
    consumer canvassing rules) or, in a PATCH, their value."""

    name = serializers.CharField(max_length=120)
    script = serializers.IntegerField(min_value=1, max_value=MAX_ID,
                                      help_text=gettext_lazy("Id of one of your scripts."))
    contact_list = serializers.IntegerField(
        min_value=1, max_value=MAX_ID,
        help_text=gettext_lazy("Id of one of your contact lists; its risks must have been checked and dealt with."))
    legal_basis = serializers.ChoiceField(choices=LegalBasis.choices)
    consent_proof = serializers.CharField(
        max_length=200, required=False, allow_blank=True,
        help_text=gettext_lazy("Where the proof of each person's consent is kept (required when the basis is "
                               "consent)."))
    audience = serializers.ChoiceField(choices=Campaign.Audience.choices, required=False)
    ongoing_contract = serializers.BooleanField(
        required=False, help_text=gettext_lazy("The calls are about a contract in progress with each person: then "
                                               "consumers need no prior consent to canvassing."))
    calling_days = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6), min_length=1, max_length=7, required=False,
        help_text=gettext_lazy("Weekdays on which calls are placed (Monday = 0), each once."))
    calling_windows = serializers.ListField(
        child=serializers.ListField(child=serializers.CharField(max_length=5), min_length=2, max_length=2),
        min_length=1, max_length=12, required=False, help_text=WINDOW_HELP)
    skip_public_holidays = serializers.BooleanField(required=False)
    default_timezone = serializers.CharField(
        max_length=64, required=False,
        help_text=gettext_lazy("IANA time zone used when the number does not tell, e.g. Europe/Paris."))
    max_attempts = serializers.IntegerField(min_value=1, max_value=20, required=False,
                                            help_text=gettext_lazy("Attempts per number over the period."))
    attempts_period_days = serializers.IntegerField(min_value=1, max_value=365, required=False)
    refusal_cooldown_days = serializers.IntegerField(min_value=0, max_value=3650, required=False)
    retry_delay_minutes = serializers.IntegerField(min_value=5, max_value=60 * 24 * 30, required=False)
    max_concurrent_calls = serializers.IntegerField(min_value=1, max_value=100, required=False)

    def validate_script(self, value: int) -> Script:
        script = Script.objects.filter(pk=value).first()
        if script is None:
            raise serializers.ValidationError(_("You have no script with this id."))
        return script

    def validate_contact_list(self, value: int) -> ContactList:
        contact_list = ContactList.objects.filter(pk=value).first()
        if contact_list is None:
            raise serializers.ValidationError(_("You have no contact list with this id."))
        return contact_list


def _counts(name: str, choices, help_text) -> serializers.Serializer:
    """An object with one integer per choice (every key always present)."""
    return inline_serializer(
        name,
        {("pending" if value == "" else value): serializers.IntegerField(help_text=str(label))
         for value, label in choices.choices}, help_text=help_text)


def _outcome_key(value: str) -> str:
    return "pending" if value == "" else value


CampaignStatisticsSerializer = inline_serializer("CampaignStatistics", {
    "campaign": serializers.IntegerField(help_text=gettext_lazy("The campaign's id.")),
    "status": serializers.ChoiceField(choices=Campaign.Status.choices),
    "targets": inline_serializer("CampaignTargetCounts", {
        "total": serializers.IntegerField(help_text=gettext_lazy("Contacts of the campaign (added when it starts).")),
        "finished": serializers.IntegerField(
            help_text=gettext_lazy("Targets that need no more call: reached, excluded or attempts used up.")),
        "by_status": _counts("CampaignTargetsByStatus", CampaignTarget.Status, gettext_lazy("Targets by status.")),
    }),
    "attempts": serializers.IntegerField(help_text=gettext_lazy("Calls attempted, over every target.")),
    "calls": inline_serializer("CampaignCallCounts", {
        "total": serializers.IntegerField(),
        "answered": serializers.IntegerField(help_text=gettext_lazy("Calls someone picked up.")),
        "answered_rate": serializers.FloatField(
            allow_null=True, help_text=gettext_lazy("Answered calls per call placed (0 to 1); null before any call.")),
        "by_outcome": _counts("CampaignCallsByOutcome", Call.Outcome,
                              gettext_lazy("Calls by outcome (pending: no outcome yet).")),
    }),
    "appointments": serializers.IntegerField(help_text=gettext_lazy("Appointments made in answered calls.")),
    "appointment_rate": serializers.FloatField(
        allow_null=True, help_text=gettext_lazy("Appointments per answered call (0 to 1); null before any answer.")),
    "skips": inline_serializer("CampaignSkipCounts", {
        "total": serializers.IntegerField(),
        "by_reason": _counts("CampaignSkipsByReason", DialerSkip.Reason,
                             gettext_lazy("Why the dialer skipped a contact, by reason.")),
    }),
})


class CampaignFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=Campaign.Status.choices)

    class Meta:
        model = Campaign
        fields = ["status"]


class CampaignCursor(Cursor):
    ordering = ("-created_at", "-id")


EXAMPLE_CREATE = {"name": "Winter offer", "script": 12, "contact_list": 34, "legal_basis": "consent",
                  "consent_proof": "CRM consent log, table opt_ins", "audience": "consumers",
                  "max_concurrent_calls": 3}
EXAMPLE_CAMPAIGN = {
    "id": 56, "name": "Winter offer", "status": "draft", "script": 12, "contact_list": 34, "legal_basis": "consent",
    "consent_proof": "CRM consent log, table opt_ins", "audience": "consumers", "ongoing_contract": False,
    "calling_days": [0, 1, 2, 3, 4], "calling_windows": [["10:00", "13:00"], ["14:00", "20:00"]],
    "skip_public_holidays": True, "default_timezone": "Europe/Paris", "max_attempts": 4, "attempts_period_days": 30,
    "refusal_cooldown_days": 60, "retry_delay_minutes": 240, "max_concurrent_calls": 3,
    "created_at": "2026-11-27T09:30:00Z", "started_at": None, "finished_at": None}
EXAMPLE_STATISTICS = {
    "campaign": 56, "status": "running",
    "targets": {"total": 120, "finished": 45, "by_status": {"pending": 70, "calling": 5, "done": 38, "excluded": 4,
                                                            "exhausted": 3}},
    "attempts": 96,
    "calls": {"total": 96, "answered": 51, "answered_rate": 0.531,
              "by_outcome": {"pending": 5, "appointment": 12, "information": 20, "transferred": 3, "refused": 10,
                             "no_result": 46}},
    "appointments": 12, "appointment_rate": 0.235,
    "skips": {"total": 9, "by_reason": {reason: 0 for reason in DialerSkip.Reason.values} | {"outside_window": 7,
                                                                                             "do_not_call": 2}}}


@extend_schema_view(
    list=extend_schema(summary="List campaigns", description="Your campaigns, newest first.",
                       responses={200: CampaignSerializer(many=True), **BAD_QUERY}),
    retrieve=extend_schema(summary="Get a campaign"),
    create=extend_schema(
        summary="Create a campaign",
        description="Create a draft campaign. The calling rules default to France's consumer canvassing rules "
                    "(Consumer Code D.223-9); consumers may not be called more loosely. Consent as the legal basis "
                    "needs `consent_proof`; the contact list must have had its risks checked and dealt with.",
        request=CampaignWriteSerializer, responses={201: CampaignSerializer},
        examples=[OpenApiExample("A consumer campaign on consent", value=EXAMPLE_CREATE, request_only=True),
                  OpenApiExample("The draft created", value=EXAMPLE_CAMPAIGN, response_only=True,
                                 status_codes=["201"])]),
    partial_update=extend_schema(
        summary="Change a campaign",
        description="Change a draft or paused campaign (409 otherwise); its script and contact list can change only "
                    "while it is a draft. The whole campaign is checked again.",
        request=CampaignWriteSerializer, responses={200: CampaignSerializer, **CONFLICT},
        examples=[OpenApiExample("Fewer calls at once", value={"max_concurrent_calls": 1}, request_only=True)]),
)
class CampaignViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = CampaignSerializer
    pagination_class = CampaignCursor
    filterset_class = CampaignFilter
    ordering = ("-created_at", "-id")
    required_scopes = {"list": READ, "retrieve": READ, "statistics": READ, "create": WRITE,
                       "partial_update": WRITE, "start": WRITE, "pause": WRITE, "resume": WRITE, "cancel": WRITE}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Campaign._base_manager.none()
        return Campaign.objects.all()

    def create(self, request):
        serializer = CampaignWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            campaign = campaigns.campaign_create(tenant=request.auth.tenant, **serializer.validated_data)
        except DjangoValidationError as error:
            raise refusal(error) from None
        return Response(CampaignSerializer(campaign).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        campaign = self.get_object()
        serializer = CampaignWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        try:
            campaign = campaigns.campaign_update(campaign=campaign, **serializer.validated_data)
        except DjangoValidationError as error:
            raise refusal(error) from None
        return Response(CampaignSerializer(campaign).data)

    def _act(self, service):
        try:
            campaign = service(campaign=self.get_object())
        except DjangoValidationError as error:
            raise refusal(error) from None
        return Response(CampaignSerializer(campaign).data)

    @extend_schema(summary="Start a campaign", request=None, responses={200: CampaignSerializer, **CONFLICT},
                   description="Check the campaign once more, add every contact of its list as a target and let the "
                               "dialer call them within the calling rules. Only a draft starts; the tenant needs an "
                               "outbound SIP trunk and the list contacts (409 otherwise).")
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        return self._act(campaigns.campaign_start)

    @extend_schema(summary="Pause a campaign", request=None, responses={200: CampaignSerializer, **CONFLICT},
                   description="Stop placing new calls (calls already dialled go on). Only a running campaign pauses.")
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        return self._act(campaigns.campaign_pause)

    @extend_schema(summary="Resume a campaign", request=None, responses={200: CampaignSerializer, **CONFLICT},
                   description="Place calls again, after checking the campaign still may. Only a paused campaign "
                               "resumes.")
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        return self._act(campaigns.campaign_resume)

    @extend_schema(summary="Cancel a campaign", request=None, responses={200: CampaignSerializer, **CONFLICT},
                   description="End the campaign for good; its queued calls are canceled (calls ringing go on). "
                               "A campaign that already ended answers 409.")
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._act(campaigns.campaign_cancel)

    @extend_schema(summary="Campaign statistics", responses={200: CampaignStatisticsSerializer},
                   description="Targets by status, calls by outcome, attempts, skips by reason, answered and "
                               "appointment rates.",
                   examples=[OpenApiExample("A running campaign", value=EXAMPLE_STATISTICS, response_only=True)])
    @action(detail=True, methods=["get"], filterset_class=None, pagination_class=None)
    def statistics(self, request, pk=None):
        campaign = self.get_object()
        progress = selectors.campaign_progress(campaign=campaign)
        totals = call_totals(Call.objects.filter(campaign=campaign))
        skips = {reason: n for reason, _label, n in selectors.campaign_skip_counts(campaign=campaign)}
        attempts = CampaignTarget.objects.filter(campaign=campaign).aggregate(n=Sum("attempts"))["n"] or 0
        return Response({
            "campaign": campaign.pk,
            "status": campaign.status,
            "targets": {"total": progress.total, "finished": progress.finished,
                        "by_status": {value: progress.by_status.get(value, 0)
                                      for value in CampaignTarget.Status.values}},
            "attempts": attempts,
            "calls": {"total": totals.total, "answered": totals.answered,
                      "answered_rate": round(totals.answered / totals.total, 3) if totals.total else None,
                      "by_outcome": {_outcome_key(item.outcome): item.calls for item in totals.outcomes}},
            "appointments": totals.appointments,
            "appointment_rate": (round(totals.appointment_rate, 3) if totals.appointment_rate is not None else None),
            "skips": {"total": sum(skips.values()),
                      "by_reason": {value: skips.get(value, 0) for value in DialerSkip.Reason.values}},
        })


router = SimpleRouter()
router.register("campaigns", CampaignViewSet, basename="api-campaigns")
urlpatterns = router.urls
