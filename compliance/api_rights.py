"""API: the tenant's rights requests as controller (/api/v1/rights-requests/): its copies of the data-subject
requests CALLKOM forwarded to it, their deadlines and timelines; decide, extend the deadline, comment.

What a copy shows is what the portal's request page shows the controller: the request, the requester's details,
how the person was found in the tenant's data, the decision and the timeline. The actions go through
``compliance.rights``, which checks the transitions. An API key is no person: the services record the action with
no actor, and the timeline gets a comment naming the key (a comment's own note names it too).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Prefetch, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from tenants.api_support import PROBLEM_JSON, Conflict, Cursor, ProblemSerializer

from . import rights
from .models import (
    ACTIONABLE_STATUSES,
    EventKind,
    RequestChannel,
    RequestStatus,
    RequestType,
    RoutedRequest,
    RoutedRequestEvent,
)

READ, WRITE = ["rights:read"], ["rights:write"]
CONFLICT = {(409, PROBLEM_JSON): ProblemSerializer}
BAD_QUERY = {(400, PROBLEM_JSON): ProblemSerializer}  # a list's filter or cursor that is not valid
ROUTED_STATUSES = [(value, label) for value, label in RequestStatus.choices if value in rights.ROUTED_TRANSITIONS]
ATTRIBUTION_ROOM = 200  # characters of a comment kept for the line naming the key
COMMENT_MAX = rights.TEXT_MAX - ATTRIBUTION_ROOM


def _attribution(request) -> str:
    key = request.auth
    return _("Through the API, with the key “%(name)s” (%(prefix)s).") % {"name": key.name[:100],
                                                                          "prefix": key.prefix}


def _refusal(error: DjangoValidationError, fields: dict[str, str]) -> Exception:
    """A service's refusal: by field → 400 naming the API's field; a bare message (the request's state does not
    allow it) → 409 problem."""
    if hasattr(error, "error_dict"):
        return DjangoValidationError({fields.get(name, name): messages
                                      for name, messages in error.message_dict.items()})
    return Conflict(" ".join(error.messages))


# Serializers -------------------------------------------------------------------------------------------------------

class RequesterSerializer(serializers.Serializer):
    """The person who made the request, as they gave their details to CALLKOM."""

    name = serializers.CharField(source="requester_name")
    email = serializers.CharField(source="requester_email", help_text=gettext_lazy("Empty when none was given."))
    phone = serializers.CharField(source="requester_phone",
                                  help_text=gettext_lazy("The number that was called; empty when none was given."))
    company_named = serializers.CharField(help_text=gettext_lazy("The company the requester named, if any."))
    language = serializers.CharField(help_text=gettext_lazy("The requester's language: letters are in it."))
    details = serializers.CharField(help_text=gettext_lazy("What the requester wrote."))
    channel = serializers.ChoiceField(
        choices=RequestChannel.choices,
        help_text=gettext_lazy("How the request reached CALLKOM. On the web form the requester proved control of "
                               "the e-mail address with a code; the phone number is not verified. Otherwise CALLKOM "
                               "staff checked the identity."))
    verified_at = serializers.DateTimeField(allow_null=True,
                                            help_text=gettext_lazy("When the identity was verified."))


class RightsRequestSerializer(serializers.ModelSerializer):
    reference = serializers.CharField(source="request.reference",
                                      help_text=gettext_lazy("CALLKOM's reference, the one the requester knows."))
    kind = serializers.ChoiceField(source="request.kind", choices=RequestType.choices)
    status = serializers.ChoiceField(choices=ROUTED_STATUSES)
    received_at = serializers.DateTimeField(source="request.received_at",
                                            help_text=gettext_lazy("When CALLKOM received the request."))
    routed_at = serializers.DateTimeField(help_text=gettext_lazy("When it was forwarded to you."))
    due_at = serializers.DateField(help_text=gettext_lazy("One month from receipt (GDPR Art. 12(3))."))
    extended_due_at = serializers.DateField(allow_null=True, help_text=gettext_lazy("The deadline after an extension."))
    deadline = serializers.DateField(help_text=gettext_lazy("The deadline in force: the extended one, else due_at."))
    overdue = serializers.BooleanField(source="is_overdue",
                                       help_text=gettext_lazy("Still open and past its deadline."))
    matched_on = serializers.ListField(
        child=serializers.CharField(),
        help_text=gettext_lazy("How the person was found in your data: phone, email, or company_named (by CALLKOM "
                               "staff, from the company the requester named)."))
    requester = RequesterSerializer(source="request")

    class Meta:
        model = RoutedRequest
        fields = ["id", "reference", "kind", "status", "received_at", "routed_at", "due_at", "extended_due_at",
                  "deadline", "overdue", "matched_on", "requester"]
        read_only_fields = fields


class RightsRequestEventSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=EventKind.choices)
    from_status = serializers.ChoiceField(choices=RequestStatus.choices, allow_blank=True,
                                          help_text=gettext_lazy("For a status change; empty otherwise."))
    to_status = serializers.ChoiceField(choices=RequestStatus.choices, allow_blank=True,
                                        help_text=gettext_lazy("For a status change; empty otherwise."))
    actor = serializers.SerializerMethodField(
        help_text=gettext_lazy("The e-mail of the person who acted; null for CALLKOM and for API keys (a comment "
                               "names the key)."))

    class Meta:
        model = RoutedRequestEvent
        fields = ["at", "kind", "from_status", "to_status", "actor", "note"]
        read_only_fields = fields

    def get_actor(self, event) -> str | None:
        return event.actor.email if event.actor_id else None


class RightsRequestDetailSerializer(RightsRequestSerializer):
    decided_at = serializers.DateTimeField(allow_null=True)
    decided_by = serializers.SerializerMethodField(help_text=gettext_lazy("Who decided; null for an API key."))
    decision_reason = serializers.CharField(help_text=gettext_lazy("The reason sent to the requester."))
    extension_reason = serializers.CharField(help_text=gettext_lazy("Why the deadline was extended (sent to the "
                                                                    "requester)."))
    extended_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    can_decide = serializers.SerializerMethodField(help_text=gettext_lazy("Whether it awaits your decision."))
    can_extend = serializers.SerializerMethodField(help_text=gettext_lazy("Whether the deadline can be extended now."))
    events = RightsRequestEventSerializer(many=True, help_text=gettext_lazy("The timeline, oldest first."))

    class Meta(RightsRequestSerializer.Meta):
        fields = [*RightsRequestSerializer.Meta.fields, "decided_at", "decided_by", "decision_reason",
                  "extension_reason", "extended_at", "completed_at", "can_decide", "can_extend", "events"]
        read_only_fields = fields

    def get_decided_by(self, routed) -> str | None:
        return routed.decided_by.email if routed.decided_by_id else None

    def get_can_decide(self, routed) -> bool:
        return routed.status == RequestStatus.AWAITING_CONTROLLER

    def get_can_extend(self, routed) -> bool:
        return rights.can_extend(routed)


class DecisionSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=[("approve", "approve"), ("deny", "deny")])
    reason = serializers.CharField(
        max_length=rights.TEXT_MAX, required=False, allow_blank=True, default="",
        help_text=gettext_lazy("Sent to the requester. Required for a denial, with the legal ground."))


class ExtensionSerializer(serializers.Serializer):
    months = serializers.ChoiceField(choices=[(months, months) for months in rights.EXTENSION_MONTHS],
                                     help_text=gettext_lazy("Extend by one or two months."))
    reason = serializers.CharField(max_length=rights.TEXT_MAX,
                                   help_text=gettext_lazy("Sent to the requester: why the request needs more time."))


class CommentSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=COMMENT_MAX,
                                 help_text=gettext_lazy("Seen by your team and by CALLKOM, never by the requester."))


# Filters and pagination --------------------------------------------------------------------------------------------

class RightsRequestFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=ROUTED_STATUSES)
    kind = filters.ChoiceFilter(field_name="request__kind", choices=RequestType.choices)
    overdue = filters.BooleanFilter(method="filter_overdue",
                                    help_text=gettext_lazy("true: open and past the deadline; false: the others."))

    class Meta:
        model = RoutedRequest
        fields = ["status", "kind", "overdue"]

    def filter_overdue(self, queryset, name, value):
        overdue = Q(status__in=ACTIONABLE_STATUSES, deadline_on__lt=timezone.localdate())
        queryset = queryset.annotate(deadline_on=Coalesce("extended_due_at", "due_at"))
        return queryset.filter(overdue) if value else queryset.exclude(overdue)


class RightsRequestCursor(Cursor):
    ordering = ("-routed_at", "-id")


# Views -------------------------------------------------------------------------------------------------------------

EXAMPLE = {
    "id": "5b0f7a52-8d0c-4b8e-9a57-3f1f5f7f2a10", "reference": "2026-7KQ4MZ2A", "kind": "erasure",
    "status": "awaiting_controller", "received_at": "2026-11-20T08:12:00Z", "routed_at": "2026-11-20T08:20:00Z",
    "due_at": "2026-12-20", "extended_due_at": None, "deadline": "2026-12-20", "overdue": False,
    "matched_on": ["phone"],
    "requester": {"name": "Jean Martin", "email": "jean.martin@example.org", "phone": "+33612345678",
                  "company_named": "", "language": "fr", "details": "Please delete my data.", "channel": "web",
                  "verified_at": "2026-11-20T08:15:00Z"}}
EXAMPLE_DETAIL = {**EXAMPLE, "decided_at": None, "decided_by": None, "decision_reason": "", "extension_reason": "",
                  "extended_at": None, "completed_at": None, "can_decide": True, "can_extend": True,
                  "events": [{"at": "2026-11-20T08:20:00Z", "kind": "notice", "from_status": "", "to_status": "",
                              "actor": None, "note": "Forwarded to you: found by phone number."}]}


@extend_schema_view(
    list=extend_schema(summary="List rights requests", responses={200: RightsRequestSerializer(many=True), **BAD_QUERY},
                       description="The data-subject requests CALLKOM forwarded to you as controller, the last "
                                   "forwarded first.",
                       examples=[OpenApiExample("A request awaiting your decision", value=EXAMPLE,
                                                response_only=True)]),
    retrieve=extend_schema(summary="Get a rights request", description="One request, with its timeline.",
                           examples=[OpenApiExample("Awaiting your decision", value=EXAMPLE_DETAIL,
                                                    response_only=True)]),
)
class RightsRequestViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    pagination_class = RightsRequestCursor
    filterset_class = RightsRequestFilter
    ordering = ("-routed_at", "-id")
    required_scopes = {"list": READ, "retrieve": READ, "decide": WRITE, "extend": WRITE, "comment": WRITE}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return RoutedRequest._base_manager.none()
        queryset = RoutedRequest.objects.select_related("request", "decided_by")
        if self.action != "list":
            queryset = queryset.prefetch_related(
                Prefetch("events", queryset=RoutedRequestEvent.objects.select_related("actor")))
        return queryset

    def get_serializer_class(self):
        return RightsRequestSerializer if self.action == "list" else RightsRequestDetailSerializer

    def _answer(self, routed) -> Response:
        return Response(RightsRequestDetailSerializer(self.get_queryset().get(pk=routed.pk)).data)

    def _run(self, request, service, fields: dict[str, str]) -> Response:
        routed = self.get_object()
        try:
            with transaction.atomic():
                service(routed)
        except DjangoValidationError as error:
            raise _refusal(error, fields) from None
        return self._answer(routed)

    @extend_schema(
        summary="Decide on a rights request", request=DecisionSerializer,
        responses={200: RightsRequestDetailSerializer, **CONFLICT},
        description="Approve or deny a request awaiting your decision (409 otherwise). The requester receives the "
                    "decision and its reason, in their language; a denial needs its reason. Carrying out an approved "
                    "request is done in the portal.",
        examples=[OpenApiExample("A denial", value={"decision": "deny", "reason": "We are required by law to keep "
                                                    "these invoices for ten years (Commercial Code L.123-22)."},
                                 request_only=True)])
    @action(detail=True, methods=["post"], filterset_class=None)
    def decide(self, request, pk=None):
        serializer = DecisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data

        def service(routed):
            rights.decide(routed=routed, approve=data["decision"] == "approve", reason=data["reason"], actor=None)
            rights.comment(item=routed, note=_attribution(request), actor=None)

        return self._run(request, service, {"note": "reason"})

    @extend_schema(
        summary="Extend the deadline", request=ExtensionSerializer,
        responses={200: RightsRequestDetailSerializer, **CONFLICT},
        description="Extend the deadline once, by one or two months, before the first month ends (GDPR Art. 12(3)); "
                    "the requester is told why. 409 when the request cannot be extended now.",
        examples=[OpenApiExample("Two more months", value={"months": 2, "reason": "Your request covers many calls "
                                                           "over several years."}, request_only=True)])
    @action(detail=True, methods=["post"], filterset_class=None)
    def extend(self, request, pk=None):
        serializer = ExtensionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data

        def service(routed):
            rights.extend(item=routed, months=data["months"], reason=data["reason"], actor=None)
            rights.comment(item=routed, note=_attribution(request), actor=None)

        return self._run(request, service, {})

    @extend_schema(
        summary="Comment on a rights request", request=CommentSerializer,
        responses={200: RightsRequestDetailSerializer},
        description="Add a note to the timeline; seen by your team and by CALLKOM, never by the requester.",
        examples=[OpenApiExample("A note", value={"text": "Checked with the sales team: no contract in progress."},
                                 request_only=True)])
    @action(detail=True, methods=["post"], filterset_class=None)
    def comment(self, request, pk=None):
        serializer = CommentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        note = f"{serializer.validated_data['text']}\n\n{_attribution(request)}"
        return self._run(request, lambda routed: rights.comment(item=routed, note=note, actor=None), {"note": "text"})


router = SimpleRouter()
router.register("rights-requests", RightsRequestViewSet, basename="api-rights-requests")
urlpatterns = router.urls
