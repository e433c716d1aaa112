from .roles import Perm, role_has
from .selectors import memberships_for_user


def portal(request):
    """Give templates the tenant, the user's role permissions and the switcher's list, lazily."""
    membership = getattr(request, "membership", None)
    perms = {perm.name: role_has(membership.role, perm) for perm in Perm} if membership else {}
    user = getattr(request, "user", None)
    return {
        "tenant": getattr(request, "tenant", None),
        "membership": membership,
        "perms_in_tenant": perms,
        "switcher_memberships": (lambda: memberships_for_user(user)) if user is not None else list,
    }
