"""Portal page of retention: the runs over the tenant's data, what each deleted and kept, and the periods in force.

Who may read it: whoever handles privacy requests or reads the audit trail (DPO, owners, administrators).
"""

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_safe

from tenants.decorators import portal_view
from tenants.roles import Perm, role_has

from . import selectors
from .models import RetentionCategory

RUNS_PER_PAGE = 30


def may_read_retention(role: str) -> bool:
    return role_has(role, Perm.HANDLE_PRIVACY) or role_has(role, Perm.VIEW_AUDIT)


@require_safe
@portal_view(Perm.VIEW)
def retention_runs(request):
    if not may_read_retention(request.membership.role):
        raise PermissionDenied
    page = Paginator(selectors.retention_runs(request.tenant), RUNS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "categories": RetentionCategory.choices,
        "page": page,
        "runs": [(run, selectors.retention_run_cells(run)) for run in page],
        "periods": selectors.retention_periods(request.tenant),
    }
    return render(request, "compliance/portal/retention.html", context)
