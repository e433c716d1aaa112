"""Tasks of the campaigns app. Each takes ids, re-reads what it needs in the tenant's scope, and calls one service,
imported inside the task.

The names keep the ``calls.`` prefix they had before the campaigns app left the calls app: beat's rows and the
messages already queued name them so.
"""

from celery import shared_task

from tenants.tasks import tenant_task

from .models import Campaign, ContactImport


@shared_task(name="calls.dialer_tick")
def dialer_tick():
    """Every minute (beat): hand each running campaign of an active tenant to ``campaign_dial``, in its scope."""
    from tenants.models import Tenant
    from tenants.scope import all_tenants_scope

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

    campaign = Campaign.objects.filter(pk=campaign_id, status=Campaign.Status.RUNNING).first()
    if campaign is None:
        return None
    return campaign_dial_due(campaign=campaign).as_dict()


@tenant_task(name="calls.contact_import_run")
def contact_import_run(tenant, import_id: str):
    """Check and import an uploaded contact file (a no-op for an import that is gone or no longer queued)."""
    from .services.imports import import_run

    contact_import = ContactImport.objects.filter(pk=import_id).first()
    if contact_import is None:
        return None
    return import_run(contact_import=contact_import).status
