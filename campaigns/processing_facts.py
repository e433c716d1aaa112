"""What the campaigns app did for a tenant, as figures for the record of processing (``compliance.records``).
Counts only, never content."""

import datetime

from django.db.models import Q

from tenants.models import Tenant

from .models import Campaign


def campaigns_processing_facts(tenant: Tenant, *, since: datetime.datetime) -> dict:
    """Return the campaigns created or calling since the date."""
    active = Q(created_at__gte=since) | Q(calls__created_at__gte=since)
    return {"campaigns": Campaign.objects.filter(active, tenant=tenant).distinct().count()}
