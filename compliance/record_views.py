"""Portal pages of the record of processing (GDPR Art. 30(2)): on screen, as CSV and as PDF.

The three come from the same :func:`compliance.records.processing_record`, built at each request in the request's
language. Who may read it: the DPO, owners and administrators (``records.may_read_records``).
"""

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from tenants.decorators import portal_view
from tenants.roles import Perm

from .records import may_read_records, processing_record, record_csv, record_filename, record_pdf


def _record(request):
    if not may_read_records(request.membership.role):
        raise PermissionDenied
    return processing_record(request.tenant)


def _download(content, *, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@require_safe
@portal_view(Perm.VIEW)
def processing_record_page(request):
    return render(request, "compliance/portal/record.html", {"record": _record(request)})


@require_safe
@portal_view(Perm.VIEW)
def processing_record_csv(request):
    record = _record(request)
    return _download(record_csv(record), content_type="text/csv; charset=utf-8",
                     filename=record_filename(record, "csv"))


@require_safe
@portal_view(Perm.VIEW)
def processing_record_pdf(request):
    record = _record(request)
    return _download(record_pdf(record), content_type="application/pdf", filename=record_filename(record, "pdf"))
