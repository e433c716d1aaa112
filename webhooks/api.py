"""The webhooks part of the partner API (/api/v1/webhook-endpoints/): the tenant's endpoints, their signing secrets,
a test delivery, and the deliveries of each endpoint.

Every action needs ``webhooks:write``, reads included: an endpoint decides where personal data goes. The signing
secret is shown once, in the answer that creates it (endpoint creation, rotation), never afterwards; a delivery is
shown without its payload. Writes go through ``webhooks.services``, which checks the URL (https, a public address).
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from tenants.api_support import PROBLEM_JSON, Cursor, ProblemSerializer

from . import selectors, services
from .models import Event, WebhookDelivery, WebhookEndpoint

WRITE = ["webhooks:write"]
BAD_QUERY = {(400, PROBLEM_JSON): ProblemSerializer}  # a list's filter or cursor that is not valid
EVENT_CHOICES = [(value, label) for value, label in Event.choices if value in services.SUBSCRIBABLE_EVENTS]


# Serializers -------------------------------------------------------------------------------------------------------

class EndpointSerializer(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_CHOICES),
                                   help_text=gettext_lazy("The events delivered to this endpoint."))
    previous_secret_until = serializers.DateTimeField(
        allow_null=True, help_text=gettext_lazy("After a rotation: until when deliveries are signed with the "
                                                "previous secret too."))
    retrying_count = serializers.IntegerField(help_text=gettext_lazy("Deliveries waiting for a retry."))
    dead_count = serializers.IntegerField(help_text=gettext_lazy("Deliveries that gave up (redeliver them in the "
                                                                 "portal)."))

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "description", "events", "active", "created_at", "previous_secret_until",
                  "retrying_count", "dead_count"]
        read_only_fields = fields


class EndpointWithSecretSerializer(EndpointSerializer):
    secret = serializers.CharField(help_text=gettext_lazy("The signing secret (whsec_…): shown in this answer only."))

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class EndpointWriteSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=500, help_text=gettext_lazy(
        "An https:// address of your system, on a public network, that accepts POST requests."))
    events = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_CHOICES), min_length=1,
                                   max_length=len(EVENT_CHOICES), help_text=gettext_lazy("The events to receive."))
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    active = serializers.BooleanField(required=False)


class DeliverySerializer(serializers.ModelSerializer):
    endpoint = serializers.IntegerField(source="endpoint_id", help_text=gettext_lazy("The endpoint's id."))
    event = serializers.ChoiceField(choices=Event.choices)
    last_status_code = serializers.IntegerField(
        allow_null=True, help_text=gettext_lazy("Your system's HTTP status at the last attempt; null when it could "
                                                "not be reached (see last_error) or before any attempt."))
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)

    class Meta:
        model = WebhookDelivery
        fields = ["id", "endpoint", "event", "status", "attempts", "last_status_code", "last_error",
                  "next_attempt_at", "created_at", "delivered_at"]
        read_only_fields = fields


class DeliveryFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=WebhookDelivery.Status.choices)
    event = filters.ChoiceFilter(choices=Event.choices)

    class Meta:
        model = WebhookDelivery
        fields = ["status", "event"]


class EndpointCursor(Cursor):
    ordering = ("-created_at", "-id")


class DeliveryCursor(Cursor):
    ordering = ("-created_at", "-id")


EXAMPLE_CREATE = {"url": "https://crm.example.com/hooks/callkom", "events": ["call.completed", "report.ready"],
                  "description": "CRM", "active": True}
EXAMPLE_ENDPOINT = {"id": 7, "url": "https://crm.example.com/hooks/callkom", "description": "CRM",
                    "events": ["call.completed", "report.ready"], "active": True,
                    "created_at": "2026-11-27T09:30:00Z", "previous_secret_until": None, "retrying_count": 0,
                    "dead_count": 0}
EXAMPLE_SECRET = {**EXAMPLE_ENDPOINT, "secret": "whsec_2Jk9…"}
EXAMPLE_DELIVERY = {"id": "0c3e5b1e-55a4-4b7b-9a4c-2f8f3a2d1e90", "endpoint": 7, "event": "ping",
                    "status": "pending", "attempts": 0, "last_status_code": None, "last_error": "",
                    "next_attempt_at": "2026-11-27T09:31:00Z", "created_at": "2026-11-27T09:31:00Z",
                    "delivered_at": None}


@extend_schema_view(
    list=extend_schema(summary="List webhook endpoints", responses={200: EndpointSerializer(many=True), **BAD_QUERY}),
    retrieve=extend_schema(summary="Get a webhook endpoint"),
    create=extend_schema(
        summary="Create a webhook endpoint",
        description="The answer holds the endpoint's signing secret, shown this once: store it to check the "
                    "`Callkom-Signature` header of each delivery.",
        request=EndpointWriteSerializer, responses={201: EndpointWithSecretSerializer},
        examples=[OpenApiExample("An endpoint for the CRM", value=EXAMPLE_CREATE, request_only=True),
                  OpenApiExample("Created, with its secret", value=EXAMPLE_SECRET, response_only=True,
                                 status_codes=["201"])]),
    partial_update=extend_schema(
        summary="Change a webhook endpoint", request=EndpointWriteSerializer, responses={200: EndpointSerializer},
        examples=[OpenApiExample("Pause deliveries", value={"active": False}, request_only=True)]),
    destroy=extend_schema(summary="Delete a webhook endpoint",
                          description="Delete the endpoint and its deliveries.", responses={204: None}),
)
class WebhookEndpointViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin,
                             viewsets.GenericViewSet):
    serializer_class = EndpointSerializer
    pagination_class = EndpointCursor
    filterset_class = None  # the deliveries action has its own
    ordering = ("-created_at", "-id")
    required_scopes = {name: WRITE for name in ("list", "retrieve", "create", "partial_update", "destroy",
                                                "rotate_secret", "test", "deliveries")}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator: no tenant, no query
            model = WebhookDelivery if self.action == "deliveries" else WebhookEndpoint
            return model._base_manager.none()
        return selectors.endpoints_of(self.request.auth.tenant)

    def _answer(self, endpoint, serializer_class=EndpointSerializer, **kwargs) -> Response:
        """The endpoint as the list shows it (with its delivery counts)."""
        return Response(serializer_class(self.get_queryset().get(pk=endpoint.pk)).data, **kwargs)

    def create(self, request):
        serializer = EndpointWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = services.endpoint_create(tenant=request.auth.tenant, **serializer.validated_data)
        return self._answer(endpoint, EndpointWithSecretSerializer, status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        endpoint = self.get_object()
        serializer = EndpointWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        current = {"url": endpoint.url, "events": endpoint.events, "description": endpoint.description,
                   "active": endpoint.active}
        endpoint = services.endpoint_update(endpoint=endpoint, **(current | serializer.validated_data))
        return self._answer(endpoint)

    def perform_destroy(self, instance):
        services.endpoint_delete(endpoint=instance)

    @extend_schema(
        summary="Rotate the signing secret", request=None, responses={200: EndpointWithSecretSerializer},
        description="Give the endpoint a new secret, shown in this answer only. For 24 hours each delivery is signed "
                    "with both the new and the previous secret (two `v1` values), so your system keeps verifying "
                    "while you switch it.")
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        endpoint = services.endpoint_rotate_secret(endpoint=self.get_object())
        return self._answer(endpoint, EndpointWithSecretSerializer)

    @extend_schema(
        summary="Send a test delivery", request=None, responses={202: DeliverySerializer},
        description="Send the `ping` event to the endpoint (whatever it subscribed to, even while inactive), once, "
                    "without retries. The answer is the delivery: follow it in the endpoint's deliveries.",
        examples=[OpenApiExample("Queued", value=EXAMPLE_DELIVERY, response_only=True, status_codes=["202"])])
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        delivery = services.endpoint_ping(endpoint=self.get_object())
        delivery.refresh_from_db()  # attempted already when tasks run eagerly
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="List an endpoint's deliveries", responses={200: DeliverySerializer(many=True), **BAD_QUERY},
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description=gettext_lazy("The endpoint's id."))],
        description="The deliveries to this endpoint, newest first, without their payload.",
        examples=[OpenApiExample("A delivered ping", value=EXAMPLE_DELIVERY | {"status": "succeeded", "attempts": 1,
                                                                               "last_status_code": 200},
                                 response_only=True)])
    @action(detail=True, methods=["get"], filterset_class=DeliveryFilter, pagination_class=DeliveryCursor)
    def deliveries(self, request, pk=None):
        # Not get_object(): it would apply this action's delivery filters to the endpoints.
        endpoint = get_object_or_404(WebhookEndpoint.objects.all(), pk=pk)
        deliveries = self.filter_queryset(WebhookDelivery.objects.filter(endpoint=endpoint))
        page = self.paginate_queryset(deliveries)
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)


router = SimpleRouter()
router.register("webhook-endpoints", WebhookEndpointViewSet, basename="api-webhook-endpoints")
urlpatterns = router.urls
