from django.utils.functional import SimpleLazyObject

from tenants.scope import tenant_scope

from . import incidents, policies


def incident_notices(request):
    """Give portal pages what their banners need: the incident notices their tenant has not acknowledged yet, and
    the DPA version that awaits acceptance (``dpa_notice``, merged here so that the one processor in settings serves
    both banners).

    Only for members who may read the notices (the banner leads there), on an active tenant's pages; lazily, so that
    a page that does not show the banner runs no query, and one query for a page that does.
    """
    context = dpa_notice(request)
    tenant, membership = getattr(request, "tenant", None), getattr(request, "membership", None)
    if tenant is None or membership is None or not tenant.is_active or not incidents.can_read_notices(membership.role):
        return context

    def pending():
        with tenant_scope(tenant):
            return list(incidents.tenant_notices_unacknowledged(tenant))

    return {**context, "incident_notices_pending": SimpleLazyObject(pending)}


def dpa_notice(request):
    """Give an owner's portal pages ``dpa_pending``: the published DPA version their company has not accepted yet
    (falsy when there is none), for the banner; lazily, like the incident notices. Other members get nothing: only an
    owner can accept, and the banner asks for that."""
    tenant, membership = getattr(request, "tenant", None), getattr(request, "membership", None)
    if tenant is None or membership is None or not tenant.is_active or not policies.may_accept_dpa(membership.role):
        return {}
    return {"dpa_pending": SimpleLazyObject(lambda: policies.dpa_pending(tenant))}
