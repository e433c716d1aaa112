"""Portal pages of contact lists and their imports: the lists, one list (contacts, imports, risk findings), the
upload, the column mapping and an import's progress and errors.

Viewing needs Perm.VIEW, any change Perm.RUN_CAMPAIGNS. Every object is looked up through the tenant-scoped
managers, so another tenant's ids answer 404. Bad input answers the page again with its errors and status 400.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from tenants.decorators import portal_view
from tenants.roles import Perm, role_has

from . import contact_selectors, contacts, importing
from .contact_forms import (
    ContactListForm,
    FindingAcknowledgeForm,
    ImportMappingForm,
    ImportUploadForm,
    LegalBasisFixForm,
)
from .models import ContactImport, ContactList, RiskFinding

ERRORS_ON_PAGE = 20
ImportStatus = ContactImport.Status
ENDED = (ImportStatus.COMPLETED, ImportStatus.FAILED, ImportStatus.CANCELED)


def _add_errors(form, error: ValidationError) -> None:
    """Put a service's ValidationError on the form: on its field when the form has one, else on the form."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


def _posted(request):
    """The form data of a POST (even an empty one, which must show the form's errors), None for a GET."""
    return request.POST if request.method == "POST" else None


def _list_url(request, contact_list: ContactList):
    return redirect("contact-list-detail", tenant_slug=request.tenant.slug, list_id=contact_list.pk)


# --- lists ------------------------------------------------------------------------------------------------------


@require_safe
@portal_view(Perm.VIEW)
def contact_lists(request):
    """Every contact list with its size and whether a campaign may use it."""
    lists = contact_selectors.contact_lists_overview()
    return render(request, "calls/contact_list_list.html", {"lists": lists})


@require_http_methods(["GET", "HEAD", "POST"])
@portal_view(Perm.RUN_CAMPAIGNS)
def contact_list_create(request):
    form = ContactListForm(_posted(request))
    if form.is_bound and form.is_valid():
        try:
            contact_list = contacts.contact_list_create(tenant=request.tenant, actor=request.user,
                                                        **form.cleaned_data)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, _("The list was created. Import its contacts from a file."))
            return redirect("contact-import-upload", tenant_slug=request.tenant.slug, list_id=contact_list.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "calls/contact_list_form.html", {"form": form, "contact_list": None}, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
@portal_view(Perm.RUN_CAMPAIGNS)
def contact_list_edit(request, list_id):
    contact_list = get_object_or_404(ContactList, pk=list_id)
    initial = {field: getattr(contact_list, field) for field in ContactListForm.base_fields}
    form = ContactListForm(_posted(request), initial=initial)
    if form.is_bound and form.is_valid():
        try:
            contacts.contact_list_update(contact_list=contact_list, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, _("The list was saved."))
            return _list_url(request, contact_list)
    status = 400 if request.method == "POST" else 200
    return render(request, "calls/contact_list_form.html", {"form": form, "contact_list": contact_list},
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
    for finding in contact_selectors.list_findings(contact_list):
        forms = bound.get(finding.pk, {})
        findings.append({
            "finding": finding,
            "acknowledge_form": forms.get("acknowledge") or FindingAcknowledgeForm(prefix=f"ack-{finding.pk}"),
            "legal_form": forms.get("legal") or LegalBasisFixForm(prefix=f"fix-{finding.pk}"),
        })
    context = {
        "contact_list": contact_list,
        "blockers": contacts.contact_list_blockers(contact_list=contact_list),
        "findings": findings,
        "imports": contact_selectors.list_imports(contact_list),
        "page": contact_selectors.list_contacts_page(contact_list, request.GET.get("page")),
        "can_change": role_has(request.membership.role, Perm.RUN_CAMPAIGNS),
    }
    return render(request, "calls/contact_list_detail.html", context, status=status)


@require_POST
@portal_view(Perm.RUN_CAMPAIGNS)
def contact_list_check(request, list_id):
    """Run the risk checks now (they also run after each import)."""
    contact_list = get_object_or_404(ContactList, pk=list_id)
    contacts.contact_list_check_risks(contact_list=contact_list)
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
        contacts.finding_fix(finding=finding, actor=request.user, **extra)
    except ValidationError as error:
        if form is None:
            messages.error(request, " ".join(error.messages))
            return _render_detail(request, finding.contact_list, status=400)
        _add_errors(form, error)
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
            contacts.finding_acknowledge(finding=finding, actor=request.user,
                                         justification=form.cleaned_data["justification"])
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, _("The finding was acknowledged; your justification is on record."))
            return _list_url(request, finding.contact_list)
    return _render_detail(request, finding.contact_list, bound={finding.pk: {"acknowledge": form}}, status=400)


# --- imports ----------------------------------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@portal_view(Perm.RUN_CAMPAIGNS)
def contact_import_upload(request, list_id):
    contact_list = get_object_or_404(ContactList, pk=list_id)
    form = ImportUploadForm(_posted(request), request.FILES if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            contact_import = contacts.import_upload(contact_list=contact_list, uploaded_file=form.cleaned_data["file"],
                                                    actor=request.user)
        except ValidationError as error:
            form.add_error("file", error)
        else:
            return redirect("contact-import-mapping", tenant_slug=request.tenant.slug, import_id=contact_import.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "calls/contact_import_upload.html", {"form": form, "contact_list": contact_list},
                  status=status)


def _samples(contact_import: ContactImport) -> list[list[str]]:
    try:
        return importing.preview_rows(contact_import)
    except (OSError, ValidationError):
        return []


@require_http_methods(["GET", "HEAD", "POST"])
@portal_view(Perm.RUN_CAMPAIGNS)
def contact_import_mapping(request, import_id):
    """Say which contact field each column fills, then start the import."""
    contact_import = get_object_or_404(ContactImport.objects.select_related("contact_list"), pk=import_id)
    if contact_import.status not in (ImportStatus.UPLOADED, ImportStatus.NEEDS_DECISION):
        return redirect("contact-import-detail", tenant_slug=request.tenant.slug, import_id=contact_import.pk)
    form = ImportMappingForm(_posted(request), contact_import=contact_import, samples=_samples(contact_import))
    if form.is_bound and form.is_valid():
        try:
            with transaction.atomic():
                contact_import = contacts.import_configure(contact_import=contact_import, mapping=form.mapping())
                contacts.import_start(contact_import=contact_import)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return redirect("contact-import-detail", tenant_slug=request.tenant.slug, import_id=contact_import.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "calls/contact_import_mapping.html", {"form": form, "contact_import": contact_import},
                  status=status)


def _import_context(contact_import: ContactImport) -> dict:
    return {
        "contact_import": contact_import,
        "progress": contact_selectors.import_progress(contact_import),
        "errors": contact_import.errors[:ERRORS_ON_PAGE],
        "ended": contact_import.status in ENDED,
        "valid_rows": max(contact_import.total_rows - contact_import.invalid_rows, 0),
    }


@require_safe
@portal_view(Perm.VIEW)
def contact_import_detail(request, import_id):
    """An import's progress (refreshed from ``status.json``), its counts and first errors, and the decisions."""
    contact_import = get_object_or_404(ContactImport.objects.select_related("contact_list"), pk=import_id)
    return render(request, "calls/contact_import_detail.html", _import_context(contact_import))


@require_safe
@portal_view(Perm.VIEW)
def contact_import_status(request, import_id):
    """The import's progress for the status page's progress bar."""
    contact_import = get_object_or_404(ContactImport, pk=import_id)
    progress = contact_selectors.import_progress(contact_import)
    response = JsonResponse({
        "status": contact_import.status,
        "status_label": contact_import.get_status_display(),
        "phase": progress["phase"],
        "ended": contact_import.status in ENDED,
        "processed": contact_import.processed_rows,
        "total": contact_import.total_rows,
        "percent": progress["percent"],
        "counts": {"imported": contact_import.imported_rows, "duplicates": contact_import.duplicate_rows,
                   "invalid": contact_import.invalid_rows},
        "errors": contact_import.errors[:ERRORS_ON_PAGE],
        "failure": contact_import.failure,
    })
    response["Cache-Control"] = "no-store"
    return response


@require_safe
@portal_view(Perm.VIEW)
def contact_import_errors(request, import_id):
    """Every kept error of an import, by row and column."""
    contact_import = get_object_or_404(ContactImport.objects.select_related("contact_list"), pk=import_id)
    return render(request, "calls/contact_import_errors.html", {"contact_import": contact_import})


def _import_decision(request, import_id, service, success: str):
    contact_import = get_object_or_404(ContactImport.objects.select_related("contact_list"), pk=import_id)
    try:
        service(contact_import=contact_import)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        contact_import.refresh_from_db()
        return render(request, "calls/contact_import_detail.html", _import_context(contact_import), status=400)
    messages.success(request, success)
    return redirect("contact-import-detail", tenant_slug=request.tenant.slug, import_id=contact_import.pk)


@require_POST
@portal_view(Perm.RUN_CAMPAIGNS)
def contact_import_valid_rows(request, import_id):
    return _import_decision(request, import_id, contacts.import_import_valid_rows,
                            _("The valid rows are being imported; the invalid ones are skipped."))


@require_POST
@portal_view(Perm.RUN_CAMPAIGNS)
def contact_import_cancel(request, import_id):
    return _import_decision(request, import_id, contacts.import_cancel, _("The import was canceled."))
