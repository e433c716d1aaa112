"""Portal pages of the AI incident notices: what CALLKOM told the tenant about incidents that touched its calls."""

from dataclasses import dataclass
from functools import wraps

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from tenants.decorators import portal_view
from tenants.roles import Perm, role_has

from . import incidents
from .models import IncidentImpact


@dataclass(frozen=True)
class Notice:
    """One notice as the portal shows it: the tenant's impact, with links to the calls it names."""

    impact: IncidentImpact
    calls: list[tuple[str, str]]  # (call id, link to the call's page)

    @property
    def incident(self):
        return self.impact.incident

    @property
    def breach_deadline(self):
        return incidents.breach_deadline(self.impact.incident)

    @property
    def deadline_passed(self) -> bool:
        deadline = self.breach_deadline
        return deadline is not None and timezone.now() > deadline


def notice_reader(view):
    """Guard a notice page: a member of the tenant (else 404) who handles privacy or reads the audit (else 403)."""

    @portal_view(Perm.VIEW)
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not incidents.can_read_notices(request.membership.role):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


@require_safe
@notice_reader
def incident_notices(request):
    notices = [_notice(request, impact) for impact in incidents.tenant_notices(request.tenant)]
    return _render(request, "compliance/portal/incident_notices.html", {"notices": notices})


@require_safe
@notice_reader
def incident_notice_detail(request, impact_id):
    notice = _notice(request, _impact(request, impact_id))
    return _render(request, "compliance/portal/incident_notice.html", {"notice": notice})


@require_POST
@portal_view(Perm.HANDLE_PRIVACY)
def incident_notice_acknowledge(request, impact_id):
    impact = _impact(request, impact_id)
    try:
        incidents.impact_acknowledge(impact=impact, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Notice acknowledged. Thank you."))
    return redirect("incident-notice-detail", tenant_slug=request.tenant.slug, impact_id=impact.pk)


def _impact(request, impact_id) -> IncidentImpact:
    """A notice sent to the tenant: another tenant's, or one not sent yet, is a 404."""
    return get_object_or_404(incidents.tenant_notices(request.tenant), pk=impact_id)


def _notice(request, impact: IncidentImpact) -> Notice:
    """The notice with links to the tenant's own calls (the impact is the tenant's: so are its calls)."""
    slug = request.tenant.slug
    calls = [(call_id, reverse("call-detail", kwargs={"tenant_slug": slug, "call_id": call_id}))
             for call_id in impact.call_ids]
    return Notice(impact=impact, calls=calls)


def _render(request, template: str, context: dict):
    can_acknowledge = role_has(request.membership.role, Perm.HANDLE_PRIVACY)
    return render(request, template, {**context, "can_acknowledge": can_acknowledge})
