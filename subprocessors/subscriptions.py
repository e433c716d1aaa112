"""Subscriptions to the register's change notices: double opt-in, confirmation and unsubscription.

Someone enters an e-mail address on the public page; a ``Subscriber`` row is created (or reused) and a confirmation
link is e-mailed. Only a POST on that link (a person pressing the button, not a mail scanner prefetching the link)
confirms. The public answer is the same whether the address was new, pending or already subscribed. Addresses are
personal data: they are stored encrypted, found through their blind index, and never logged.
"""

from __future__ import annotations

import datetime
import logging
from functools import partial

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from tenants.crypto import email_index, normalize_email

from .models import Subscriber

log = logging.getLogger(__name__)

CONFIRM_SALT = "subprocessors.confirm"
CONFIRM_MAX_AGE = datetime.timedelta(hours=48)
# A subscriber is sent at most one confirmation e-mail in this time, however often the form is posted.
RESEND_AFTER = datetime.timedelta(minutes=10)


def language_code(language: str | None) -> str:
    """One of settings.LANGUAGES for a language tag such as ``fr-ca`` (the default one when unknown)."""
    code = (language or "").split("-")[0].lower()
    return code if code in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def confirm_token(subscriber: Subscriber) -> str:
    return signing.dumps(subscriber.pk, salt=CONFIRM_SALT)


def confirm_url(subscriber: Subscriber) -> str:
    return settings.CALLKOM_PUBLIC_URL + reverse("subprocessors-subscribe-confirm", args=[confirm_token(subscriber)])


def confirm_token_subscriber(token: str) -> Subscriber | None:
    """The subscriber of a confirmation link, or None when the link is forged, damaged or older than 48 hours."""
    try:
        pk = signing.loads(token, salt=CONFIRM_SALT, max_age=CONFIRM_MAX_AGE)
    except signing.BadSignature:  # SignatureExpired is a BadSignature
        return None
    if not isinstance(pk, int):
        return None
    return Subscriber.objects.filter(pk=pk).first()


@transaction.atomic
def subscription_request(*, email: str, language: str) -> bool:
    """Record a wish to receive change notices and e-mail the confirmation link (after the commit).

    Return whether a confirmation e-mail was queued: not for an active subscriber, nor when one was sent less than
    ten minutes ago. Callers must not tell the visitor which case applied."""
    index = email_index(email)
    subscriber = Subscriber.objects.select_for_update().filter(email_index=index).first()
    if subscriber is None:
        try:
            with transaction.atomic():
                subscriber = Subscriber.objects.create(email=normalize_email(email), email_index=index,
                                                       language=language_code(language))
        except IntegrityError:  # the same address, posted twice at once
            subscriber = Subscriber.objects.select_for_update().get(email_index=index)
    if subscriber.active:
        return False
    now = timezone.now()
    if subscriber.confirmation_sent_at is not None and now - subscriber.confirmation_sent_at < RESEND_AFTER:
        return False
    subscriber.language = language_code(language)
    subscriber.confirmation_sent_at = now
    subscriber.save(update_fields=["language", "confirmation_sent_at"])
    transaction.on_commit(partial(_send, _confirmation_message(subscriber)))
    return True


def _send(message: EmailMessage) -> None:
    """Send after the commit; a failure is logged by its type only (an SMTP error may quote the address)."""
    try:
        message.send()
    except Exception as error:  # noqa: BLE001 - the visitor may ask again after RESEND_AFTER
        log.warning("subscription confirmation e-mail failed: %s", type(error).__name__)


def _confirmation_message(subscriber: Subscriber) -> EmailMessage:
    context = {
        "confirm_url": confirm_url(subscriber),
        "hours": int(CONFIRM_MAX_AGE.total_seconds() // 3600),
        "register_url": settings.CALLKOM_PUBLIC_URL + reverse("subprocessors"),
        "privacy_email": settings.PRIVACY_CONTACT_EMAIL,
    }
    with translation.override(subscriber.language):
        subject = " ".join(render_to_string("subprocessors/emails/subscribe_confirm_subject.txt", context).split())
        body = render_to_string("subprocessors/emails/subscribe_confirm.txt", context)
    return EmailMessage(subject, body, to=[subscriber.email], reply_to=[settings.PRIVACY_CONTACT_EMAIL])


@transaction.atomic
def subscription_confirm(*, subscriber: Subscriber) -> Subscriber:
    """Confirm a subscription (again, after an unsubscription); confirming twice changes nothing."""
    subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
    if not subscriber.active:
        subscriber.confirmed_at = timezone.now()
        subscriber.unsubscribed_at = None
        subscriber.save(update_fields=["confirmed_at", "unsubscribed_at"])
    return subscriber


@transaction.atomic
def subscription_cancel(*, subscriber: Subscriber) -> Subscriber:
    """Unsubscribe: no further mailing goes to this address (those already queued skip it when sent)."""
    subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
    if subscriber.unsubscribed_at is None:
        subscriber.unsubscribed_at = timezone.now()
        subscriber.save(update_fields=["unsubscribed_at"])
    return subscriber


@transaction.atomic
def subscription_purge_unconfirmed(*, now: datetime.datetime | None = None) -> int:
    """Delete the subscribers who never confirmed and whose last link has expired: they never consented, so their
    address is not kept. Return how many were deleted. (Meant for a periodic task.)"""
    cutoff = (now or timezone.now()) - CONFIRM_MAX_AGE
    stale = Subscriber.objects.filter(confirmed_at__isnull=True).exclude(confirmation_sent_at__gte=cutoff)
    stale = stale.filter(created_at__lt=cutoff)
    _, deleted = stale.delete()
    return deleted.get(Subscriber._meta.label, 0)
