"""Writes of the webhooks app: endpoints and their secrets, events, delivery attempts, redelivery, e-mail addresses.

An event becomes one ``WebhookDelivery`` per subscribed endpoint. Its body is serialised once and stored as is, so
every attempt and every manual redelivery sends the same bytes with the same ``Callkom-Delivery`` id; only the
signature's timestamp is fresh. Attempts claim the delivery with a conditional UPDATE (a status and due-time
check that the database applies atomically), so two workers, or a retry and the beat task, never send it twice
at once.
"""

from __future__ import annotations

import datetime
import http.client
import json
import random
import uuid
from functools import partial
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from tenants.models import Tenant, User
from tenants.scope import tenant_scope

from . import signing, transport
from .models import EmailNotification, Event, WebhookDelivery, WebhookEndpoint

# Waits after the 1st, 2nd, … failed attempt (seconds, ±10 % jitter); after the last one the delivery is dead.
RETRY_DELAYS_S = (30, 120, 480, 1800, 7200, 21600, 43200, 86400)
MAX_ATTEMPTS = len(RETRY_DELAYS_S) + 1
# How long a claimed attempt holds its delivery: longer than the request timeout, so that the beat task only
# takes over an attempt whose worker died.
LEASE = datetime.timedelta(seconds=transport.REQUEST_TIMEOUT_S * 6)
PREVIOUS_SECRET_GRACE = datetime.timedelta(hours=24)
SUBSCRIBABLE_EVENTS = [event for event in Event.values if event != Event.PING]

Status = WebhookDelivery.Status


# --- endpoints ------------------------------------------------------------------------------------------------


def _insecure_allowed() -> bool:
    return settings.DEBUG or settings.WEBHOOKS_ALLOW_INSECURE


def _validate_url(url: str) -> str:
    """Refuse a URL that is malformed, in clear text, carries credentials or points at a private address.

    A host that does not resolve yet is accepted (its DNS may come later); every delivery checks it again.
    """
    url = (url or "").strip()
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise ValidationError({"url": _("Enter a valid http(s) URL.")})
    parts = urlsplit(url)
    if parts.scheme != "https" and not _insecure_allowed():
        raise ValidationError({"url": _("Use an https:// URL: deliveries carry personal data.")})
    if parts.username or parts.password:
        raise ValidationError({"url": _("Put no user name or password in the URL; check the signature instead.")})
    try:
        transport.checked_addresses(parts.hostname, parts.port or transport.default_port(parts.scheme))
    except transport.UnsafeAddress:
        raise ValidationError({"url": _("This address is on a private network; use a public address.")})
    except UnicodeError:  # a name that IDNA cannot encode will never resolve
        raise ValidationError({"url": _("Enter a valid http(s) URL.")})
    except OSError:
        pass
    return url


def _clean_events(events: list[str]) -> list[str]:
    chosen = set(events or ())
    if not chosen:
        raise ValidationError({"events": _("Choose at least one event.")})
    unknown = chosen - set(SUBSCRIBABLE_EVENTS)
    if unknown:
        raise ValidationError({"events": _("Unknown events: %s") % ", ".join(sorted(unknown))})
    return [event for event in SUBSCRIBABLE_EVENTS if event in chosen]


@transaction.atomic
def endpoint_create(*, tenant: Tenant, url: str, events: list[str], description: str = "", active: bool = True,
                    created_by: User | None = None) -> WebhookEndpoint:
    """Create an endpoint with a new secret (the portal shows it once, right after this)."""
    endpoint = WebhookEndpoint(tenant=tenant, url=_validate_url(url), events=_clean_events(events),
                               description=description, active=active, secret=signing.new_secret(),
                               created_by=created_by)
    endpoint.full_clean()
    endpoint.save()
    return endpoint


@transaction.atomic
def endpoint_update(*, endpoint: WebhookEndpoint, url: str, events: list[str], description: str,
                    active: bool) -> WebhookEndpoint:
    endpoint.url = _validate_url(url)
    endpoint.events = _clean_events(events)
    endpoint.description = description
    endpoint.active = active
    endpoint.full_clean()
    endpoint.save()
    return endpoint


@transaction.atomic
def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Delete the endpoint and its deliveries (their payloads hold personal data that has no other use)."""
    endpoint.delete()


@transaction.atomic
def endpoint_rotate_secret(*, endpoint: WebhookEndpoint, now: datetime.datetime | None = None) -> WebhookEndpoint:
    """Give the endpoint a new secret; the old one keeps signing alongside for a day, so the receiver can switch
    without losing a delivery."""
    now = now or timezone.now()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_until = now + PREVIOUS_SECRET_GRACE
    endpoint.secret = signing.new_secret()
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_until"])
    return endpoint


def signing_secrets(endpoint: WebhookEndpoint, now: datetime.datetime | None = None) -> list[str]:
    """The secrets that sign a delivery now: the current one, then the previous one during its grace period."""
    now = now or timezone.now()
    secrets = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_until and endpoint.previous_secret_until > now:
        secrets.append(endpoint.previous_secret)
    return secrets


# --- events ---------------------------------------------------------------------------------------------------


def _queue(delivery: WebhookDelivery) -> None:
    from .tasks import webhook_deliver

    webhook_deliver.delay(delivery.tenant_id, str(delivery.pk))


def _delivery_create(*, tenant: Tenant, endpoint: WebhookEndpoint, event: str, data: dict) -> WebhookDelivery:
    """Serialise the body once, store it, and send it after the transaction commits."""
    delivery_id, now = uuid.uuid4(), timezone.now()
    envelope = {"id": str(delivery_id), "type": event, "created": now.isoformat(timespec="seconds"),
                "tenant": tenant.slug, "data": data}
    body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
    delivery = WebhookDelivery.objects.create(id=delivery_id, tenant=tenant, endpoint=endpoint, event=event,
                                              payload=body, created_at=now, next_attempt_at=now)
    transaction.on_commit(partial(_queue, delivery))
    return delivery


def _email_subscribers_notify(*, tenant: Tenant, event: str, data: dict) -> None:
    """Queue one e-mail per subscribed address. The event's data travels (through the task broker) only to the
    addresses that chose to receive the content; the others get a link to the portal."""
    from .tasks import webhook_email_send

    link = str(data.get("portal_url") or "")
    for notification in EmailNotification.objects.filter(tenant=tenant, active=True):
        if event in notification.events:
            content = data if notification.include_report else {}
            transaction.on_commit(partial(webhook_email_send.delay, tenant.pk, notification.pk, event, content, link))


def event_emit(*, tenant: Tenant, event: str, data: dict) -> list[WebhookDelivery]:
    """Tell the tenant's systems that something happened: one delivery per active endpoint subscribed to the event,
    and an e-mail to each subscribed address. Nothing leaves before the surrounding transaction commits."""
    if event not in SUBSCRIBABLE_EVENTS:
        raise ValueError(f"Unknown webhook event {event!r}.")
    data = json.loads(json.dumps(data, cls=DjangoJSONEncoder))  # plain JSON values, for the body and the broker
    with tenant_scope(tenant), transaction.atomic():
        endpoints = [e for e in WebhookEndpoint.objects.filter(tenant=tenant, active=True) if event in e.events]
        deliveries = [_delivery_create(tenant=tenant, endpoint=e, event=event, data=data) for e in endpoints]
        _email_subscribers_notify(tenant=tenant, event=event, data=data)
    return deliveries


@transaction.atomic
def endpoint_ping(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Send a test delivery (event ``ping``), whatever the endpoint subscribed to and even while it is inactive."""
    data = {"endpoint_id": endpoint.pk, "message": "Test delivery from CALLKOM."}
    return _delivery_create(tenant=endpoint.tenant, endpoint=endpoint, event=Event.PING, data=data)


# --- attempts -------------------------------------------------------------------------------------------------


def retry_delay_s(attempts: int) -> int:
    """Seconds to wait after the given number of failed attempts: growing fast, with jitter so that the retries
    of many deliveries to one recovering receiver do not all arrive in the same second."""
    base = RETRY_DELAYS_S[min(attempts, len(RETRY_DELAYS_S)) - 1]
    return round(base * random.uniform(0.9, 1.1))


def _claim(delivery: WebhookDelivery, now: datetime.datetime) -> bool:
    """Take a due delivery for one attempt; False when it is not due, finished, or another worker holds it."""
    claimed = WebhookDelivery.objects.filter(
        pk=delivery.pk, status__in=[Status.PENDING, Status.RETRYING], next_attempt_at__lte=now,
    ).update(attempts=F("attempts") + 1, next_attempt_at=now + LEASE)
    return claimed == 1


def _send(delivery: WebhookDelivery) -> tuple[int | None, str]:
    """POST the stored body, freshly signed; return (HTTP status or None, error text)."""
    endpoint = delivery.endpoint
    body = delivery.payload.encode("utf-8")
    headers = signing.headers(delivery_id=str(delivery.pk), event=delivery.event,
                              secrets=signing_secrets(endpoint), body=body)
    try:
        status = transport.post(endpoint.url, body=body, headers=headers)
    except (OSError, ValueError, http.client.HTTPException, transport.UnsafeAddress) as error:
        return None, f"{type(error).__name__}: {error}"
    return status, "" if 200 <= status < 300 else f"HTTP {status}"


@transaction.atomic
def _record(delivery: WebhookDelivery, *, status_code: int | None, error: str, final: bool = False
            ) -> WebhookDelivery:
    """Store the outcome: delivered, or a retry after the backoff, or dead after the last attempt (a ping, being a
    test, gets one attempt only)."""
    now = timezone.now()
    delivery.last_status_code, delivery.last_error = status_code, error[:300]
    if not error:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = Status.SUCCEEDED, now, None
    elif final or delivery.attempts >= MAX_ATTEMPTS or delivery.event == Event.PING:
        delivery.status, delivery.next_attempt_at = Status.DEAD, None
    else:
        delay = retry_delay_s(delivery.attempts)
        delivery.status, delivery.next_attempt_at = Status.RETRYING, now + datetime.timedelta(seconds=delay)
        transaction.on_commit(partial(_queue_retry, delivery, delay))
    delivery.save(update_fields=["status", "last_status_code", "last_error", "delivered_at", "next_attempt_at"])
    return delivery


def _queue_retry(delivery: WebhookDelivery, delay: int) -> None:
    from .tasks import webhook_deliver

    webhook_deliver.apply_async((delivery.tenant_id, str(delivery.pk)), countdown=delay)


def delivery_attempt(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Make one attempt if the delivery is due and free; otherwise leave it as it is (a duplicate task, a retry
    that the beat task already made, a delivery that succeeded meanwhile)."""
    if not _claim(delivery, timezone.now()):
        delivery.refresh_from_db()
        return delivery
    delivery.refresh_from_db()
    if not delivery.endpoint.active and delivery.event != Event.PING:
        # Not sent; dead at once, so that it can be redelivered by hand once the endpoint is active again.
        return _record(delivery, status_code=None, error=_("The endpoint is inactive."), final=True)
    status_code, error = _send(delivery)
    return _record(delivery, status_code=status_code, error=error)


def delivery_redeliver(*, delivery: WebhookDelivery) -> bool:
    """Queue a dead delivery once more: same id, same body, signed anew when sent.

    Idempotent: a delivery that succeeded, or that is already queued (a second click), is left alone and False
    comes back; the caller tells the user which from ``delivery.status``.
    """
    with transaction.atomic():
        queued = WebhookDelivery.objects.filter(pk=delivery.pk, status=Status.DEAD).update(
            status=Status.PENDING, next_attempt_at=timezone.now())
        if queued:
            transaction.on_commit(partial(_queue, delivery))
    delivery.refresh_from_db()
    return bool(queued)


# --- e-mail addresses -----------------------------------------------------------------------------------------


def _ensure_new_address(notification: EmailNotification) -> None:
    taken = EmailNotification.objects.filter(tenant_id=notification.tenant_id, email=notification.email)
    if taken.exclude(pk=notification.pk).exists():
        raise ValidationError({"email": _("This address is already subscribed.")})


@transaction.atomic
def email_notification_create(*, tenant: Tenant, email: str, events: list[str], include_report: bool = False,
                              active: bool = True) -> EmailNotification:
    notification = EmailNotification(tenant=tenant, email=email.strip().lower(), events=_clean_events(events),
                                     include_report=include_report, active=active)
    _ensure_new_address(notification)
    notification.full_clean()
    notification.save()
    return notification


@transaction.atomic
def email_notification_update(*, notification: EmailNotification, email: str, events: list[str],
                              include_report: bool, active: bool) -> EmailNotification:
    notification.email = email.strip().lower()
    notification.events = _clean_events(events)
    notification.include_report = include_report
    notification.active = active
    _ensure_new_address(notification)
    notification.full_clean()
    notification.save()
    return notification


@transaction.atomic
def email_notification_delete(*, notification: EmailNotification) -> None:
    notification.delete()
