"""Portal pages of the register: the list in force for this customer, the change notices, and its objections."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_safe

from tenants.decorators import portal_view
from tenants.roles import Perm

from . import notices, register
from .models import ChangeNotice, Objection, Subprocessor
from .portal_forms import ObjectionForm
from .selectors import objected_slugs

PAST_NOTICES = 10


@dataclass(frozen=True)
class ProviderRow:
    """A provider on the list, and whether this customer's calls may use it now (and if not, why)."""

    subprocessor: Subprocessor
    why_not: str = ""

    @property
    def used(self) -> bool:
        return not self.why_not


NOT_IN_SERVICE = gettext_lazy("Not in service at the moment.")
DEACTIVATED = gettext_lazy("Temporarily deactivated by CALLKOM; the next provider takes over.")
OUTSIDE_EU = gettext_lazy("Outside the EU: your region policy keeps your data in the EU.")
OBJECTED = gettext_lazy("Never used for your company: you objected to it.")


def _provider_rows(tenant) -> list[ProviderRow]:
    objected = objected_slugs(tenant)
    rows = []
    for subprocessor in register.listed_queryset():
        if subprocessor.slug in objected:
            why = OBJECTED
        elif subprocessor.temporarily_disabled:
            why = DEACTIVATED
        elif not subprocessor.in_service():
            why = NOT_IN_SERVICE
        elif not subprocessor.usable_for(tenant.region_policy):
            why = OUTSIDE_EU
        else:
            why = ""
        rows.append(ProviderRow(subprocessor=subprocessor, why_not=str(why)))
    return rows


def _can_object(request) -> bool:
    return notices.can_object(request.membership.role)


def _notice(notice_id: int) -> ChangeNotice:
    """A notice customers may see (announced at some point); a draft is a 404."""
    return get_object_or_404(notices.published_notices(), pk=notice_id)


def _objection(tenant, notice) -> Objection | None:
    return Objection.objects.filter(tenant=tenant, notice=notice).first()


@require_safe
@portal_view(Perm.VIEW)
def tenant_register(request):
    tenant = request.tenant
    published = notices.published_notices()
    objections = notices.tenant_objections(tenant)
    objected = {objection.notice_id for objection in objections}
    context = {
        "privacy_tab": "subprocessors",
        "version": register.version_in_force(),
        "providers": _provider_rows(tenant),
        "upcoming": list(published.filter(status=ChangeNotice.Status.ANNOUNCED).order_by("effective_date", "pk")),
        "past": list(published.exclude(status=ChangeNotice.Status.ANNOUNCED)[:PAST_NOTICES]),
        "objections": objections,
        "objected_notices": objected,
        "can_object": _can_object(request),
        "notice_days": notices.notice_days(),
    }
    return render(request, "subprocessors/portal/register.html", context)


@require_safe
@portal_view(Perm.VIEW)
def notice_detail(request, notice_id):
    notice = _notice(notice_id)
    objection = _objection(request.tenant, notice)
    context = {
        "privacy_tab": "subprocessors",
        "notice": notice,
        "objection": objection,
        "objection_deadline": notices.objection_deadline(notice),
        "may_object": notice.objectable and objection is None and _can_object(request),
        "can_object": _can_object(request),
    }
    return render(request, "subprocessors/portal/notice_detail.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
@portal_view(Perm.VIEW)
def notice_object(request, notice_id):
    """The objection form. Members who may not object get a 403; a notice customers never saw is a 404. Whatever
    is wrong with the objection (no reason, too late, a second one) comes back as a form error."""
    notice = _notice(notice_id)
    if not _can_object(request):
        raise PermissionDenied
    form = ObjectionForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            notices.objection_raise(notice=notice, tenant=request.tenant, actor=request.user,
                                    reason=form.cleaned_data["reason"])
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, _("Your objection is recorded. Until CALLKOM answers it, your calls do not use "
                                        "this provider."))
            return redirect("tenant-notice-detail", tenant_slug=request.tenant.slug, notice_id=notice.pk)
    objection = _objection(request.tenant, notice)
    context = {
        "privacy_tab": "subprocessors",
        "notice": notice,
        "form": form,
        "objection": objection,
        "objection_deadline": notices.objection_deadline(notice),
        "open": notice.objectable and objection is None,
    }
    return render(request, "subprocessors/portal/notice_object.html", context, status=200)
