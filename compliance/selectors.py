"""Reads of the compliance app."""

import bisect
from dataclasses import dataclass

from django.core.validators import MaxValueValidator
from django.db.models import Case, Q, Value, When
from django.db.models.functions import Coalesce

from tenants.models import TenantSettings

from .chain import GENESIS, row_hash
from .models import (
    CLOSED_STATUSES,
    AIInvocation,
    AILogHead,
    ErasureLog,
    ExportFile,
    LegalHold,
    RetentionCategory,
    RetentionRun,
    RoutedRequest,
    RoutedRequestEvent,
)
from .retention import CEILING_REASONS, PERIOD_FIELDS, retention_periods_in_force


@dataclass(frozen=True)
class ChainReport:
    tenant_id: int
    rows: int
    broken_at: int | None = None  # id of the first row that does not verify
    reason: str = ""

    @property
    def ok(self):
        return self.broken_at is None


def ai_log_chain_verify(tenant, *, batch_size: int = 2000) -> ChainReport:
    """Recompute the tenant's chain in order; report the first row whose link or content does not verify.

    Retention deletes the oldest rows once their period ends: the chain then starts from the hash of the last row
    it deleted (the head's anchor), and the head's length counts the pruned rows too, so a row removed at either end
    or in the middle still shows.
    """
    head = AILogHead.objects.filter(tenant=tenant).first()
    expected_prev = (head.anchor_hash if head is not None else "") or GENESIS
    count = 0
    queryset = AIInvocation.objects.filter(tenant=tenant).order_by("id").defer("payload")
    for invocation in queryset.iterator(chunk_size=batch_size):
        count += 1
        if invocation.prev_hash != expected_prev:
            return ChainReport(tenant.pk, count, invocation.pk, "previous-hash link broken (a row was removed)")
        if row_hash(invocation) != invocation.row_hash:
            return ChainReport(tenant.pk, count, invocation.pk, "content changed after it was written")
        expected_prev = invocation.row_hash
    head = AILogHead.objects.filter(tenant=tenant).first()  # again: rows appended meanwhile are counted above
    if head is not None and (head.last_hash != expected_prev or head.length != head.pruned + count):
        return ChainReport(tenant.pk, count, -1, "the last rows were removed")
    return ChainReport(tenant.pk, count)


def ai_invocations_for_call(call_id):
    return AIInvocation.objects.filter(call_id=call_id).order_by("id")


def routed_inbox(tenant, *, include_closed: bool = False):
    """The tenant's copies of rights requests: open ones first, the nearest deadline first."""
    queryset = RoutedRequest.objects.filter(tenant=tenant).select_related("request")
    if not include_closed:
        queryset = queryset.exclude(status__in=CLOSED_STATUSES)
    closed_last = Case(When(status__in=CLOSED_STATUSES, then=Value(1)), default=Value(0))
    return queryset.annotate(closed=closed_last, deadline_on=Coalesce("extended_due_at", "due_at")).order_by(
        "closed", "deadline_on", "routed_at")


def routed_open_count(tenant) -> int:
    return RoutedRequest.objects.filter(tenant=tenant).exclude(status__in=CLOSED_STATUSES).count()


def routed_timeline(routed):
    return RoutedRequestEvent.objects.filter(tenant=routed.tenant_id, routed=routed).select_related("actor")


def is_held(tenant, *, phone_index: str | None = None, email_index: str | None = None) -> bool:
    """Whether an active legal hold covers this person for this tenant: if so, do not call them or process their
    data (the dialer and campaigns ask before each call; retention skips them)."""
    matches = Q()
    if phone_index:
        matches |= Q(phone_index=phone_index)
    if email_index:
        matches |= Q(email_index=email_index)
    if not matches:
        return False
    return LegalHold.objects.filter(matches, tenant=tenant, released_at__isnull=True).exists()


def routed_holds(routed):
    return LegalHold.objects.filter(tenant=routed.tenant_id, routed=routed)


def routed_exports(routed):
    return ExportFile.objects.filter(tenant=routed.tenant_id, routed=routed)


def routed_erasure_log(routed):
    return ErasureLog.objects.filter(tenant=routed.tenant_id, routed=routed)


def held_phone_indexes(tenant, *, phone_indexes) -> set[str]:
    """Return which of these phone blind indexes an active legal hold covers (one query for a dialer batch)."""
    return set(LegalHold.objects.filter(tenant=tenant, released_at__isnull=True, phone_index__in=set(phone_indexes))
               .values_list("phone_index", flat=True))


# --- proof for some rows of the AI log (a call's evidence bundle, issue 6 §4) --------------------------------------


@dataclass(frozen=True)
class RowProof:
    """Whether one row of the AI log still holds: its content hashes to its ``row_hash``, and its ``prev_hash`` is
    the hash of the row just before it in the tenant's chain (or the chain's start). ``problem`` is a stable code:
    content_changed, predecessor_missing, predecessor_changed, not_adjacent (rows removed or slipped in between),
    bad_start (a first row that does not start from the chain's start)."""

    invocation_id: int
    prev_hash: str
    row_hash: str
    recomputed_hash: str
    link: str  # "start" (genesis, or the anchor left by retention) or "row"
    predecessor_id: int | None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem


def ai_log_rows_prove(tenant, invocations: list[AIInvocation]) -> list[RowProof]:
    """Check the given rows of the tenant's AI log against their neighbours, without walking the whole chain.

    A row's predecessor may belong to another call: it is fetched by ``prev_hash``, and must be the row with the
    next lower id (ids follow the chain: rows are appended under a lock on the head). Four queries whatever the
    number of rows; the ids between the oldest predecessor and the newest row are read to prove adjacency.
    """
    if not invocations:
        return []
    rows = AIInvocation.objects.filter(tenant=tenant).defer("payload")
    head = AILogHead.objects.filter(tenant=tenant).first()
    start = (head.anchor_hash if head and head.anchor_hash else "") or GENESIS
    predecessors = {row.row_hash: row for row in rows.filter(row_hash__in={inv.prev_hash for inv in invocations})}
    first_id = rows.order_by("id").values_list("id", flat=True).first()
    low = min([inv.pk for inv in invocations] + [row.pk for row in predecessors.values()])
    between = list(rows.filter(id__gte=low, id__lte=max(inv.pk for inv in invocations))
                   .order_by("id").values_list("id", flat=True))
    return [_row_proof(inv, predecessors.get(inv.prev_hash), start=start, first_id=first_id, ids=between)
            for inv in invocations]


def _row_proof(invocation, predecessor, *, start: str, first_id, ids: list[int]) -> RowProof:
    if invocation.prev_hash == start and predecessor is None:
        link, problem = "start", "" if invocation.pk == first_id else "bad_start"
    else:
        link, problem = "row", _link_problem(invocation, predecessor, ids)
    recomputed = row_hash(invocation)
    if recomputed != invocation.row_hash:
        problem = "content_changed"
    return RowProof(invocation_id=invocation.pk, prev_hash=invocation.prev_hash, row_hash=invocation.row_hash,
                    recomputed_hash=recomputed, link=link, predecessor_id=predecessor.pk if predecessor else None,
                    problem=problem)


def _link_problem(invocation, predecessor, ids: list[int]) -> str:
    if predecessor is None:
        return "predecessor_missing"
    if row_hash(predecessor) != predecessor.row_hash:
        return "predecessor_changed"
    if _previous_id(ids, invocation.pk) != predecessor.pk:
        return "not_adjacent"
    return ""


def _previous_id(ids: list[int], invocation_id: int) -> int | None:
    position = bisect.bisect_left(ids, invocation_id)
    return ids[position - 1] if position > 0 else None


# Retention -------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RetentionPeriod:
    category: str
    label: str
    days: int  # in force for the tenant
    ceiling_days: int  # the most the tenant may choose
    reason: str  # why the ceiling is what it is


def retention_periods(tenant) -> list[RetentionPeriod]:
    """The tenant's period of each category, with its ceiling (the settings' validators hold it) and its reason."""
    in_force = retention_periods_in_force(tenant)
    return [RetentionPeriod(category=category, label=RetentionCategory(category).label, days=in_force[category],
                            ceiling_days=_ceiling(TenantSettings._meta.get_field(name)),
                            reason=str(CEILING_REASONS[category]))
            for category, name in PERIOD_FIELDS.items()]


def _ceiling(field) -> int:
    return min(validator.limit_value for validator in field.validators if isinstance(validator, MaxValueValidator))


@dataclass(frozen=True)
class RetentionCell:
    deleted: int
    held: int | None  # None while the run has not finished the category


def retention_runs(tenant):
    return RetentionRun.objects.filter(tenant=tenant).order_by("-started_at", "-pk")


def retention_run_cells(run: RetentionRun) -> list[RetentionCell]:
    """One cell per category, in the order of :class:`RetentionCategory` (the table's columns)."""
    return [RetentionCell(deleted=run.counts.get(category, 0), held=run.held.get(category))
            for category in RetentionCategory.values]
