"""Retention of the compliance app's own data: the AI call log and the files of closed rights requests.

Registered with ``registry.register_retention_handler`` (it finds no one by person, so it has no part in the
rights-request workflow). Every method runs under the tenant's scope, inside the batch's transaction.

- AI request payloads are blanked, the rows kept: the payload is outside the row hash, so the chain still
  verifies. The blank is written as a raw empty column rather than an encrypted empty string (the encrypted field
  reads either back as ""): that is what lets SQL skip the rows already blanked, so that a second run blanks nothing
  and the count means something. A row that never had a payload still holds an encrypted empty string, and is
  counted once, when its payload period ends.
- AI request metadata goes oldest first, strictly in the chain's order, and stops at the first row still in its
  period or under a hold: the chain can lose rows at its start only. The head keeps the last deleted row's hash
  (the anchor) and the number of rows pruned, so ``ai_log_chain_verify`` still proves what is left.
- A closed rights request's copy goes with its timeline, exports (and their files) and erasure log once nothing has
  happened on it for the period (five years by default: the limitation period). A copy under an active legal hold,
  or about a person held, stays; a released hold stays too (a hold is never deleted), without its link to the copy.
"""

from __future__ import annotations

import datetime

from django.core.files.storage import default_storage
from django.db import connection
from django.db.models import Max, Min, Q, QuerySet
from django.db.models.functions import Coalesce

from tenants.models import Tenant

from .models import (
    CLOSED_STATUSES,
    AIInvocation,
    AILogHead,
    ErasureLog,
    ExportFile,
    LegalHold,
    RetentionCategory,
    RoutedRequest,
)
from .registry import Holds

C = RetentionCategory


def _deleted(queryset: QuerySet) -> int:
    """Delete and return how many rows of the queryset's own model went (not the cascades)."""
    _total, by_model = queryset.delete()
    return by_model.get(queryset.model._meta.label, 0)


# AI log ----------------------------------------------------------------------------------------------------------

def _payloads(tenant: Tenant, cutoff: datetime.datetime, held: Holds) -> tuple[QuerySet, QuerySet]:
    rows = AIInvocation.objects.filter(tenant=tenant, started_at__lt=cutoff).exclude(payload="").order_by()
    if not held.call_ids:
        return rows, rows.none()
    return rows.exclude(call_id__in=held.call_ids), rows.filter(call_id__in=held.call_ids)


def _payloads_blank(tenant: Tenant, cutoff: datetime.datetime, batch_size: int, held: Holds) -> tuple[int, int]:
    rows, kept = _payloads(tenant, cutoff, held)
    ids = list(rows.values_list("pk", flat=True)[:batch_size])
    return (_blank(ids) if ids else 0), kept.count()


def _blank(ids: list[int]) -> int:
    """Empty the payload column of these rows. In SQL: the ORM hands every value, expressions included, to the
    encrypted field, which would store a token. "Still not blank" is checked again in the UPDATE, so that a
    concurrent run that blanked them first makes this one count nothing."""
    table = connection.ops.quote_name(AIInvocation._meta.db_table)
    placeholders = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET payload = '' WHERE id IN ({placeholders}) AND payload <> ''",  # noqa: S608
                       ids)
        return cursor.rowcount


def _metadata_prune(tenant: Tenant, cutoff: datetime.datetime, batch_size: int, held: Holds) -> tuple[int, int]:
    """Delete the chain's oldest rows up to the first one still in its period or held; move the anchor."""
    head = AILogHead.objects.select_for_update().filter(tenant=tenant).first()  # appends wait: the order holds
    if head is None:
        return 0, 0
    rows = AIInvocation.objects.filter(tenant=tenant).order_by("id")
    prefix, blocked_by_hold = [], False
    for pk, started_at, call_id, row_hash in rows.values_list("pk", "started_at", "call_id", "row_hash")[:batch_size]:
        if started_at >= cutoff:
            break
        if held.covers_call(call_id):
            blocked_by_hold = True
            break
        prefix.append((pk, row_hash))
    kept = rows.filter(started_at__lt=cutoff).count() - len(prefix) if blocked_by_hold else 0
    if not prefix:
        return 0, kept
    deleted = _deleted(AIInvocation.objects.filter(pk__in=[pk for pk, _hash in prefix]))
    head.anchor_hash, head.pruned = prefix[-1][1], head.pruned + deleted
    head.save(update_fields=["anchor_hash", "pruned"])
    return deleted, kept


def _metadata_preview(tenant: Tenant, cutoff: datetime.datetime, held: Holds) -> tuple[int, int]:
    rows = AIInvocation.objects.filter(tenant=tenant).order_by()
    stop = Q(started_at__gte=cutoff) | (Q(call_id__in=held.call_ids) if held.call_ids else Q(pk__in=[]))
    first_stop = rows.filter(stop).aggregate(first=Min("pk"))["first"]
    if first_stop is None:
        return rows.count(), 0
    blocker = rows.get(pk=first_stop)
    kept = (rows.filter(pk__gte=first_stop, started_at__lt=cutoff).count()
            if blocker.started_at < cutoff else 0)
    return rows.filter(pk__lt=first_stop).count(), kept


# Rights requests -------------------------------------------------------------------------------------------------

def _closed_copies(tenant: Tenant, cutoff: datetime.datetime, held: Holds) -> tuple[QuerySet, QuerySet]:
    """Copies closed, with nothing on their timeline since the cut-off; (to purge, kept under a hold)."""
    copies = (RoutedRequest.objects.filter(tenant=tenant, status__in=CLOSED_STATUSES).order_by()
              .annotate(last_activity=Coalesce(Max("events__at"), "routed_at")).filter(last_activity__lt=cutoff))
    active = LegalHold.objects.filter(tenant=tenant, released_at__isnull=True, routed__isnull=False)
    kept = Q(pk__in=active.values("routed_id"))
    if held.phone_indexes:
        kept |= Q(request__phone_index__in=held.phone_indexes)
    if held.email_indexes:
        kept |= Q(request__email_index__in=held.email_indexes)
    return copies.exclude(kept), copies.filter(kept)


def _copies_delete(tenant: Tenant, cutoff: datetime.datetime, batch_size: int, held: Holds) -> tuple[int, int]:
    copies, kept = _closed_copies(tenant, cutoff, held)
    ids = list(copies.values_list("pk", flat=True)[:batch_size])
    if ids:
        exports = ExportFile.objects.filter(tenant=tenant, routed__in=ids)
        for path in exports.filter(deleted_at__isnull=True).values_list("path", flat=True):
            default_storage.delete(path)  # before the rows: see calls.retention
        exports.delete()
        ErasureLog.objects.filter(tenant=tenant, routed__in=ids).delete()
        LegalHold.objects.filter(tenant=tenant, routed__in=ids).update(routed=None)  # released ones only here
    deleted = _deleted(RoutedRequest.objects.filter(pk__in=ids)) if ids else 0  # the timeline goes with it
    return deleted, kept.count()


class ComplianceRetention:
    """The AI call log and the rights-request files, for ``compliance.retention``."""

    name = "compliance"
    retention_categories = (C.AI_PAYLOADS, C.AI_METADATA, C.RIGHTS_FILES)

    def purge(self, tenant: Tenant, category: str, *, cutoff: datetime.datetime, batch_size: int,
              held: Holds) -> tuple[int, int]:
        if category == C.AI_PAYLOADS:
            return _payloads_blank(tenant, cutoff, batch_size, held)
        if category == C.AI_METADATA:
            return _metadata_prune(tenant, cutoff, batch_size, held)
        return _copies_delete(tenant, cutoff, batch_size, held)

    def purgeable(self, tenant: Tenant, category: str, *, cutoff: datetime.datetime,
                  held: Holds) -> tuple[int, int]:
        if category == C.AI_PAYLOADS:
            rows, kept = _payloads(tenant, cutoff, held)
        elif category == C.AI_METADATA:
            return _metadata_preview(tenant, cutoff, held)
        else:
            rows, kept = _closed_copies(tenant, cutoff, held)
        return rows.count(), kept.count()
