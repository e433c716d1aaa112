"""Download of the call reports as CSV, with the call list's filters (see ``calls.reports_csv``)."""

from collections.abc import AsyncIterator, Iterator

from asgiref.sync import sync_to_async
from django.core.exceptions import PermissionDenied
from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from tenants.decorators import portal_view
from tenants.roles import Perm

from . import selectors
from .forms import CallFilterForm
from .reports_csv import may_export_reports, report_csv_chunks, report_export_record


async def _pulled_in_thread(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Serve a database-backed iterator to an ASGI server one piece at a time.

    Under ASGI, Django turns a synchronous iterator into a list before sending it (memory grows with the
    export); this generator instead runs each step of the iterator in the request's thread, where its database
    connection lives, and closes it (releasing the cursor) when the client goes away.
    """
    step = sync_to_async(next, thread_sensitive=True)
    try:
        while (chunk := await step(chunks, None)) is not None:
            yield chunk
    finally:
        await sync_to_async(chunks.close, thread_sensitive=True)()


def _streamed(request, chunks: Iterator[bytes]):
    return _pulled_in_thread(chunks) if isinstance(request, ASGIRequest) else chunks


@require_safe
@portal_view(Perm.VIEW)
def call_reports_csv(request):
    """Stream the reports of the calls the list's filters select; bad filters answer 400 on the list's page."""
    if not may_export_reports(request.membership.role):
        raise PermissionDenied
    form = CallFilterForm(request.GET, tenant=request.tenant)
    zone = selectors.tenant_zone(request.tenant)
    if not form.is_valid():
        return render(request, "calls/call_list.html", {"form": form, "page": None, "zone": zone}, status=400)
    filters = form.filters()
    calls = selectors.calls_filtered(tenant=request.tenant, **filters)
    report_export_record(tenant=request.tenant, actor=request.user, filters=filters)
    response = StreamingHttpResponse(_streamed(request, report_csv_chunks(calls, zone=zone)),
                                     content_type="text/csv; charset=utf-8")
    stamp = timezone.now().astimezone(zone).strftime("%Y-%m-%d")
    response["Content-Disposition"] = f'attachment; filename="call-reports-{request.tenant.slug}-{stamp}.csv"'
    response["Cache-Control"] = "private, no-store"
    return response
