"""API: calls. List (filters, cursor pagination), detail, transcript, report, start an outbound call, hang up."""

from __future__ import annotations

import logging

from django import forms
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_filters import rest_framework as filters
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from tenants.api_filters import InstantFilter
from tenants.api_support import PROBLEM_JSON, Conflict, Cursor, ProblemSerializer, idempotent
from tenants.crypto import normalize_phone, phone_index

from .. import livekit
from ..donotcall import do_not_call_reason
from ..hangup import call_hang_up
from ..models import Call, CallReport, Contact, Script, Utterance
from ..outbound import call_start_outbound
from ..services import SupervisionRefused, contact_create
from .serializers_calls import (
    MAX_ID,
    OUTCOMES,
    CallDetailSerializer,
    CallReportSerializer,
    CallSerializer,
    CallStartSerializer,
    CallTranscriptSerializer,
)

logger = logging.getLogger(__name__)

OUTCOME_PENDING = "pending"  # Call.Outcome.PENDING is stored as "": the query string names it

# The columns a row of the list needs: never the turn metrics (JSON) nor anything encrypted.
LIST_FIELDS = ("id", "tenant_id", "direction", "channel", "status", "outcome", "script_id", "script__id",
               "script__name", "campaign_id", "contact_id", "created_at", "started_at", "answered_at", "ended_at",
               "end_reason")

UUID_REGEX = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

BAD_REQUEST = {(400, PROBLEM_JSON): OpenApiResponse(ProblemSerializer, description=gettext_lazy(
    "A filter, the cursor or the page size is not valid: `errors` names the parameter."))}


# --- filters ---------------------------------------------------------------------------------------------------------


class IdFilter(filters.NumberFilter):
    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


def _id_filter(field_name: str, description: str) -> IdFilter:
    schema = {"type": "integer", "minimum": 1, "maximum": MAX_ID, "description": description}
    return extend_schema_field(schema)(IdFilter(field_name=field_name))


class CallFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=Call.Status.choices, help_text=gettext_lazy("The call's status."))
    direction = filters.ChoiceFilter(choices=Call.Direction.choices)
    outcome = filters.ChoiceFilter(
        choices=[(OUTCOME_PENDING, gettext_lazy("Pending")), *OUTCOMES], method="filter_outcome",
        help_text=gettext_lazy("`pending` for calls whose report has not decided the outcome yet."))
    campaign = _id_filter("campaign_id", "A campaign id: the calls it placed.")
    script = _id_filter("script_id", "A script id: the calls that followed it.")
    created_after = InstantFilter(field_name="created_at", lookup_expr="gte",
                                  help_text=gettext_lazy("ISO 8601 instant: calls created at or after it."))
    created_before = InstantFilter(field_name="created_at", lookup_expr="lt",
                                   help_text=gettext_lazy("ISO 8601 instant: calls created strictly before it."))
    phone = filters.CharFilter(method="filter_phone", max_length=32, help_text=gettext_lazy(
        "The contact's number, E.164 (+33612345678) or French national (06 12 34 56 78); matched on its blind "
        "index, never on the number in clear."))

    class Meta:
        model = Call
        fields = ["status", "direction", "outcome", "campaign", "script", "created_after", "created_before", "phone"]

    def filter_outcome(self, queryset, name, value):
        return queryset.filter(outcome="" if value == OUTCOME_PENDING else value)

    def filter_phone(self, queryset, name, value):
        # Validated here, not in a form field: django-filter would %-format the message, which quotes the input.
        try:
            phone = normalize_phone(value)
        except ValidationError as error:
            raise exceptions.ValidationError({"phone": [error.messages[0]]}, code="invalid_phone") from None
        return queryset.filter(contact__phone_index=phone_index(phone))


# --- pagination ----------------------------------------------------------------------------------------------------


class NewestFirst(Cursor):
    """Newest first on the (tenant, -created_at) index; the id breaks ties within one instant."""

    ordering = ("-created_at", "-id")


# --- examples -------------------------------------------------------------------------------------------------------

_CALL_EXAMPLE = {
    "id": "6f1c1c52-4c8e-4a57-9d53-2d0d3b0f5a10", "direction": "outbound", "channel": "phone",
    "status": "completed", "outcome": "appointment", "script": {"id": 3, "name": "Appointment booking"},
    "campaign_id": 12, "contact_id": 481, "created_at": "2025-03-04T10:15:02.120000+01:00",
    "started_at": "2025-03-04T10:15:03.004000+01:00", "answered_at": "2025-03-04T10:15:09.510000+01:00",
    "ended_at": "2025-03-04T10:18:41.200000+01:00", "duration_s": 218, "end_reason": "hangup",
    "links": {"self": "https://app.callkom.io/api/v1/calls/6f1c1c52-4c8e-4a57-9d53-2d0d3b0f5a10/",
              "transcript": "https://app.callkom.io/api/v1/calls/6f1c1c52-4c8e-4a57-9d53-2d0d3b0f5a10/transcript/",
              "report": "https://app.callkom.io/api/v1/calls/6f1c1c52-4c8e-4a57-9d53-2d0d3b0f5a10/report/"},
}
_STAGE = {"p50_ms": 640.0, "p95_ms": 910.0, "max_ms": 1020.0}
_DETAIL_EXAMPLE = {
    **_CALL_EXAMPLE, "contact": {"id": 481, "name": "Jeanne Martin", "phone": "+33612345678"},
    "legal_basis": "consent", "special_category": False, "interruptions": 1, "has_report": True,
    "turn_latency": {"turns": 7, "e2e_ms": _STAGE, "stt_final_delay_ms": {"p50_ms": 180.0, "p95_ms": 260.0,
                                                                          "max_ms": 300.0},
                     "llm_first_token_ms": {"p50_ms": 310.0, "p95_ms": 480.0, "max_ms": 520.0},
                     "tts_first_byte_ms": {"p50_ms": 120.0, "p95_ms": 170.0, "max_ms": 190.0}},
}
_QUEUED_EXAMPLE = {
    **_DETAIL_EXAMPLE, "status": "queued", "outcome": None, "campaign_id": None, "started_at": None,
    "answered_at": None, "ended_at": None, "duration_s": None, "end_reason": None, "interruptions": 0,
    "has_report": False, "turn_latency": {"turns": 0, **{key: {"p50_ms": None, "p95_ms": None, "max_ms": None}
                                                         for key in ("e2e_ms", "stt_final_delay_ms",
                                                                     "llm_first_token_ms", "tts_first_byte_ms")}},
}


def _problem(description):
    return OpenApiResponse(ProblemSerializer, description=description)


# --- the viewset ------------------------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List calls",
        responses={200: CallSerializer, **BAD_REQUEST},
        examples=[OpenApiExample("A page of calls", value=_CALL_EXAMPLE, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="Get a call",
        responses={200: CallDetailSerializer},
        examples=[OpenApiExample("A completed call", value=_DETAIL_EXAMPLE, response_only=True)],
    ),
)
class CallViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The tenant's calls, inbound and outbound."""

    required_scopes = {
        "list": ["calls:read"],
        "retrieve": ["calls:read"],
        "transcript": ["reports:read"],
        "report": ["reports:read"],
        "create": ["calls:write"],
        "hangup": ["calls:write"],
    }
    serializer_class = CallSerializer
    pagination_class = NewestFirst
    filterset_class = CallFilter
    lookup_value_regex = UUID_REGEX  # another shape of id is simply not a call: 404 without a query

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no tenant scope
            return Call._base_manager.none()
        if self.action == "list":
            return Call.objects.select_related("script").only(*LIST_FIELDS)
        return Call.objects.select_related("script", "contact", "report")

    def get_serializer_class(self):
        if self.action == "list":
            return CallSerializer
        if self.action == "create":
            return CallStartSerializer
        return CallDetailSerializer

    def list(self, request, *args, **kwargs):
        """List the calls of your tenant, newest first, one page at a time (follow `next`).

        Filters combine (AND). `phone` finds the calls of every contact with that number. The page costs the same
        number of database queries whatever its size or position."""
        return super().list(request, *args, **kwargs)

    def retrieve(self, request, *args, **kwargs):
        """Get one call: its contact (name and E.164 number), legal basis, times, end reason and the latency of
        its turns. Another tenant's call answers 404."""
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        summary="Get a call's transcript",
        responses={200: CallTranscriptSerializer},
        examples=[OpenApiExample("Two lines", response_only=True, value={
            "call_id": "6f1c1c52-4c8e-4a57-9d53-2d0d3b0f5a10", "utterances": [
                {"seq": 0, "speaker": "agent", "text": "Bonjour, je suis l'assistante virtuelle (une IA) du "
                 "cabinet Dupont.", "started_ms": 0, "ended_ms": 3900, "interrupted": False, "final": True},
                {"seq": 1, "speaker": "caller", "text": "Bonjour, je voudrais un rendez-vous.",
                 "started_ms": 4300, "ended_ms": 6100, "interrupted": False, "final": True}]})],
    )
    @action(detail=True, methods=["get"])
    def transcript(self, request, pk=None):
        """Get what was said on the call, line by line in order (`seq`), with each line's offset from the start of
        the conversation when it was measured. Payment card and IBAN numbers were redacted before storage."""
        call = self.get_object()
        utterances = Utterance.objects.filter(call=call).order_by("seq").only(
            "seq", "speaker", "text", "started_ms", "ended_ms", "interrupted", "final")
        return Response(CallTranscriptSerializer({"call_id": call.pk, "utterances": utterances}).data)

    @extend_schema(
        summary="Get a call's report",
        responses={200: CallReportSerializer, (404, PROBLEM_JSON): _problem(gettext_lazy(
            "No such call, or its report is not written yet (`detail` says which)."))},
        examples=[OpenApiExample("An appointment", response_only=True, value={
            "call_id": "6f1c1c52-4c8e-4a57-9d53-2d0d3b0f5a10", "outcome": "appointment",
            "summary": "Jeanne Martin wants a first consultation; appointment on 12 March at 14:30.",
            "name": "Jeanne Martin", "phone": "+33612345678", "email": "jeanne.martin@example.fr",
            "company": "", "need": "First consultation", "appointment": "2025-03-12T14:30:00+01:00",
            "appointment_time_zone": "Europe/Paris", "next_step": "Send the confirmation SMS",
            "confidence": 0.92, "special_category": False, "source": "llm",
            "created_at": "2025-03-04T10:18:55.031000+01:00"})],
    )
    @action(detail=True, methods=["get"])
    def report(self, request, pk=None):
        """Get the structured report written after the call (summary, name, phone, e-mail, need, appointment) and
        who wrote it (`source`). Until it is written (shortly after the call ends) the answer is a 404 problem whose
        `detail` says so; the call's `has_report` tells when it is there."""
        call = self.get_object()
        report = CallReport.objects.filter(call=call).select_related("call").first()
        if report is None:
            raise exceptions.NotFound(_("The report of this call is not written yet: it is written shortly after "
                                        "the call ends. Try again later (has_report on the call tells)."))
        return Response(CallReportSerializer(report).data)

    @extend_schema(
        summary="Start an outbound call",
        request=CallStartSerializer,
        responses={
            201: CallDetailSerializer,
            (404, PROBLEM_JSON): _problem(gettext_lazy("The script or the contact is not one of yours.")),
            (409, PROBLEM_JSON): _problem(gettext_lazy(
                "Telephony (LiveKit) is not configured on this platform (type `conflict`; nothing is created), or a "
                "request with the same Idempotency-Key is still running.")),
            (422, PROBLEM_JSON): _problem(gettext_lazy("This Idempotency-Key was used with another body.")),
        },
        examples=[
            OpenApiExample("To a contact", request_only=True, value={"script": 3, "contact": 481}),
            OpenApiExample("To a number", request_only=True,
                           value={"script": 3, "phone": "06 12 34 56 78", "name": "Jeanne Martin",
                                  "legal_basis": "consent"}),
            OpenApiExample("Queued", response_only=True, status_codes=["201"], value=_QUEUED_EXAMPLE),
        ],
    )
    @idempotent
    def create(self, request, *args, **kwargs):
        """Queue one outbound call of a script to a contact of yours, or to a number (a new contact is created for
        it, as the portal does). The call is dialled right after: follow its `status` on the call (or subscribe to
        the `call.completed` webhook).

        Refused like in the portal: a number on your do-not-call list, on CALLKOM's platform-wide list (people who
        object to every call) or under a legal hold answers 400 naming `contact` or `phone`; when telephony
        (LiveKit) is not configured on the platform the answer is a 409 problem and nothing is created. Send an
        `Idempotency-Key` so that a retry does not call twice."""
        serializer = CallStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        tenant = request.auth.tenant
        script = Script.objects.filter(pk=data["script"]).first()
        if script is None:
            raise exceptions.NotFound(_("script: you have no script with this id."))
        contact = None
        if "contact" in data:
            contact = Contact.objects.filter(pk=data["contact"]).first()
            if contact is None:
                raise exceptions.NotFound(_("contact: you have no contact with this id."))
        try:
            livekit.livekit_config()
        except livekit.LiveKitNotConfigured as error:
            raise Conflict(_("Outbound calls go through LiveKit, which is not configured here (%(detail)s). Nothing "
                             "was created.") % {"detail": error}) from None
        field, number = ("contact", contact.phone) if contact is not None else ("phone", data["phone"])
        refusal = do_not_call_reason(tenant=tenant, phone_e164=number)
        if refusal:
            raise exceptions.ValidationError({field: [refusal]}, code="do_not_call")
        with transaction.atomic():
            if contact is None:
                contact = contact_create(tenant=tenant, phone=data["phone"], name=data.get("name", ""))
            call = call_start_outbound(tenant=tenant, script=script, contact=contact,
                                       legal_basis=data.get("legal_basis", ""))
        call = Call.objects.select_related("script", "contact", "report").get(pk=call.pk)
        body = CallDetailSerializer(call, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED,
                        headers={"Location": body["links"]["self"]})

    @extend_schema(
        summary="Hang up a call",
        request=None,
        responses={
            200: OpenApiResponse(CallDetailSerializer, description=gettext_lazy(
                "The call was not dialled or answered yet: it is canceled now.")),
            202: OpenApiResponse(CallDetailSerializer, description=gettext_lazy(
                "The call is in progress: the hang-up was sent to it and it ends within seconds (its status "
                "still says in_progress here).")),
            (409, PROBLEM_JSON): _problem(gettext_lazy("The call has already ended (type `conflict`).")),
        },
    )
    @action(detail=True, methods=["post"])
    def hangup(self, request, pk=None):
        """End a call, as the Hang up button of the live view does: a call still queued or ringing is canceled at
        once (200); a call in progress receives the hang-up (202): the agent stops and the line is released within
        seconds. Recorded as a supervisor action of this API key. A call that has ended answers 409."""
        call = self.get_object()
        try:
            call, ended = call_hang_up(call=call, by=str(request.user))
        except SupervisionRefused as refusal:
            raise Conflict(str(refusal)) from None
        code = status.HTTP_200_OK if ended else status.HTTP_202_ACCEPTED
        return Response(self._detail(call), status=code)

    def _detail(self, call: Call) -> dict:
        call = Call.objects.select_related("script", "contact", "report").get(pk=call.pk)
        return CallDetailSerializer(call, context=self.get_serializer_context()).data


router = SimpleRouter()
router.register("calls", CallViewSet, basename="api-calls")

urlpatterns = router.urls
