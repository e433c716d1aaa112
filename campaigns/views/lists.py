"""Portal pages of contact lists: the lists, one list (its contacts, imports and risk findings), creating and
editing a list, checking its risks, fixing or acknowledging a finding.

Viewing needs Perm.VIEW, any change Perm.RUN_CAMPAIGNS. Every object is looked up through the tenant-scoped
managers, so another tenant's ids answer 404. Bad input answers the page again with its errors and status 400.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from tenants.decorators import portal_view
from tenants.forms import show_service_errors
from tenants.roles import Perm, role_has

from .. import selectors
from ..forms import (
    ContactListForm,
    FindingAcknowledgeForm,
    LegalBasisFixForm,
)
from ..models import ContactImport, ContactList, RiskFinding
from ..services import lists

ImportStatus = ContactImport.Status


def _posted(request):
    """The form data of a POST (even an empty one, which must show the form's errors), None for a GET."""
    return request.POST if request.method == "POST" else None


def _list_url(request, contact_list: ContactList):
    return redirect("contact-list-detail", tenant_slug=request.tenant.slug, list_id=contact_list.pk)


@require_safe
@portal_view(Perm.VIEW)
def contact_lists(request):
    """Every contact list with its size and whether a campaign may use it."""
    lists = selectors.contact_lists_overview()
    return render(request, "campaigns/contact_list_list.html", {"lists": lists})


@require_http_methods(["GET", "HEAD", "POST"])
@portal_view(Perm.RUN_CAMPAIGNS)
def contact_list_create(request):
    form = ContactListForm(_posted(request))
    if form.is_bound and form.is_valid():
        try:
            contact_list = lists.contact_list_create(tenant=request.tenant, actor=request.user,
                                                        **form.cleaned_data)
        except ValidationError as error:
            show_service_errors(error, form)
        else:
            messages.success(request, _("The list was created. Import its contacts from a file."))
            return redirect("contact-import-upload", tenant_slug=request.tenant.slug, list_id=contact_list.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "campaigns/contact_list_form.html", {"form": form, "contact_list": None}, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
@portal_view(Perm.RUN_CAMPAIGNS)
def contact_list_edit(request, list_id):
    contact_list = get_object_or_404(ContactList, pk=list_id)
    initial = {field: getattr(contact_list, field) for field in ContactListForm.base_fields}
    form = ContactListForm(_posted(request), initial=initial)
    if form.is_bound and form.is_valid():
        try:
            lists.contact_list_update(contact_list=contact_list, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            show_service_errors(error, form)
        else:
            messages.success(request, _("The list was saved."))
            return _list_url(request, contact_list)
    status = 400 if request.method == "POST" else 200
    return render(request, "campaigns/contact_list_form.html", {"form": form, "contact_list": contact_list},
                  status=status)


@require_safe
@portal_view(Perm.VIEW)
def contact_list_detail(request, list_id):
    """One list: whether a campaign may use it, its risk findings, its imports and its contacts, paged."""
    contact_list = get_object_or_404(ContactList, pk=list_id)
    return _render_detail(request, contact_list)


def _render_detail(request, contact_list: ContactList, *, bound: dict | None = None, status: int = 200):
    """Render a list's page; ``bound`` carries the submitted form of one finding when it had errors."""
    bound = bound or {}
    findings = []
    for finding in selectors.list_findings(contact_list):
        forms = bound.get(finding.pk, {})
        findings.append({
            "finding": finding,
            "acknowledge_form": forms.get("acknowledge") or FindingAcknowledgeForm(prefix=f"ack-{finding.pk}"),
            "legal_form": forms.get("legal") or LegalBasisFixForm(prefix=f"fix-{finding.pk}"),
        })
    context = {
        "contact_list": contact_list,
        "blockers": lists.contact_list_blockers(contact_list=contact_list),
        "findings": findings,
        "imports": selectors.list_imports(contact_list),
        "page": selectors.list_contacts_page(contact_list, request.GET.get("page")),
        "can_change": role_has(request.membership.role, Perm.RUN_CAMPAIGNS),
    }
    return render(request, "campaigns/contact_list_detail.html", context, status=status)


@require_POST
@portal_view(Perm.RUN_CAMPAIGNS)
def contact_list_check(request, list_id):
    """Run the risk checks now (they also run after each import)."""
    contact_list = get_object_or_404(ContactList, pk=list_id)
    lists.contact_list_check_risks(contact_list=contact_list)
    messages.success(request, _("The list's risks were checked."))
    return _list_url(request, contact_list)


@require_POST
@portal_view(Perm.RUN_CAMPAIGNS)
def contact_list_finding_fix(request, list_id, finding_id):
    finding = get_object_or_404(RiskFinding.objects.select_related("contact_list"), pk=finding_id,
                                contact_list_id=list_id)
    extra, form = {}, None
    if finding.kind == RiskFinding.Kind.NO_LEGAL_BASIS:
        form = LegalBasisFixForm(request.POST, prefix=f"fix-{finding.pk}")
        if not form.is_valid():
            return _render_detail(request, finding.contact_list, bound={finding.pk: {"legal": form}}, status=400)
        extra = form.cleaned_data
    try:
        lists.finding_fix(finding=finding, actor=request.user, **extra)
    except ValidationError as error:
        if form is None:
            messages.error(request, " ".join(error.messages))
            return _render_detail(request, finding.contact_list, status=400)
        show_service_errors(error, form)
        return _render_detail(request, finding.contact_list, bound={finding.pk: {"legal": form}}, status=400)
    messages.success(request, _("The finding was fixed."))
    return _list_url(request, finding.contact_list)


@require_POST
@portal_view(Perm.RUN_CAMPAIGNS)
def contact_list_finding_acknowledge(request, list_id, finding_id):
    finding = get_object_or_404(RiskFinding.objects.select_related("contact_list"), pk=finding_id,
                                contact_list_id=list_id)
    form = FindingAcknowledgeForm(request.POST, prefix=f"ack-{finding.pk}")
    if form.is_valid():
        try:
            lists.finding_acknowledge(finding=finding, actor=request.user,
                                         justification=form.cleaned_data["justification"])
        except ValidationError as error:
            show_service_errors(error, form)
        else:
            messages.success(request, _("The finding was acknowledged; your justification is on record."))
            return _list_url(request, finding.contact_list)
    return _render_detail(request, finding.contact_list, bound={finding.pk: {"acknowledge": form}}, status=400)


