"""The tenant scope: which tenant's rows the current code may see.

Tenant-owned models use :class:`TenantManager`, which refuses to build a query while no scope is active. The
scope is a context variable, so it follows a request through its thread, an asyncio task through its awaits, and
a ``sync_to_async`` call into its worker thread. A forgotten filter becomes an exception in a test, not a leak.

Ways in:
- ``tenant_scope(tenant)``: a block that sees one tenant (HTTP and WebSocket middleware, tasks, commands);
- ``all_tenants_scope(reason)``: a block that sees every tenant, for the Django admin (staff access is logged
  separately) and platform jobs such as retention; the reason is kept for error messages and debugging;
- ``activate(tenant)``: set the scope until the enclosing ``request_scope()`` ends (DRF authentication, which
  runs inside the view and cannot wrap the rest of the request in a block).
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import models


class ScopeError(RuntimeError):
    """A tenant-owned model was queried outside a tenant scope."""


@dataclass(frozen=True)
class _AllTenants:
    reason: str


_current: contextvars.ContextVar = contextvars.ContextVar("callkom_tenant_scope", default=None)


def current_tenant():
    """Return the tenant in scope, or None when no single tenant is (no scope, or an all-tenants scope)."""
    value = _current.get()
    return None if value is None or isinstance(value, _AllTenants) else value


def scope_is_active() -> bool:
    return _current.get() is not None


@contextmanager
def tenant_scope(tenant):
    if tenant is None or getattr(tenant, "pk", None) is None:
        raise ScopeError("tenant_scope() needs a saved tenant.")
    token = _current.set(tenant)
    try:
        yield tenant
    finally:
        _current.reset(token)


@contextmanager
def all_tenants_scope(reason: str):
    token = _current.set(_AllTenants(reason))
    try:
        yield
    finally:
        _current.reset(token)


@contextmanager
def request_scope():
    """Start with no scope and drop whatever was activated inside when the block ends."""
    token = _current.set(None)
    try:
        yield
    finally:
        _current.reset(token)


def activate(tenant) -> None:
    """Set the scope for the rest of the enclosing request_scope()."""
    if tenant is None or getattr(tenant, "pk", None) is None:
        raise ScopeError("activate() needs a saved tenant.")
    _current.set(tenant)


class TenantQuerySet(models.QuerySet):
    pass


class TenantManager(models.Manager.from_queryset(TenantQuerySet)):
    """Filter every query to the tenant in scope; raise when there is none."""

    def get_queryset(self):
        value = _current.get()
        if value is None:
            raise ScopeError(
                f"{self.model._meta.label} is tenant-owned and was queried outside a tenant scope. "
                "Wrap the code in tenant_scope(tenant) (or all_tenants_scope(reason) for platform jobs)."
            )
        queryset = super().get_queryset()
        if isinstance(value, _AllTenants):
            return queryset
        return queryset.filter(tenant_id=value.pk)
