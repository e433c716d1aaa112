"""Portal pages of a contact import: the upload, the column mapping, its progress (page and JSON) and errors, and
the user's decision on a file with errors.

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
from tenants.roles import Perm

from .. import importing, selectors
from ..forms import (
    ImportMappingForm,
    ImportUploadForm,
)
from ..models import ContactImport, ContactList
from ..services import imports

ERRORS_ON_PAGE = 20
ImportStatus = ContactImport.Status
ENDED = (ImportStatus.COMPLETED, ImportStatus.FAILED, ImportStatus.CANCELED)


def _posted(request):
    """The form data of a POST (even an empty one, which must show the form's errors), None for a GET."""
    return request.POST if request.method == "POST" else None


@require_http_methods(["GET", "HEAD", "POST"])
@portal_view(Perm.RUN_CAMPAIGNS)
def contact_import_upload(request, list_id):
    contact_list = get_object_or_404(ContactList, pk=list_id)
    form = ImportUploadForm(_posted(request), request.FILES if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            contact_import = imports.import_upload(contact_list=contact_list, uploaded_file=form.cleaned_data["file"],
                                                    actor=request.user)
        except ValidationError as error:
            form.add_error("file", error)
        else:
            return redirect("contact-import-mapping", tenant_slug=request.tenant.slug, import_id=contact_import.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "campaigns/contact_import_upload.html", {"form": form, "contact_list": contact_list},
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
                contact_import = imports.import_configure(contact_import=contact_import, mapping=form.mapping())
                imports.import_start(contact_import=contact_import)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return redirect("contact-import-detail", tenant_slug=request.tenant.slug, import_id=contact_import.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "campaigns/contact_import_mapping.html", {"form": form, "contact_import": contact_import},
                  status=status)


def _import_context(contact_import: ContactImport) -> dict:
    return {
        "contact_import": contact_import,
        "progress": selectors.import_progress(contact_import),
        "errors": contact_import.errors[:ERRORS_ON_PAGE],
        "ended": contact_import.status in ENDED,
        "valid_rows": max(contact_import.total_rows - contact_import.invalid_rows, 0),
    }


@require_safe
@portal_view(Perm.VIEW)
def contact_import_detail(request, import_id):
    """An import's progress (refreshed from ``status.json``), its counts and first errors, and the decisions."""
    contact_import = get_object_or_404(ContactImport.objects.select_related("contact_list"), pk=import_id)
    return render(request, "campaigns/contact_import_detail.html", _import_context(contact_import))


@require_safe
@portal_view(Perm.VIEW)
def contact_import_status(request, import_id):
    """The import's progress for the status page's progress bar."""
    contact_import = get_object_or_404(ContactImport, pk=import_id)
    progress = selectors.import_progress(contact_import)
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
    return render(request, "campaigns/contact_import_errors.html", {"contact_import": contact_import})


def _import_decision(request, import_id, service, success: str):
    contact_import = get_object_or_404(ContactImport.objects.select_related("contact_list"), pk=import_id)
    try:
        service(contact_import=contact_import)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        contact_import.refresh_from_db()
        return render(request, "campaigns/contact_import_detail.html", _import_context(contact_import), status=400)
    messages.success(request, success)
    return redirect("contact-import-detail", tenant_slug=request.tenant.slug, import_id=contact_import.pk)


@require_POST
@portal_view(Perm.RUN_CAMPAIGNS)
def contact_import_valid_rows(request, import_id):
    return _import_decision(request, import_id, imports.import_import_valid_rows,
                            _("The valid rows are being imported; the invalid ones are skipped."))


@require_POST
@portal_view(Perm.RUN_CAMPAIGNS)
def contact_import_cancel(request, import_id):
    return _import_decision(request, import_id, imports.import_cancel, _("The import was canceled."))
