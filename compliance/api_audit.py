"""API: the AI request log (``AIInvocation``), read-only, for audit.

Every request the platform made to an AI provider for the tenant: what went where, how big (size and SHA-256 of
what was sent and received), how long, with what result, and the hash chain that proves no row was changed or
removed. Never the exact request (``payload``), which is kept encrypted, only when the tenant asks, for its own
investigations in the portal.

compliance never imports calls: calls are referred to by their id only.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy
from django_filters import rest_framework as filters
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, viewsets
from rest_framework.routers import SimpleRouter

from tenants.api_filters import InstantFilter
from tenants.api_support import PROBLEM_JSON, Cursor, ProblemSerializer

from .models import AIInvocation

FIELDS = ("id", "tenant_id", "call_id", "provider", "role", "model", "region", "started_at", "duration_ms", "outcome",
          "error_class", "request_sha256", "request_bytes", "response_sha256", "response_bytes", "prompt_tokens",
          "completion_tokens", "minimised_fields", "redactions", "no_training", "register_version", "prev_hash",
          "row_hash")


# --- serializers -------------------------------------------------------------------------------------------------


def _named_enum(component: str, choices) -> type[serializers.ChoiceField]:
    """A read-only choice field documented as its own enum component (``role`` and ``outcome`` name other choice
    sets in other resources); the usage endpoint reuses these for its per-role counts."""
    schema = {"type": "string", "enum": [value for value, _label in choices],
              "description": "\n".join(f"* `{value}` - {label}" for value, label in choices)}
    field_class = type(f"{component}Field", (serializers.ChoiceField,), {})
    return extend_schema_field(schema, component_name=component)(field_class)


AIRequestRoleField = _named_enum("AIRequestRole", AIInvocation.Role.choices)
AIRequestOutcomeField = _named_enum("AIRequestOutcome", AIInvocation.Outcome.choices)



class DigestSerializer(serializers.Serializer):
    bytes = serializers.IntegerField(read_only=True, help_text=gettext_lazy("Size in bytes."))
    sha256 = serializers.CharField(read_only=True, help_text=gettext_lazy(
        "Hex SHA-256 of the bytes (empty for a response that never came)."))


class TokensSerializer(serializers.Serializer):
    prompt = serializers.IntegerField(read_only=True, allow_null=True)
    completion = serializers.IntegerField(read_only=True, allow_null=True)


class AIInvocationSerializer(serializers.Serializer):
    """One request to an AI provider, as logged (never its content)."""

    id = serializers.IntegerField(read_only=True)
    call_id = serializers.UUIDField(read_only=True, allow_null=True,
                                    help_text=gettext_lazy("The call it served; null outside calls."))
    provider = serializers.CharField(read_only=True)
    role = AIRequestRoleField(choices=AIInvocation.Role.choices, read_only=True)
    model = serializers.CharField(read_only=True)
    region = serializers.CharField(read_only=True, help_text=gettext_lazy("Where the provider processed it."))
    started_at = serializers.DateTimeField(read_only=True)
    duration_ms = serializers.IntegerField(read_only=True)
    outcome = AIRequestOutcomeField(choices=AIInvocation.Outcome.choices, read_only=True)
    error_class = serializers.CharField(read_only=True, help_text=gettext_lazy("Empty when the request succeeded."))
    request = serializers.SerializerMethodField()
    response = serializers.SerializerMethodField()
    tokens = serializers.SerializerMethodField()
    minimised_fields = serializers.ListField(child=serializers.CharField(), read_only=True, help_text=gettext_lazy(
        "Contact fields removed before sending (the tenant's exclusions)."))
    redactions = serializers.IntegerField(read_only=True, help_text=gettext_lazy(
        "Payment card and IBAN numbers redacted before sending."))
    no_training = serializers.BooleanField(read_only=True, help_text=gettext_lazy(
        "The provider's option not to train on the data was in force."))
    register_version = serializers.CharField(read_only=True, help_text=gettext_lazy(
        "Version of the subprocessor register in force."))
    prev_hash = serializers.CharField(read_only=True, help_text=gettext_lazy("row_hash of the previous row."))
    row_hash = serializers.CharField(read_only=True, help_text=gettext_lazy(
        "SHA-256 over this row's fields and prev_hash: the chain `verify_ai_log_chain` checks."))

    @extend_schema_field(DigestSerializer)
    def get_request(self, row: AIInvocation) -> dict:
        return {"bytes": row.request_bytes, "sha256": row.request_sha256}

    @extend_schema_field(DigestSerializer)
    def get_response(self, row: AIInvocation) -> dict:
        return {"bytes": row.response_bytes, "sha256": row.response_sha256}

    @extend_schema_field(TokensSerializer)
    def get_tokens(self, row: AIInvocation) -> dict:
        return {"prompt": row.prompt_tokens, "completion": row.completion_tokens}


# --- filters and pagination ----------------------------------------------------------------------------------------


class AIInvocationFilter(filters.FilterSet):
    call = filters.UUIDFilter(field_name="call_id", help_text=gettext_lazy("A call id: the requests it made."))
    provider = filters.CharFilter(max_length=60, help_text=gettext_lazy("A provider's name, exactly."))
    role = filters.ChoiceFilter(choices=AIInvocation.Role.choices)
    outcome = filters.ChoiceFilter(choices=AIInvocation.Outcome.choices)
    started_after = InstantFilter(field_name="started_at", lookup_expr="gte",
                                  help_text=gettext_lazy("ISO 8601 instant: requests started at or after it."))
    started_before = InstantFilter(field_name="started_at", lookup_expr="lt",
                                   help_text=gettext_lazy("ISO 8601 instant: requests started strictly before it."))

    class Meta:
        model = AIInvocation
        fields = ["call", "provider", "role", "outcome", "started_after", "started_before"]


class NewestFirst(Cursor):
    """By id, newest first: the log is append-only, so ids follow the order rows were written."""

    ordering = ("-id",)


# --- the viewset ----------------------------------------------------------------------------------------------------

_EXAMPLE = {
    "id": 90412, "call_id": "6f1c1c52-4c8e-4a57-9d53-2d0d3b0f5a10", "provider": "mistral", "role": "llm",
    "model": "mistral-small-latest", "region": "eu", "started_at": "2025-03-04T10:15:12.402000+01:00",
    "duration_ms": 612, "outcome": "ok", "error_class": "",
    "request": {"bytes": 2841, "sha256": "9f2c0d6b1e8a4f3c7d5b2a1908e7f6d5c4b3a29180f7e6d5c4b3a2918f7e6d5c"},
    "response": {"bytes": 311, "sha256": "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"},
    "tokens": {"prompt": 702, "completion": 64}, "minimised_fields": ["notes"], "redactions": 0,
    "no_training": True, "register_version": "2025-02-17",
    "prev_hash": "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
    "row_hash": "6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b",
}


@extend_schema_view(
    list=extend_schema(
        summary="List AI requests",
        responses={200: AIInvocationSerializer, (400, PROBLEM_JSON): OpenApiResponse(
            ProblemSerializer, description=gettext_lazy(
                "A filter, the cursor or the page size is not valid: `errors` names the parameter."))},
        examples=[OpenApiExample("A request of a call", value=_EXAMPLE, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="Get an AI request",
        examples=[OpenApiExample("A request of a call", value=_EXAMPLE, response_only=True)],
    ),
)
class AIInvocationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The AI request log of your tenant."""

    required_scopes = {"list": ["audit:read"], "retrieve": ["audit:read"]}
    serializer_class = AIInvocationSerializer
    pagination_class = NewestFirst
    filterset_class = AIInvocationFilter
    lookup_value_regex = "[0-9]{1,18}"  # a row id; anything else is simply not found

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no tenant scope
            return AIInvocation._base_manager.none()
        return AIInvocation.objects.only(*FIELDS)  # never the payload (encrypted, possibly large)

    def list(self, request, *args, **kwargs):
        """List the AI requests made for your tenant, newest first (by id: the log is append-only), one page at a
        time (follow `next`). Each row gives the size and SHA-256 digest of what was sent and received, never the
        content, and its place in the tamper-evident hash chain (`prev_hash`, `row_hash`)."""
        return super().list(request, *args, **kwargs)

    def retrieve(self, request, *args, **kwargs):
        """Get one AI request of the log."""
        return super().retrieve(request, *args, **kwargs)


router = SimpleRouter()
router.register("ai-invocations", AIInvocationViewSet, basename="api-ai-invocations")

urlpatterns = router.urls
