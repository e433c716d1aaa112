from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tenants.crypto import EncryptedTextField
from tenants.models import Tenant, TenantOwned


class AIInvocation(TenantOwned):
    """One request to an AI provider: what went where, how big, how long, with what result.

    Append-only and hash-chained per tenant: each row's hash covers its fields and the previous row's hash, so an
    edited or deleted row breaks the chain (``verify_ai_log_chain``). The exact request is kept, encrypted, only
    when the tenant asks for it; it is outside the hash so that retention can delete it and keep the chain.
    """

    class Role(models.TextChoices):
        STT = "stt", _("Speech-to-text")
        LLM = "llm", _("Conversation")
        TTS = "tts", _("Text-to-speech")
        SUMMARY = "summary", _("Summary")
        EXTRACTION = "extraction", _("Report extraction")

    class Outcome(models.TextChoices):
        OK = "ok", _("OK")
        ERROR = "error", _("Error")
        TIMEOUT = "timeout", _("Timeout")
        FILTERED = "filtered", _("Filtered")

    call_id = models.UUIDField(_("call"), null=True, blank=True)
    provider = models.CharField(_("provider"), max_length=60)
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    model = models.CharField(_("model"), max_length=100)
    region = models.CharField(_("region"), max_length=16)
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    error_class = models.CharField(_("error"), max_length=100, blank=True)
    request_sha256 = models.CharField(max_length=64)
    request_bytes = models.PositiveIntegerField(default=0)
    response_sha256 = models.CharField(max_length=64, blank=True)
    response_bytes = models.PositiveIntegerField(default=0)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    minimised_fields = models.JSONField(_("fields removed"), default=list, blank=True)
    redactions = models.PositiveIntegerField(_("redactions"), default=0)
    no_training = models.BooleanField(_("no-training option in force"), default=False)
    register_version = models.CharField(_("subprocessor list version"), max_length=32, blank=True)
    payload = EncryptedTextField(_("exact request (encrypted)"), blank=True, default="")
    prev_hash = models.CharField(max_length=64)
    row_hash = models.CharField(max_length=64, unique=True)

    class Meta:
        verbose_name = _("AI request")
        verbose_name_plural = _("AI requests")
        ordering = ["id"]
        indexes = [
            models.Index(fields=["tenant", "call_id"], name="aiinv_tenant_call"),
            models.Index(fields=["tenant", "-started_at"], name="aiinv_tenant_started"),
        ]

    def __str__(self):
        return f"{self.role} → {self.provider} ({self.outcome})"


class AILogHead(models.Model):
    """The end of a tenant's AI log chain; locked while a row is appended so that rows chain in order."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="+")
    last_hash = models.CharField(max_length=64)
    length = models.PositiveBigIntegerField(default=0)

    def __str__(self):
        return f"AI log head of tenant {self.tenant_id}"


class IncidentCandidate(TenantOwned):
    """Something the safeguards caught (a reply replaced by the output filter); staff triage it into incidents."""

    class Status(models.TextChoices):
        NEW = "new", _("New")
        DISMISSED = "dismissed", _("Dismissed")
        ESCALATED = "escalated", _("Escalated to an incident")

    call_id = models.UUIDField(_("call"), null=True, blank=True)
    detected_at = models.DateTimeField(_("detected"), default=timezone.now)
    source = models.CharField(_("source"), max_length=40, default="output_filter")
    reason = models.CharField(_("reason"), max_length=60)
    provider = models.CharField(_("provider"), max_length=60, blank=True)
    excerpt = EncryptedTextField(_("excerpt of the replaced reply"), blank=True, default="")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.NEW)

    class Meta:
        verbose_name = _("incident candidate")
        verbose_name_plural = _("incident candidates")
        ordering = ["-detected_at"]
        indexes = [models.Index(fields=["tenant", "status", "-detected_at"], name="incidentcand_tenant_status")]

    def __str__(self):
        return f"{self.reason} ({self.status})"
