"""Mailings: one announcement to many people, each told exactly once, sent by Celery.

``mailing_create`` records the message and its recipients (every active customer's DPO and owners, and, when asked,
the confirmed subscribers) in one transaction, then queues ``subprocessors.mailing_send``. Each recipient row is
claimed with a conditional UPDATE before its e-mail goes out, so a task run twice, or two workers at once, never
send the same e-mail twice. Templates live under ``templates/subprocessors/emails/<template>`` (``_subject.txt``
and ``.txt``); the context is plain JSON, rendered in the recipient's language, and never holds personal data.
"""

from __future__ import annotations

import datetime
import logging
from functools import partial

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from tenants.crypto import email_index, normalize_email
from tenants.models import Membership, Tenant, User
from tenants.roles import Role
from tenants.scope import tenant_scope

from .models import Mailing, MailingRecipient, Subscriber

log = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "subprocessors.unsubscribe"
CLAIM_TIMEOUT = datetime.timedelta(minutes=10)  # a claim older than this (a crashed worker) may be taken again


def tenant_recipients(tenant: Tenant) -> list[tuple[str, str]]:
    """(address, language) of the tenant's DPO address and its owner and DPO members."""
    with tenant_scope(tenant):
        addresses = set(Membership.objects.filter(role__in=[Role.OWNER, Role.DPO])
                        .values_list("user__email", flat=True))
    if tenant.dpo_email:
        addresses.add(normalize_email(tenant.dpo_email))
    languages = dict(User.objects.filter(email__in=addresses).values_list("email", "language"))
    return [(address, languages.get(address) or settings.LANGUAGE_CODE) for address in sorted(addresses)]


def customer_recipients() -> list[tuple[str, str, Tenant]]:
    """(address, language, tenant) for each active customer's DPO address and its owner and DPO members."""
    return [(address, language, tenant)
            for tenant in Tenant.objects.filter(status=Tenant.Status.ACTIVE).order_by("pk")
            for address, language in tenant_recipients(tenant)]


def mailings_send_pending() -> int:
    """Send what earlier runs could not (an SMTP failure, a crashed worker); return how many went out."""
    pending = Mailing.objects.filter(recipients__sent_at__isnull=True).distinct()
    return sum(mailing_send(mailing=found) for found in pending)


def unsubscribe_url(subscriber: Subscriber) -> str:
    token = signing.dumps(subscriber.pk, salt=UNSUBSCRIBE_SALT)
    return settings.CALLKOM_PUBLIC_URL + reverse("subprocessors-unsubscribe", args=[token])


def unsubscribe_token_subscriber(token: str) -> Subscriber | None:
    try:
        pk = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    return Subscriber.objects.filter(pk=pk).first()


@transaction.atomic
def mailing_create(*, key: str, template: str, context: dict, subscribers: bool = True) -> Mailing | None:
    """Record a mailing to the customers (and the subscribers) and queue it; None if ``key`` was mailed already."""
    if Mailing.objects.filter(key=key).exists():
        return None
    try:
        with transaction.atomic():
            mailing = Mailing.objects.create(key=key, template=template, context=context)
    except IntegrityError:  # created meanwhile by a concurrent caller
        return None
    seen = set()
    rows = []
    for address, language, tenant in customer_recipients():
        index = email_index(address)
        if index not in seen:
            seen.add(index)
            rows.append(MailingRecipient(mailing=mailing, address=address, address_index=index, language=language,
                                         source=MailingRecipient.Source.CUSTOMER, tenant=tenant))
    if subscribers:
        for subscriber in Subscriber.objects.filter(confirmed_at__isnull=False, unsubscribed_at__isnull=True):
            if subscriber.email_index not in seen:
                seen.add(subscriber.email_index)
                rows.append(MailingRecipient(mailing=mailing, address=subscriber.email,
                                             address_index=subscriber.email_index, language=subscriber.language,
                                             source=MailingRecipient.Source.SUBSCRIBER, subscriber=subscriber))
    MailingRecipient.objects.bulk_create(rows)
    transaction.on_commit(partial(_queue, mailing.pk), robust=True)
    return mailing


def _queue(mailing_id: int) -> None:
    from .tasks import mailing_send

    mailing_send.delay(mailing_id)


def mailing_send(*, mailing: Mailing) -> int:
    """Send every recipient not sent yet; return how many e-mails went out in this run."""
    sent = 0
    now = timezone.now()
    pending = (MailingRecipient.objects.filter(mailing=mailing, sent_at__isnull=True)
               .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_TIMEOUT))
               .select_related("subscriber").order_by("pk"))
    for recipient in pending:
        claimed = (MailingRecipient.objects.filter(pk=recipient.pk, sent_at__isnull=True)
                   .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_TIMEOUT))
                   .update(claimed_at=timezone.now()))
        if not claimed:
            continue  # another worker has it
        if recipient.subscriber is not None and not recipient.subscriber.active:
            MailingRecipient.objects.filter(pk=recipient.pk).delete()  # left before it went out: nothing to send
            continue
        try:
            _message(mailing, recipient).send()
        except Exception as error:  # noqa: BLE001 - an SMTP failure is retried on the next run
            log.warning("mailing %s to recipient %s failed: %s", mailing.key, recipient.pk, type(error).__name__)
            MailingRecipient.objects.filter(pk=recipient.pk).update(claimed_at=None, error=type(error).__name__)
            continue
        MailingRecipient.objects.filter(pk=recipient.pk).update(sent_at=timezone.now(), error="")
        sent += 1
    return sent


def _message(mailing: Mailing, recipient: MailingRecipient) -> EmailMessage:
    context = dict(mailing.context)
    headers = {}
    if recipient.subscriber is not None:
        url = unsubscribe_url(recipient.subscriber)
        context["unsubscribe_url"] = url
        # RFC 8058 one-click unsubscribe: mail clients POST to the link.
        headers = {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    with translation.override(recipient.language):
        base = f"subprocessors/emails/{mailing.template}"
        subject = " ".join(render_to_string(f"{base}_subject.txt", context).split())
        body = render_to_string(f"{base}.txt", context)
    return EmailMessage(subject, body, to=[recipient.address], reply_to=[settings.PRIVACY_CONTACT_EMAIL],
                        headers=headers)
