"""Downloads of a call's evidence bundle (see ``calls.evidence``): the JSON document and its PDF rendering.

For the people who answer to an auditor (``compliance.records.may_read_records``); another tenant's call is 404
like every other call page.
"""

import json

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_safe

from compliance.records import may_read_records
from tenants.decorators import portal_view
from tenants.roles import Perm

from .evidence import call_evidence, evidence_pdf
from .models import Call


def _evidence(request, call_id) -> dict:
    if not may_read_records(request.membership.role):
        raise PermissionDenied
    call = get_object_or_404(Call.objects.select_related("tenant", "script", "campaign__contact_list"), pk=call_id)
    return call_evidence(call)


def _download(content, *, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@require_safe
@portal_view(Perm.VIEW)
def call_evidence_json(request, call_id):
    evidence = _evidence(request, call_id)
    return _download(json.dumps(evidence, ensure_ascii=False, indent=2), content_type="application/json",
                     filename=f"call-evidence-{call_id}.json")


@require_safe
@portal_view(Perm.VIEW)
def call_evidence_pdf(request, call_id):
    return _download(evidence_pdf(_evidence(request, call_id)), content_type="application/pdf",
                     filename=f"call-evidence-{call_id}.pdf")
