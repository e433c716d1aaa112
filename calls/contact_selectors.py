"""Reads of contact lists and imports for the portal, inside the request's tenant scope."""

from __future__ import annotations

from django.core.paginator import Page, Paginator
from django.db.models import Case, Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce

from .models import ContactImport, ContactList, ContactListEntry, RiskFinding

CONTACTS_PER_PAGE = 50
IMPORTS_SHOWN = 20


def _count(queryset: QuerySet) -> Subquery:
    return Coalesce(Subquery(queryset.order_by().values("contact_list").annotate(n=Count("pk")).values("n")[:1],
                             output_field=IntegerField()), Value(0))


def contact_lists_overview() -> QuerySet:
    """Every list with its number of contacts and of open findings (one query, no join fan-out)."""
    entries = ContactListEntry.objects.filter(contact_list=OuterRef("pk"))
    open_findings = RiskFinding.objects.filter(contact_list=OuterRef("pk"), status=RiskFinding.Status.OPEN)
    return ContactList.objects.annotate(contact_count=_count(entries), open_findings=_count(open_findings),
                                        ready=Case(When(Q(risk_checked_at__isnull=False) & Q(open_findings=0),
                                                        then=Value(True)), default=Value(False)))


def contact_list_counts() -> dict:
    lists = contact_lists_overview()
    return {"lists": lists.count(), "needing_attention": lists.filter(ready=False).count()}


def list_contacts_page(contact_list: ContactList, page_number) -> Page:
    """One page of the list's contacts, oldest entry first; a bad page number gives the first or last page."""
    entries = (ContactListEntry.objects.filter(contact_list=contact_list).select_related("contact")
               .order_by("pk"))
    return Paginator(entries, CONTACTS_PER_PAGE).get_page(page_number)


def list_findings(contact_list: ContactList) -> list[RiskFinding]:
    """The list's findings, open ones first."""
    findings = RiskFinding.objects.filter(contact_list=contact_list).select_related("resolved_by")
    order = {RiskFinding.Status.OPEN: 0, RiskFinding.Status.ACKNOWLEDGED: 1, RiskFinding.Status.FIXED: 2}
    return sorted(findings, key=lambda finding: (order[finding.status], finding.kind, finding.column))


def list_imports(contact_list: ContactList) -> QuerySet:
    return ContactImport.objects.filter(contact_list=contact_list).select_related("created_by")[:IMPORTS_SHOWN]


VALIDATION_SHARE = 20  # of the progress bar: checking the rows is much faster than writing them


def import_progress(contact_import: ContactImport) -> dict:
    """The progress bar of an import: checking the rows fills its first fifth, writing them the rest."""
    status = contact_import.status
    done = min(contact_import.processed_rows / contact_import.total_rows, 1.0) if contact_import.total_rows else 0.0
    if status == ContactImport.Status.COMPLETED:
        return {"phase": "done", "percent": 100}
    if status == ContactImport.Status.VALIDATING:
        return {"phase": "checking", "percent": round(VALIDATION_SHARE * done)}
    if status == ContactImport.Status.IMPORTING:
        return {"phase": "importing", "percent": round(VALIDATION_SHARE + (100 - VALIDATION_SHARE) * done)}
    if status == ContactImport.Status.NEEDS_DECISION:
        return {"phase": "decision", "percent": VALIDATION_SHARE}
    return {"phase": "waiting" if status in (ContactImport.Status.UPLOADED, ContactImport.Status.QUEUED) else "ended",
            "percent": 0}
