"""Reads of the webhooks app. Tenant-owned queries run inside the caller's tenant scope."""

import datetime

from django.db.models import Count, Q

from tenants.models import Tenant
from tenants.scope import all_tenants_scope

from .models import EmailNotification, WebhookDelivery, WebhookEndpoint

Status = WebhookDelivery.Status
DUE_BATCH = 500


def endpoints_of(tenant):
    """The tenant's endpoints, each with how many of its deliveries are retrying or dead."""
    return WebhookEndpoint.objects.filter(tenant=tenant).annotate(
        retrying_count=Count("deliveries", filter=Q(deliveries__status=Status.RETRYING)),
        dead_count=Count("deliveries", filter=Q(deliveries__status=Status.DEAD)),
    ).order_by("created_at")


def deliveries_of(endpoint, *, status: str = "", limit: int = 100):
    deliveries = WebhookDelivery.objects.filter(tenant_id=endpoint.tenant_id, endpoint=endpoint)
    if status:
        deliveries = deliveries.filter(status=status)
    return deliveries.order_by("-created_at")[:limit]


def dead_letters_of(tenant, *, limit: int = 200):
    """The deliveries that gave up, newest first: the list from which a person redelivers by hand."""
    return (WebhookDelivery.objects.filter(tenant=tenant, status=Status.DEAD).select_related("endpoint")
            .order_by("-created_at")[:limit])


def email_notifications_of(tenant):
    return EmailNotification.objects.filter(tenant=tenant).order_by("email")


def due_deliveries(*, now: datetime.datetime, limit: int = DUE_BATCH) -> list[tuple[int, str]]:
    """(tenant id, delivery id) of the pending or retrying deliveries whose next attempt has come, for active
    tenants only (a suspended tenant's deliveries wait)."""
    with all_tenants_scope("webhook retries"):
        due = WebhookDelivery.objects.filter(
            status__in=[Status.PENDING, Status.RETRYING], next_attempt_at__lte=now,
            tenant__status=Tenant.Status.ACTIVE,
        ).order_by("next_attempt_at").values_list("tenant_id", "id")[:limit]
        return list(due)
