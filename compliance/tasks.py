"""Background jobs of the compliance app. A task takes ids, re-reads, and calls a service."""

import logging

from celery import shared_task
from django.utils.translation import gettext as _

from tenants.models import Tenant

from . import fulfilment, retention, rights
from .models import RequestStatus, RetentionRun, RightsRequest

logger = logging.getLogger(__name__)


@shared_task(name="compliance.rights_route")
def rights_route(request_id: int):
    """Route a request that has just been verified. Running apart from the verification answer keeps that answer
    the same whether or not data was found. A failure puts the request in error for CALLKOM staff."""
    request = RightsRequest.objects.filter(pk=request_id).first()
    if request is None:
        return None
    try:
        return rights.request_route(request=request).status
    except Exception:
        logger.exception("Routing of rights request %s failed", request.reference)
        rights.transition(item=request, to=RequestStatus.ERROR, note=_("Routing failed; see the server logs."))
        return RequestStatus.ERROR


@shared_task(name="compliance.rights_reminders")
def rights_reminders():
    """Daily (beat): remind controllers and staff of the deadlines 7 and 2 days ahead."""
    return rights.reminders_send()


@shared_task(name="compliance.exports_purge")
def exports_purge():
    """Daily (beat): delete the files of data exports whose download link has expired."""
    return fulfilment.exports_purge()


@shared_task(name="compliance.purge_expired")
def purge_expired(tenant_id: int | None = None, trigger: str = RetentionRun.Trigger.SCHEDULE):
    """Daily (beat), or for one tenant when CALLKOM staff ask: delete what is past its retention period. Returns
    each tenant's run (status and counts per category), by slug."""
    tenant = None
    if tenant_id is not None:
        tenant = Tenant.objects.filter(pk=tenant_id).first()
        if tenant is None:
            return None
    outcome = retention.purge_expired(trigger=trigger, tenant=tenant)
    return {"runs": {run.tenant.slug: {"status": run.status, "counts": run.counts, "held": run.held}
                     for run in outcome.runs},
            "rights_requests": outcome.rights_requests}
