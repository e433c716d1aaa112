from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404

from .roles import Perm, role_has


def portal_view(perm: Perm = Perm.VIEW):
    """Guard a portal view: a logged-in member of the URL's tenant (else 404) whose role has ``perm`` (else 403).

    The tenant comes from TenantMiddleware, which also opened its scope; the view does not receive the slug.
    """

    def decorator(view):
        @wraps(view)
        def wrapper(request, tenant_slug, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if request.tenant is None or request.tenant.slug != tenant_slug:
                raise Http404("No such tenant.")
            if not role_has(request.membership.role, perm):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapper.portal_perm = perm
        return wrapper

    return decorator
