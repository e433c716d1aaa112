"""Portal pages of the data processing agreement (GDPR Art. 28): the version in force, its acceptance, the PDFs.

Who reads them: whoever reads the record of processing (the DPO, owners, administrators). Who accepts: an owner
only (``policies.may_accept_dpa``), with a checkbox that says they have the authority to bind the company.
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from tenants.decorators import portal_view
from tenants.roles import Perm

from . import policies
from .forms import errors_onto
from .records import may_read_records


class DpaAcceptForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    authority = forms.BooleanField(error_messages={"required": gettext_lazy(
        "Tick the box to confirm that you may accept the agreement for the company.")})

    def __init__(self, *args, legal_name: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["authority"].label = _("I have authority to accept this agreement on behalf of %(legal_name)s.") % {
            "legal_name": legal_name}

    def clean_version(self):
        version = policies.dpa_version(self.cleaned_data["version"])
        if version is None:
            raise ValidationError(_("No published version of the agreement has this number."))
        return version


def _reader(request):
    if not may_read_records(request.membership.role):
        raise PermissionDenied


def _page(request, form=None, status=200):
    tenant = request.tenant
    current = policies.dpa_current()
    acceptances = list(policies.dpa_acceptances(tenant))
    accepted = {acceptance.version_id: acceptance for acceptance in acceptances}
    can_accept = policies.may_accept_dpa(request.membership.role)
    if form is None and can_accept and current is not None and current.pk not in accepted:
        form = DpaAcceptForm(initial={"version": current.number}, legal_name=tenant.legal_name)
    context = {
        "current": current,
        "current_title": current.localised("title") if current else "",
        "current_changes": current.localised("changes") if current else "",
        "current_acceptance": accepted.get(current.pk) if current else None,
        "in_force": acceptances[0] if acceptances else None,
        "acceptances": acceptances,
        "versions": list(policies.dpa_versions()),
        "blocks": policies.text_blocks(policies.dpa_text(current, tenant)) if current else [],
        "can_accept": can_accept,
        "form": form,
    }
    return render(request, "compliance/dpa/page.html", context, status=status)


@require_safe
@portal_view(Perm.VIEW)
def dpa_page(request):
    _reader(request)
    return _page(request)


@require_POST
@portal_view(Perm.VIEW)
def dpa_accept(request):
    if not policies.may_accept_dpa(request.membership.role):
        raise PermissionDenied
    form = DpaAcceptForm(request.POST, legal_name=request.tenant.legal_name)
    if form.is_valid():
        try:
            acceptance = policies.dpa_accept(tenant=request.tenant, version=form.cleaned_data["version"],
                                             actor=request.user, ip_address=policies.client_ip(request.META))
        except ValidationError as error:
            errors_onto(form, error)
        else:
            messages.success(request, _("Version %(number)s of the data processing agreement is accepted. Thank you.")
                             % {"number": acceptance.version.number})
            return redirect("tenant-dpa", tenant_slug=request.tenant.slug)
    return _page(request, form, status=400)


@require_safe
@portal_view(Perm.VIEW)
def dpa_pdf(request, number):
    _reader(request)
    version = policies.dpa_version(number)
    if version is None:
        raise Http404("No such version.")
    response = HttpResponse(policies.dpa_pdf(request.tenant, version), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{policies.dpa_filename(request.tenant, version)}"'
    response["Cache-Control"] = "private, no-store"
    return response
