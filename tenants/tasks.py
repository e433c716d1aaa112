"""Celery tasks in a tenant scope. A task takes ids, re-reads inside the scope, and calls a service."""

import functools

from celery import shared_task

from .models import Tenant
from .scope import tenant_scope


def tenant_task(*task_args, **task_kwargs):
    """Declare a Celery task whose first argument is a tenant id; the body runs in that tenant's scope.

    A task for a tenant that no longer exists, or is suspended, does nothing.
    """

    def decorator(func):
        @functools.wraps(func)
        def run(tenant_id, *args, **kwargs):
            tenant = Tenant.objects.filter(pk=tenant_id, status=Tenant.Status.ACTIVE).first()
            if tenant is None:
                return None
            with tenant_scope(tenant):
                return func(tenant, *args, **kwargs)

        return shared_task(*task_args, **task_kwargs)(run)

    return decorator


@shared_task(name="tenants.idempotency_purge")
def idempotency_purge():
    """Hourly (beat): delete the API answers kept under an Idempotency-Key past their 24 hours."""
    from .services import idempotency_records_purge

    return idempotency_records_purge()
