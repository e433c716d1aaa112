"""Retention of the calls app's data, for ``compliance.retention`` through the registry (see ``calls.personal_data``).

A call's recording, transcript and report age from the end of the call (from its creation when it never ended: it
failed to start, or its worker died). The technical logs of outbound calling (dialer skips, contact imports) are
the campaigns app's (``campaigns.retention``).

Files go before their rows, inside the batch's transaction: if the transaction then fails, the rows stay and the
next batch deletes them (a missing file is no error), whereas deleting files after the commit would leave a file
behind for good when the process dies in between, with nothing left pointing at it.

A call under a legal hold, by its id or through a person held (``Holds.call_ids`` holds both), keeps all its data.
Every query runs under the tenant's scope.
"""

from __future__ import annotations

import datetime

from django.core.files.storage import default_storage
from django.db.models import Q, QuerySet

from compliance.models import RetentionCategory
from compliance.registry import Holds
from tenants.models import Tenant

from .models import Call, CallReport, Contact, Recording, Utterance

C = RetentionCategory
CALL_DATA = {C.RECORDINGS: Recording, C.TRANSCRIPTS: Utterance, C.REPORTS: CallReport}


def _ended_before(cutoff: datetime.datetime) -> Q:
    return Q(ended_at__lt=cutoff) | Q(ended_at__isnull=True, created_at__lt=cutoff)


def split_held(rows: QuerySet, held_filter: Q | None) -> tuple[QuerySet, QuerySet]:
    """(rows to purge, rows kept under a hold); the default ordering is dropped: a batch needs no sort."""
    rows = rows.order_by()
    if held_filter is None:
        return rows, rows.none()
    return rows.exclude(held_filter), rows.filter(held_filter)


def _call_data(model, tenant: Tenant, cutoff: datetime.datetime, held: Holds) -> tuple[QuerySet, QuerySet]:
    ended = Call.objects.filter(_ended_before(cutoff), tenant=tenant).values("pk")
    rows = model.objects.filter(tenant=tenant, call_id__in=ended)
    return split_held(rows, Q(call_id__in=held.call_ids) if held.call_ids else None)


def delete_batch(rows: QuerySet, batch_size: int, *, file_field: str = "") -> int:
    """Delete up to ``batch_size`` of the rows (their files first); return how many rows went.

    Rows without files go in one statement (``DELETE … WHERE id IN (SELECT id … LIMIT n)``): no ids travel to Python
    and back, which is most of the cost of a batch."""
    if not file_field:
        return _deleted(rows.model.objects.filter(pk__in=rows.values("pk")[:batch_size]))
    batch = list(rows.values_list("pk", file_field)[:batch_size])
    for _pk, path in batch:
        if path:
            default_storage.delete(path)
    return _deleted(rows.model.objects.filter(pk__in=[pk for pk, _path in batch])) if batch else 0


def _deleted(queryset: QuerySet) -> int:
    _total, by_model = queryset.delete()
    return by_model.get(queryset.model._meta.label, 0)


class CallsRetention:
    """The retention half of the calls app's handler (mixed into ``calls.personal_data.CallsPersonalData``)."""

    retention_categories = (C.RECORDINGS, C.TRANSCRIPTS, C.REPORTS)

    def purge(self, tenant: Tenant, category: str, *, cutoff: datetime.datetime, batch_size: int,
              held: Holds) -> tuple[int, int]:
        rows, kept = _call_data(CALL_DATA[category], tenant, cutoff, held)
        file_field = "path" if category == C.RECORDINGS else ""
        return delete_batch(rows, batch_size, file_field=file_field), kept.count()

    def purgeable(self, tenant: Tenant, category: str, *, cutoff: datetime.datetime,
                  held: Holds) -> tuple[int, int]:
        rows, kept = _call_data(CALL_DATA[category], tenant, cutoff, held)
        return rows.count(), kept.count()

    def held_call_ids(self, tenant: Tenant, *, phone_indexes: frozenset[str],
                      email_indexes: frozenset[str]) -> set[str]:
        """The calls of the held people's contacts, and those whose report names them."""
        person = Q(phone_index__in=phone_indexes) | Q(email_index__in=email_indexes)
        contacts = Contact.objects.filter(person, tenant=tenant).values("pk")
        reported = CallReport.objects.filter(person, tenant=tenant).values("call_id")
        calls = Call.objects.filter(Q(contact__in=contacts) | Q(pk__in=reported), tenant=tenant)
        return {str(pk) for pk in calls.values_list("pk", flat=True)}
