from celery import shared_task

from tenants.tasks import tenant_task

from .delivery import report_ready_emit
from .models import Call
from .reporting import call_report_generate


@tenant_task(name="calls.call_finalize")
def call_finalize(tenant, call_id: str, mode: str = "auto"):
    """Write the report of a call that has ended (a no-op for a call that is gone or still running)."""
    call = Call.objects.select_related("script", "tenant").filter(pk=call_id).first()
    if call is None or not call.is_over:
        return None
    report = call_report_generate(call=call, mode=mode)
    report_ready_emit(report=report)
    return str(report.pk)


@tenant_task(name="calls.call_dial")
def call_dial(tenant, call_id: str):
    """Dial a queued outbound call through LiveKit (a no-op for a call that is gone or no longer queued)."""
    from .outbound import call_dial_now

    call = Call.objects.select_related("tenant", "script", "contact").filter(pk=call_id).first()
    if call is None or call.status != Call.Status.QUEUED:
        return None
    return call_dial_now(call=call).status


@shared_task(name="calls.dialer_tick")
def dialer_tick():
    """Every minute (beat): hand each running campaign of an active tenant to ``campaign_dial``, in its scope."""
    from tenants.models import Tenant
    from tenants.scope import all_tenants_scope

    from .models import Campaign

    with all_tenants_scope("dialer: find the running campaigns"):
        running = list(Campaign.objects.filter(status=Campaign.Status.RUNNING, tenant__status=Tenant.Status.ACTIVE)
                       .order_by("pk").values_list("tenant_id", "pk"))
    for tenant_id, campaign_id in running:
        campaign_dial.delay(tenant_id, campaign_id)
    return len(running)


@tenant_task(name="calls.campaign_dial")
def campaign_dial(tenant, campaign_id: int):
    """Place a campaign's due calls and record its skips (a no-op for a campaign that is gone or not running)."""
    from .dialer import campaign_dial_due
    from .models import Campaign

    campaign = Campaign.objects.filter(pk=campaign_id, status=Campaign.Status.RUNNING).first()
    if campaign is None:
        return None
    return campaign_dial_due(campaign=campaign).as_dict()


@tenant_task(name="calls.contact_import_run")
def contact_import_run(tenant, import_id: str):
    """Check and import an uploaded contact file (a no-op for an import that is gone or no longer queued)."""
    from .contacts import import_run
    from .models import ContactImport

    contact_import = ContactImport.objects.filter(pk=import_id).first()
    if contact_import is None:
        return None
    return import_run(contact_import=contact_import).status
