"""Reads of the compliance app."""

from dataclasses import dataclass

from .chain import GENESIS, row_hash
from .models import AIInvocation, AILogHead


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
    """Recompute the tenant's chain in order; report the first row whose link or content does not verify."""
    expected_prev = GENESIS
    count = 0
    queryset = AIInvocation.objects.filter(tenant=tenant).order_by("id").defer("payload")
    for invocation in queryset.iterator(chunk_size=batch_size):
        count += 1
        if invocation.prev_hash != expected_prev:
            return ChainReport(tenant.pk, count, invocation.pk, "previous-hash link broken (a row was removed)")
        if row_hash(invocation) != invocation.row_hash:
            return ChainReport(tenant.pk, count, invocation.pk, "content changed after it was written")
        expected_prev = invocation.row_hash
    head = AILogHead.objects.filter(tenant=tenant).first()
    if head is not None and (head.last_hash != expected_prev or head.length != count):
        return ChainReport(tenant.pk, count, -1, "the last rows were removed")
    return ChainReport(tenant.pk, count)


def ai_invocations_for_call(call_id):
    return AIInvocation.objects.filter(call_id=call_id).order_by("id")
