"""API: scripts (what the agent says and aims for on a call).

Reading needs ``calls:read``; creating and changing need ``scripts:write``, a scope for keys made by owners and
admins. Scripts are validated as the service validates them (the greeting's first sentence must say that the caller
is talking to an AI; each step fills one report field; known tools only; duration limits), and audited. There is no
delete: the portal offers none, and calls keep their script (``Call.script`` is protected).
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from tenants.api_support import ByName
from tenants.api_viewsets import TenantViewSet

from .. import services
from ..models import Language, Script

READ = ["calls:read"]
WRITE = ["scripts:write"]
MAX_TEXT = 20_000
MAX_STEPS = 50


class StepSerializer(serializers.Serializer):
    slot = serializers.ChoiceField(choices=[(slot, slot) for slot in services.REPORT_SLOTS], help_text=gettext_lazy(
        "The report field the answer fills."))
    question = serializers.CharField(max_length=1000)


class ScriptSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=120, help_text=gettext_lazy("Unique among your scripts."))
    language = serializers.ChoiceField(choices=Language.choices, default=Language.FR)
    voice = serializers.CharField(max_length=80, required=False, allow_blank=True, default="",
                                  help_text=gettext_lazy("The synthesised voice; empty: the provider's default."))
    greeting = serializers.CharField(max_length=MAX_TEXT, help_text=gettext_lazy(
        "The agent's first words. Its first sentence must say that the caller is talking to an AI."))
    goal = serializers.CharField(max_length=MAX_TEXT)
    instructions = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True, default="")
    steps = StepSerializer(many=True, required=False, default=list, max_length=MAX_STEPS, help_text=gettext_lazy(
        "Ordered questions, each filling one report field."))
    closing = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True, default="")
    allowed_tools = serializers.ListField(
        child=serializers.ChoiceField(choices=[(tool, tool) for tool in services.TOOLS]), required=False,
        default=lambda: list(services.TOOLS), max_length=len(services.TOOLS),
        help_text=gettext_lazy("What the agent may do besides talking."))
    max_duration_s = serializers.IntegerField(min_value=30, max_value=3600, default=600)
    silence_timeout_s = serializers.IntegerField(min_value=2, max_value=60, default=8)
    transfer_on_request = serializers.BooleanField(default=True, help_text=gettext_lazy(
        "Transfer to a person when the caller asks for one."))
    transfer_after_misunderstandings = serializers.IntegerField(min_value=0, max_value=100, default=3)
    created_at = serializers.DateTimeField(read_only=True)

    def validate_name(self, value):
        value = value.strip()
        others = Script.objects.filter(name=value)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise serializers.ValidationError(_("Another script already has this name."), code="unique")
        return value

    def validate_steps(self, value):
        # A PATCH validates nested objects partially: a step must still be whole.
        missing = {index: {key: [_("This field is required.")] for key in ("slot", "question") if key not in step}
                   for index, step in enumerate(value)}
        missing = {index: fields for index, fields in missing.items() if fields}
        if missing:
            raise serializers.ValidationError(missing)
        return [{"slot": step["slot"], "question": step["question"]} for step in value]

    def validate_allowed_tools(self, value):
        return list(dict.fromkeys(value))


FIELDS = ("name", "language", "voice", "greeting", "goal", "instructions", "steps", "closing", "allowed_tools",
          "max_duration_s", "silence_timeout_s", "transfer_on_request", "transfer_after_misunderstandings")
NOT_IN_CREATE = ("transfer_on_request", "transfer_after_misunderstandings")  # script_create does not take them


def script_update(*, script: Script, changes: dict) -> Script:
    return services.script_update(script=script, changes=changes)


@transaction.atomic
def script_create(*, tenant, data: dict) -> Script:
    data = {field: data[field] for field in FIELDS if field in data}
    extra = {field: data.pop(field) for field in NOT_IN_CREATE if field in data}
    script = services.script_create(tenant=tenant, **data)
    return script_update(script=script, changes=extra) if extra else script


SCRIPT_EXAMPLE = {
    "name": "Kitchen appointment", "language": "en", "voice": "",
    "greeting": "Hello, I am Demo Cuisines' virtual assistant, an artificial intelligence. I am calling about your "
                "kitchen project.",
    "goal": "Understand the person's kitchen project and offer a showroom appointment.",
    "instructions": "", "closing": "Thank you, goodbye!",
    "steps": [{"slot": "name", "question": "May I have your name, please?"},
              {"slot": "appointment", "question": "When would you be available for a showroom appointment?"}],
    "allowed_tools": ["transfer", "end_call"], "max_duration_s": 600, "silence_timeout_s": 8,
    "transfer_on_request": True, "transfer_after_misunderstandings": 3,
}


@extend_schema_view(
    list=extend_schema(summary="List scripts"),
    retrieve=extend_schema(summary="Get a script"),
)
class ScriptViewSet(TenantViewSet):
    """Scripts: the agent's greeting (with its AI disclosure), goal, questions and rules for a call."""

    model = Script
    serializer_class = ScriptSerializer
    pagination_class = ByName
    ordering = ("name",)
    required_scopes = {"list": READ, "retrieve": READ, "create": WRITE, "update": WRITE, "partial_update": WRITE}

    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ScriptSerializer(page, many=True).data)

    def retrieve(self, request, pk=None):
        return Response(ScriptSerializer(self.get_object()).data)

    @extend_schema(summary="Create a script", responses={201: ScriptSerializer},
                   examples=[OpenApiExample("A script", value=SCRIPT_EXAMPLE, request_only=True)])
    def create(self, request):
        serializer = ScriptSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        script = script_create(tenant=request.auth.tenant, data=serializer.validated_data)
        return Response(ScriptSerializer(script).data, status=status.HTTP_201_CREATED)

    def _change(self, request, *, partial: bool) -> Response:
        script = self.get_object()
        serializer = ScriptSerializer(script, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        script = script_update(script=script, changes=dict(serializer.validated_data))
        return Response(ScriptSerializer(script).data)

    @extend_schema(summary="Replace a script", description="Optional fields left out take their defaults.")
    def update(self, request, pk=None):
        return self._change(request, partial=False)

    @extend_schema(summary="Change a script",
                   examples=[OpenApiExample("A longer call", value={"max_duration_s": 900}, request_only=True)])
    def partial_update(self, request, pk=None):
        return self._change(request, partial=True)


router = SimpleRouter()
router.register("scripts", ScriptViewSet, basename="api-scripts")

urlpatterns = router.urls
