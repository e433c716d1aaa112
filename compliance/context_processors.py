from django.utils.functional import SimpleLazyObject

from tenants.scope import tenant_scope

from . import incidents


def incident_notices(request):
    """Give portal pages the incident notices their tenant has not acknowledged yet, for the banner.

    Only for members who may read the notices (the banner leads there), on an active tenant's pages; lazily, so that
    a page that does not show the banner runs no query, and one query for a page that does.
    """
    tenant, membership = getattr(request, "tenant", None), getattr(request, "membership", None)
    if tenant is None or membership is None or not tenant.is_active or not incidents.can_read_notices(membership.role):
        return {}

    def pending():
        with tenant_scope(tenant):
            return list(incidents.tenant_notices_unacknowledged(tenant))

    return {"incident_notices_pending": SimpleLazyObject(pending)}
