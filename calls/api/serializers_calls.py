"""Serializers of the calls API: what a call, its transcript and its report look like to a partner's system.

Read-only shapes are explicit (no ``__all__``): a call carries ids, states and times; the contact's name and number
appear on the detail only (a key with ``calls:read`` of the owning tenant may see them). Empty strings stored for
"not yet" (outcome, end reason) are given as ``null``, as in the webhooks' payloads.
"""

from __future__ import annotations

import zoneinfo

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tenants.models import LegalBasis

from ..dashboard import TURN_STAGES, _stage_values, percentile
from ..models import Call, CallReport, Utterance

OUTCOMES = [(value, label) for value, label in Call.Outcome.choices if value]


_ENUM_CLASSES: dict[str, type[serializers.ChoiceField]] = {}


def _enum_class(component: str, choices, base: type[serializers.ChoiceField]) -> type[serializers.ChoiceField]:
    """A choice field documented as its own enum component, named here rather than guessed from the field's name
    (``status``, ``outcome``... mean different sets in different resources). One class per component."""
    if component in _ENUM_CLASSES:
        return _ENUM_CLASSES[component]
    values = [value for value, _label in choices if value not in ("", None)]
    schema = {"type": "string", "enum": values,
              "description": "\n".join(f"* `{value}` - {label}" for value, label in choices if value)}
    _ENUM_CLASSES[component] = extend_schema_field(schema, component_name=component)(
        type(f"{component}Field", (base,), {}))
    return _ENUM_CLASSES[component]


def enum_field(component: str, choices, *, base=None, **kwargs) -> serializers.ChoiceField:
    kwargs.setdefault("read_only", True)
    return _enum_class(component, choices, base or serializers.ChoiceField)(choices=choices, **kwargs)


class _BlankAsNull:
    """A read-only field whose stored empty string means "not set yet": given as null."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value):
        return None if value in ("", None) else super().to_representation(value)


class BlankAsNullChoiceField(_BlankAsNull, serializers.ChoiceField):
    pass


class BlankAsNullCharField(_BlankAsNull, serializers.CharField):
    pass


def duration_seconds(call: Call) -> int | None:
    """Seconds from the start (ringing, or the answer for calls that do not ring) to the end; None until it ends."""
    if call.started_at is None or call.ended_at is None:
        return None
    return max(0, round((call.ended_at - call.started_at).total_seconds()))


# --- a call ----------------------------------------------------------------------------------------------------------


class CallScriptSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)


class CallContactSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True, help_text=_("Empty when not known."))
    phone = serializers.CharField(read_only=True, help_text=_("E.164, e.g. +33612345678."))


class CallLinksSerializer(serializers.Serializer):
    self = serializers.URLField(read_only=True)
    transcript = serializers.URLField(read_only=True, help_text=_("Needs the reports:read scope."))
    report = serializers.URLField(read_only=True, help_text=_("Needs the reports:read scope; 404 until written."))


class CallSerializer(serializers.Serializer):
    """A call as listed: what it was, where it stands, when it happened."""

    id = serializers.UUIDField(read_only=True)
    direction = enum_field("CallDirection", Call.Direction.choices)
    channel = enum_field("CallChannel", Call.Channel.choices)
    status = enum_field("CallStatus", Call.Status.choices)
    outcome = enum_field("CallOutcome", OUTCOMES, base=BlankAsNullChoiceField, help_text=_(
        "Null until the report decides it (shortly after the call ends)."))
    script = CallScriptSerializer(read_only=True)
    campaign_id = serializers.IntegerField(read_only=True, allow_null=True,
                                           help_text=_("The campaign that placed the call, if any."))
    contact_id = serializers.IntegerField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    started_at = serializers.DateTimeField(read_only=True, allow_null=True,
                                           help_text=_("When it started ringing (or was answered)."))
    answered_at = serializers.DateTimeField(read_only=True, allow_null=True)
    ended_at = serializers.DateTimeField(read_only=True, allow_null=True)
    duration_s = serializers.SerializerMethodField(
        help_text=_("Seconds from started_at to ended_at; null until the call has ended."))
    end_reason = BlankAsNullCharField(help_text=_("Why the call ended (e.g. hangup, no_answer, busy)."))
    links = serializers.SerializerMethodField()

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_duration_s(self, call: Call) -> int | None:
        return duration_seconds(call)

    @extend_schema_field(CallLinksSerializer)
    def get_links(self, call: Call) -> dict:
        request = self.context["request"]

        def url(name):
            return request.build_absolute_uri(reverse(name, kwargs={"pk": call.pk}))

        return {"self": url("api-calls-detail"), "transcript": url("api-calls-transcript"),
                "report": url("api-calls-report")}


class LatencyStageSerializer(serializers.Serializer):
    p50_ms = serializers.FloatField(read_only=True, allow_null=True)
    p95_ms = serializers.FloatField(read_only=True, allow_null=True)
    max_ms = serializers.FloatField(read_only=True, allow_null=True)


class TurnLatencySerializer(serializers.Serializer):
    """Latency of the agent's turns: each stage's median, 95th percentile and maximum (nearest rank)."""

    turns = serializers.IntegerField(read_only=True, help_text=_("Caller turns measured."))
    e2e_ms = LatencyStageSerializer(read_only=True, help_text=_("End of the caller's speech to the agent's first "
                                                                "audio: the latency the caller feels."))
    stt_final_delay_ms = LatencyStageSerializer(read_only=True)
    llm_first_token_ms = LatencyStageSerializer(read_only=True)
    tts_first_byte_ms = LatencyStageSerializer(read_only=True)


def turn_latency_summary(turn_metrics) -> dict:
    turns = [metrics for metrics in (turn_metrics if isinstance(turn_metrics, list) else [])
             if isinstance(metrics, dict)]
    values = _stage_values([turns])
    summary: dict = {"turns": len(turns)}
    for key, _label in TURN_STAGES:
        measured = sorted(values[key])
        summary[key] = {"p50_ms": percentile(measured, 50), "p95_ms": percentile(measured, 95),
                        "max_ms": measured[-1] if measured else None}
    return summary


class CallDetailSerializer(CallSerializer):
    """A call with its contact, legal basis and the latency of its turns."""

    contact = CallContactSerializer(read_only=True, allow_null=True,
                                    help_text=_("Null when the call had no contact (or it was erased)."))
    legal_basis = enum_field("LegalBasis", LegalBasis.choices, base=BlankAsNullChoiceField)
    special_category = serializers.BooleanField(
        read_only=True, help_text=_("Special-category data (health, religion, ...) was mentioned."))
    interruptions = serializers.IntegerField(read_only=True, help_text=_("Times the caller spoke over the agent."))
    turn_latency = serializers.SerializerMethodField()
    has_report = serializers.SerializerMethodField()

    @extend_schema_field(TurnLatencySerializer)
    def get_turn_latency(self, call: Call) -> dict:
        return turn_latency_summary(call.turn_metrics)

    @extend_schema_field(serializers.BooleanField())
    def get_has_report(self, call: Call) -> bool:
        try:
            return call.report is not None
        except CallReport.DoesNotExist:
            return False


# --- transcript and report ------------------------------------------------------------------------------------------


class UtteranceSerializer(serializers.ModelSerializer):
    speaker = enum_field("UtteranceSpeaker", Utterance.Speaker.choices)
    started_ms = serializers.IntegerField(read_only=True, allow_null=True,
                                          help_text=_("Offset from the start of the conversation, if measured."))
    ended_ms = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = Utterance
        fields = ["seq", "speaker", "text", "started_ms", "ended_ms", "interrupted", "final"]
        read_only_fields = fields
        extra_kwargs = {"interrupted": {"help_text": _("The agent's line was cut off by the caller.")},
                        "text": {"help_text": _("What was said (payment card and IBAN numbers redacted).")}}


class CallTranscriptSerializer(serializers.Serializer):
    call_id = serializers.UUIDField(read_only=True)
    utterances = UtteranceSerializer(many=True, read_only=True, help_text=_("In the order they were said."))


class CallReportSerializer(serializers.Serializer):
    """The structured report written after the call by the language model (or the local extractor)."""

    call_id = serializers.UUIDField(read_only=True)
    outcome = enum_field("CallOutcome", OUTCOMES, base=BlankAsNullChoiceField, source="call.outcome")
    summary = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    phone = serializers.CharField(read_only=True, help_text=_("E.164 when one was given; empty otherwise."))
    email = serializers.CharField(read_only=True)
    company = serializers.CharField(read_only=True)
    need = serializers.CharField(read_only=True)
    appointment = serializers.SerializerMethodField(
        help_text=_("The appointment agreed, in the time zone it was agreed in (with its offset); null if none."))
    appointment_time_zone = BlankAsNullCharField(source="appointment_tz")
    next_step = serializers.CharField(read_only=True)
    confidence = serializers.FloatField(read_only=True, allow_null=True)
    special_category = serializers.BooleanField(read_only=True)
    source = enum_field("CallReportSource", CallReport.Source.choices, help_text=_("Who wrote the report."))
    created_at = serializers.DateTimeField(read_only=True)

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_appointment(self, report: CallReport) -> str | None:
        if report.appointment_at is None:
            return None
        value = report.appointment_at
        if report.appointment_tz:
            try:
                value = value.astimezone(zoneinfo.ZoneInfo(report.appointment_tz))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                pass
        return value.isoformat()


# --- input -------------------------------------------------------------------------------------------------------


MAX_ID = 2**63 - 1


class CallStartSerializer(serializers.Serializer):
    """Place one outbound call: a script of yours, and a contact of yours or a phone number."""

    script = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text=_("The id of one of your scripts."))
    contact = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False,
                                       help_text=_("The id of one of your contacts (or give phone)."))
    phone = serializers.CharField(max_length=32, required=False,
                                  help_text=_("E.164 (+33612345678) or a French national number (06 12 34 56 78); "
                                              "a new contact is created for it."))
    name = serializers.CharField(max_length=200, required=False, allow_blank=True,
                                 help_text=_("The person's name, with phone."))
    legal_basis = enum_field("LegalBasis", LegalBasis.choices, base=BlankAsNullChoiceField, read_only=False,
                             allow_null=False, required=False,
                             help_text=_("Default: your tenant's default legal basis."))

    def validate_phone(self, value: str) -> str:
        from django.core.exceptions import ValidationError

        from tenants.crypto import normalize_phone

        try:
            return normalize_phone(value)
        except ValidationError as error:
            raise serializers.ValidationError(error.messages, code="invalid_phone") from None

    def validate(self, attrs):
        if ("contact" in attrs) == ("phone" in attrs):
            raise serializers.ValidationError(_("Give either contact (an id) or phone, not both."),
                                              code="contact_or_phone")
        if "name" in attrs and "contact" in attrs:
            raise serializers.ValidationError({"name": [_("A name goes with phone; the contact has its own.")]},
                                              code="name_without_phone")
        return attrs
