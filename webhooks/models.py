"""Outgoing deliveries to the customer's systems: signed webhooks (with retries and a dead-letter list) and
e-mail notifications. This app depends on ``tenants`` only, so that every other app can emit an event."""

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tenants.crypto import EncryptedCharField, EncryptedTextField
from tenants.models import TenantOwned


class Event(models.TextChoices):
    CALL_COMPLETED = "call.completed", _("A call ended")
    REPORT_READY = "report.ready", _("A call report is ready")
    CAMPAIGN_COMPLETED = "campaign.completed", _("A campaign finished")
    IMPORT_COMPLETED = "contact_import.completed", _("A contact import finished")
    RIGHTS_REQUEST_FORWARDED = "rights_request.forwarded", _("A data-subject request awaits your decision")
    SUBPROCESSOR_CHANGE_ANNOUNCED = "subprocessor.change_announced", _("A change of subprocessor was announced")
    INCIDENT_NOTIFIED = "incident.notified", _("An AI incident concerns you")
    PING = "ping", _("Test delivery")


def _all_events():
    return [event for event in Event.values if event != Event.PING]


class WebhookEndpoint(TenantOwned):
    """A URL of the customer's that receives the events it subscribed to, signed with its own secret."""

    url = models.URLField(_("URL"), max_length=500)
    description = models.CharField(_("description"), max_length=200, blank=True)
    events = models.JSONField(_("events"), default=_all_events)
    secret = EncryptedCharField(_("signing secret"), max_length=100)
    # After a rotation the old secret still signs (as a second v1 value) until the receiver has switched.
    previous_secret = EncryptedCharField(_("previous signing secret"), max_length=100, blank=True, default="")
    previous_secret_until = models.DateTimeField(_("previous secret valid until"), null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey("tenants.User", on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["created_at"]

    def __str__(self):
        return self.url


class WebhookDelivery(TenantOwned):
    """One event for one endpoint. Its id travels in the ``Callkom-Delivery`` header and stays the same across
    retries and manual redeliveries, so that the receiver can drop duplicates."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Delivered")
        RETRYING = "retrying", _("Retrying")
        DEAD = "dead", _("Failed (dead letter)")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(_("event"), max_length=64)
    payload = EncryptedTextField(_("payload"))  # the JSON body, byte for byte what is signed and sent
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("last HTTP status"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["tenant", "status", "-created_at"], name="delivery_tenant_status"),
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due"),
        ]

    def __str__(self):
        return f"{self.event} → {self.endpoint_id}"


class EmailNotification(TenantOwned):
    """An address that gets an e-mail for the events it chose (optional; webhooks are the machine channel)."""

    email = models.EmailField(_("e-mail"))
    events = models.JSONField(_("events"), default=list)
    include_report = models.BooleanField(
        _("include the report's content"), default=False,
        help_text=_("Otherwise the e-mail holds a link to the portal only, and no personal data."),
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("e-mail notification")
        verbose_name_plural = _("e-mail notifications")
        constraints = [models.UniqueConstraint(fields=["tenant", "email"], name="emailnotification_unique")]

    def __str__(self):
        return self.email
