"""Reads of the subprocessors app."""

from __future__ import annotations

from tenants.models import Tenant
from tenants.scope import tenant_scope

from .models import ChangeNotice, Objection


def objected_slugs(tenant: Tenant) -> set[str]:
    """Subprocessors the tenant's data must never reach: those brought in or changed by a notice it objected to,
    while the objection is open, or after staff exempted it or ended the contract."""
    with tenant_scope(tenant):
        return set(Objection.objects.filter(tenant=tenant, status__in=Objection.BLOCKING)
                   .exclude(notice__kind=ChangeNotice.Kind.REMOVAL)
                   .values_list("notice__subprocessor__slug", flat=True))
