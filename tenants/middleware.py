import re

from django.http import Http404
from django.shortcuts import render

from .scope import all_tenants_scope, request_scope, tenant_scope
from .selectors import membership_for, tenant_by_slug

PORTAL_PATH = re.compile(r"^/t/(?P<slug>[-a-zA-Z0-9_]+)/")


class TenantMiddleware:
    """Open the tenant scope for a portal request, for its view and its rendering.

    ``/t/<slug>/…``: the user must be a member of that tenant, otherwise 404 (a non-member cannot tell a tenant
    that exists from one that does not). A suspended tenant gets a page that shows no data. ``/admin/``: CALLKOM
    staff see every tenant; the admin records each view of tenant data. Anything else starts with no scope; the
    API authentication may activate one for the rest of the request.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.tenant = None
        request.membership = None
        with request_scope():
            match = PORTAL_PATH.match(request.path_info)
            if match and request.user.is_authenticated:
                return self._portal(request, match["slug"])
            if request.path_info.startswith("/admin/") and request.user.is_authenticated and request.user.is_staff:
                with all_tenants_scope("Django admin"):
                    return self.get_response(request)
            return self.get_response(request)

    def _portal(self, request, slug):
        tenant = tenant_by_slug(slug)
        membership = membership_for(request.user, tenant) if tenant else None
        if membership is None:
            raise Http404("No such tenant.")
        request.tenant = tenant
        request.membership = membership
        if not tenant.is_active:
            return render(request, "tenants/suspended.html", {"tenant": tenant}, status=403)
        with tenant_scope(tenant):
            return self.get_response(request)
