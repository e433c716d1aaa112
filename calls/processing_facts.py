"""What the calls app did for a tenant, as figures for the record of processing (``compliance.records``).

Registered in ``CallsConfig.ready()``: the compliance app never imports calls, so it asks through its hook.
Counts only, never content: the record is read by people who need not see any call.
"""

import datetime

from django.db.models import Count

from tenants.models import Tenant

from .models import Call, CallReport, Contact, Recording


def calls_processing_facts(tenant: Tenant, *, since: datetime.datetime) -> dict:
    """Return the calls and reports since the date, and the contacts and recordings stored now."""
    calls = Call.objects.filter(tenant=tenant, created_at__gte=since).order_by()
    directions = dict(calls.values_list("direction").annotate(n=Count("id")))
    legal_bases = dict(calls.values_list("legal_basis").annotate(n=Count("id")))
    return {
        "calls_inbound": directions.get(Call.Direction.INBOUND, 0),
        "calls_outbound": directions.get(Call.Direction.OUTBOUND, 0),
        "legal_bases": legal_bases,
        "reports": CallReport.objects.filter(tenant=tenant, created_at__gte=since).count(),
        "contacts": Contact.objects.filter(tenant=tenant).count(),
        "recordings": Recording.objects.filter(tenant=tenant).count(),
    }
