"""Celery tasks of the subprocessors app: they take ids, re-read, and call a service."""

from celery import shared_task

from . import mailing, notices, subscriptions
from .models import Mailing


@shared_task(name="subprocessors.mailing_send")
def mailing_send(mailing_id: int):
    """Send a mailing's pending e-mails (running it again sends nobody twice)."""
    found = Mailing.objects.filter(pk=mailing_id).first()
    return None if found is None else mailing.mailing_send(mailing=found)


@shared_task(name="subprocessors.notices_apply_due")
def notices_apply_due():
    """Daily (beat): put into effect every announced change notice whose date has come; returns how many did."""
    return notices.notices_apply_due()


@shared_task(name="subprocessors.mailings_send_pending")
def mailings_send_pending():
    """Every 15 minutes (beat): retry the notice e-mails an SMTP failure or a crashed worker left unsent."""
    return mailing.mailings_send_pending()


@shared_task(name="subprocessors.subscriptions_purge")
def subscriptions_purge():
    """Daily (beat): forget the addresses that never confirmed their subscription."""
    return subscriptions.subscription_purge_unconfirmed()
