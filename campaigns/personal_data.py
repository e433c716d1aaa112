"""The campaigns app's personal-data handler, for the rights-request workflow (``compliance.registry``): the lists
a called person's contacts are in and the campaigns that target them. Both hang on the calls app's contacts of the
person (``calls.personal_data.subject_contacts``); everything else about the person is the calls app's.

An erasure removes the list entries and campaign targets before the calls app deletes the contacts themselves (the
registry erases in the reverse order of registration), so that the erasure log counts them store by store. The
dialer's skips of an erased target go with it.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils.translation import gettext_noop

from calls.personal_data import subject_contacts
from compliance.registry import Counts, DataSubject, Rectification
from tenants.models import Tenant

from .models import CampaignTarget, ContactListEntry
from .retention import CampaignsRetention

# The labels of the exported keys, for the readable summary (see calls.personal_data.EXPORT_LABELS).
EXPORT_LABELS = (gettext_noop("Contact lists"), gettext_noop("Campaigns"), gettext_noop("List"),
                 gettext_noop("Added at"), gettext_noop("Attempts"))


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _deleted(queryset: QuerySet) -> int:
    """Delete and return how many rows of the queryset's own model went (not the cascades)."""
    _total, by_model = queryset.delete()
    return by_model.get(queryset.model._meta.label, 0)


class CampaignsPersonalData(CampaignsRetention):
    """List entries and campaign targets of the person's contacts; retention of the dialer's skips and of contact
    imports comes from :class:`campaigns.retention.CampaignsRetention`."""

    name = "campaigns"

    def holders(self, *, phone_index: str | None, email_index: str | None) -> set[int]:
        match = Q()
        if phone_index:
            match |= Q(contact__phone_index=phone_index)
        if email_index:
            match |= Q(contact__email_index=email_index)
        if not match:
            return set()
        entries = ContactListEntry.objects.filter(match).order_by().values_list("tenant_id", flat=True).distinct()
        return set(entries)

    def export(self, tenant: Tenant, subject: DataSubject) -> dict:
        contacts = subject_contacts(tenant, subject).values("pk")
        entries = (ContactListEntry.objects.filter(tenant=tenant, contact__in=contacts)
                   .select_related("contact_list").order_by("added_at", "pk"))
        targets = (CampaignTarget.objects.filter(tenant=tenant, contact__in=contacts)
                   .select_related("campaign").order_by("campaign__created_at", "pk"))
        return {
            "contact_lists": [{"list": entry.contact_list.name, "added_at": _iso(entry.added_at)}
                              for entry in entries],
            "campaigns": [{"name": target.campaign.name, "status": target.status, "attempts": target.attempts}
                          for target in targets],
        }

    def erase(self, tenant: Tenant, subject: DataSubject) -> Counts:
        contacts = subject_contacts(tenant, subject).values("pk")
        return {
            "campaigns.contact_list_entries": _deleted(ContactListEntry.objects.filter(tenant=tenant,
                                                                                       contact__in=contacts)),
            "campaigns.campaign_targets": _deleted(CampaignTarget.objects.filter(tenant=tenant,
                                                                                 contact__in=contacts)),
        }

    def rectify(self, tenant: Tenant, subject: DataSubject, changes: dict[str, str]) -> Rectification:
        """Nothing to correct here: the details are the contacts', which the calls app corrects."""
        return Rectification(counts={}, previous={})

    def restrict(self, tenant: Tenant, subject: DataSubject, restricted: bool) -> Counts:
        """The hold itself is in the compliance app; the dialer asks it before each call."""
        contacts = subject_contacts(tenant, subject).values("pk")
        return {"campaigns.campaign_targets": CampaignTarget.objects.filter(tenant=tenant,
                                                                           contact__in=contacts).count()}

    def object(self, tenant: Tenant, subject: DataSubject) -> Counts:
        """The do-not-call entry is the calls app's; the dialer reads it before each call."""
        return {}
