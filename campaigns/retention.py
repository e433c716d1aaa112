"""Retention of the campaigns app's technical logs, for ``compliance.retention`` through the registry: the dialer's
skips (they name the contact skipped) and the contact imports no worker is running any more, with the upload file a
failed or abandoned import left behind (see ``calls.retention`` for why files go before their rows).

A skip whose contact is a person held under a legal hold stays. Every query runs under the tenant's scope.
"""

from __future__ import annotations

import datetime

from django.db.models import Q, QuerySet

from calls.retention import delete_batch, split_held
from compliance.models import RetentionCategory
from compliance.registry import Holds
from tenants.models import Tenant

from .models import ContactImport, DialerSkip

C = RetentionCategory
IMPORT_RUNNING = (ContactImport.Status.VALIDATING, ContactImport.Status.IMPORTING)


def _skips(tenant: Tenant, cutoff: datetime.datetime, held: Holds) -> tuple[QuerySet, QuerySet]:
    person = Q()
    if held.phone_indexes:
        person |= Q(target__contact__phone_index__in=held.phone_indexes)
    if held.email_indexes:
        person |= Q(target__contact__email_index__in=held.email_indexes)
    return split_held(DialerSkip.objects.filter(tenant=tenant, at__lt=cutoff), person or None)


def _imports(tenant: Tenant, cutoff: datetime.datetime) -> QuerySet:
    """Imports over (or abandoned while waiting for the user) before the cut-off; an import file names no one the
    holds could be matched with."""
    ended = Q(finished_at__lt=cutoff) | Q(finished_at__isnull=True, created_at__lt=cutoff)
    return ContactImport.objects.filter(ended, tenant=tenant).exclude(status__in=IMPORT_RUNNING).order_by()


class CampaignsRetention:
    """The retention half of the campaigns app's handler (mixed into ``campaigns.personal_data``)."""

    retention_categories = (C.TECHNICAL_LOGS,)

    def purge(self, tenant: Tenant, category: str, *, cutoff: datetime.datetime, batch_size: int,
              held: Holds) -> tuple[int, int]:
        skips, kept = _skips(tenant, cutoff, held)
        deleted = (delete_batch(skips, batch_size)
                   or delete_batch(_imports(tenant, cutoff), batch_size, file_field="path"))
        return deleted, kept.count()

    def purgeable(self, tenant: Tenant, category: str, *, cutoff: datetime.datetime,
                  held: Holds) -> tuple[int, int]:
        skips, kept = _skips(tenant, cutoff, held)
        return skips.count() + _imports(tenant, cutoff).count(), kept.count()

    def held_call_ids(self, tenant: Tenant, *, phone_indexes: frozenset[str],
                      email_indexes: frozenset[str]) -> set[str]:
        """None of its own: a held person's calls are the calls app's to find."""
        return set()
