"""Retention of webhook deliveries: technical logs, but their payloads carry the reports' personal data.

Registered with ``compliance.registry.register_retention_handler`` (a delivery cannot be found by person: its body
is encrypted and has no blind index, so it has no part in the rights-request workflow). A delivery goes once it is
over (delivered, or given up as a dead letter) and older than the cut-off; one still pending or retrying stays.

A delivery about a call under a legal hold stays. The call's id is inside the encrypted body, so when the tenant
has held calls each candidate is decrypted to find it, a chunk at a time; without held calls nothing is decrypted.
"""

from __future__ import annotations

import datetime
import json

from django.db.models import QuerySet

from tenants.models import Tenant

from .models import WebhookDelivery

TECHNICAL_LOGS = "technical_logs"  # compliance.models.RetentionCategory.TECHNICAL_LOGS
OVER = (WebhookDelivery.Status.SUCCEEDED, WebhookDelivery.Status.DEAD)
SCAN_CHUNK = 1000


def _call_id(payload: str) -> str | None:
    """The call a delivery is about (call.completed, report.ready), or None."""
    try:
        data = json.loads(payload).get("data")
    except (ValueError, AttributeError):
        return None
    return data.get("call_id") if isinstance(data, dict) else None


def _expired(tenant: Tenant, cutoff: datetime.datetime) -> QuerySet:
    return WebhookDelivery.objects.filter(tenant=tenant, status__in=OVER, created_at__lt=cutoff).order_by()


def _scan(tenant: Tenant, cutoff: datetime.datetime, held, want: int | None) -> tuple[list, int]:
    """Walk the expired deliveries in id order, decrypting each; return the ids of up to ``want`` (None: all) that
    no hold covers, and how many held ones were passed on the way."""
    free, kept, last = [], 0, None
    rows = _expired(tenant, cutoff).order_by("pk")
    while True:
        page = rows.filter(pk__gt=last) if last is not None else rows
        chunk = list(page.values_list("pk", "payload")[:SCAN_CHUNK])
        for pk, payload in chunk:
            if held.covers_call(_call_id(payload)):
                kept += 1
            elif want is None or len(free) < want:
                free.append(pk)
        if len(chunk) < SCAN_CHUNK or (want is not None and len(free) >= want):
            return free, kept
        last = chunk[-1][0]


class WebhooksRetention:
    """Webhook deliveries, in the technical logs."""

    name = "webhooks"
    retention_categories = (TECHNICAL_LOGS,)

    def purge(self, tenant: Tenant, category: str, *, cutoff: datetime.datetime, batch_size: int,
              held) -> tuple[int, int]:
        if not held.call_ids:
            ids, kept = list(_expired(tenant, cutoff).values_list("pk", flat=True)[:batch_size]), 0
        else:
            ids, kept = _scan(tenant, cutoff, held, batch_size)
        _total, by_model = WebhookDelivery.objects.filter(pk__in=ids).delete() if ids else (0, {})
        return by_model.get(WebhookDelivery._meta.label, 0), kept

    def purgeable(self, tenant: Tenant, category: str, *, cutoff: datetime.datetime, held) -> tuple[int, int]:
        if not held.call_ids:
            return _expired(tenant, cutoff).count(), 0
        ids, kept = _scan(tenant, cutoff, held, None)
        return len(ids), kept
