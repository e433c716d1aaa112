"""Celery tasks of the webhooks app. They take ids, re-read inside the tenant's scope, and call a service."""

from celery import shared_task
from django.utils import timezone

from tenants.tasks import tenant_task

from . import selectors, services
from .models import EmailNotification, WebhookDelivery
from .notifications import email_compose


@tenant_task(name="webhooks.deliver")
def webhook_deliver(tenant, delivery_id: str):
    """One attempt of one delivery (a no-op for a delivery that is gone, finished, or not due yet)."""
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None:
        return None
    return services.delivery_attempt(delivery=delivery).status


@shared_task(name="webhooks.deliver_due")
def webhooks_deliver_due():
    """Every minute: queue the deliveries whose attempt is due, in case a retry's countdown task was lost."""
    due = selectors.due_deliveries(now=timezone.now())
    for tenant_id, delivery_id in due:
        webhook_deliver.delay(tenant_id, str(delivery_id))
    return len(due)


@tenant_task(name="webhooks.send_email")
def webhook_email_send(tenant, notification_id: int, event: str, data: dict, link: str):
    """E-mail one subscribed address (a no-op when the address was removed or paused meanwhile)."""
    notification = EmailNotification.objects.filter(pk=notification_id, active=True).first()
    if notification is None:
        return None
    email_compose(tenant=tenant, notification=notification, event=event, data=data, link=link).send()
    return notification.email
