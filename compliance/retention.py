"""Retention: delete each tenant's data once the period the tenant chose for its category has passed.

A run covers one tenant. It fixes the cut-off of every category when it starts (from the tenant's settings), then
asks every registered handler that purges a category for one batch at a time (``registry.retention_handlers``).
Each batch is its own transaction, which deletes the rows and adds them to the run's counts together: a process
that dies after a batch has committed loses nothing, and the run, resumed with the same cut-offs by the next
``purge_expired``, neither deletes nor counts anything twice. A category is done when every handler has nothing left
to purge in it; rows past the cut-off that an active legal hold covers stay, and the run records how many.

``purge_expired`` goes over every tenant (suspended ones too: their periods run on), each in its own scope and run;
a failing tenant's run is marked failed and the others go on. Then it purges CALLKOM's own records of rights
requests (the intake, which belongs to no tenant) five years after they closed and once no company's copy is left.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Exists, Max, OuterRef, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tenants.models import Tenant, TenantSettings
from tenants.scope import all_tenants_scope, tenant_scope

from . import registry
from .models import CLOSED_STATUSES, LegalHold, RetentionCategory, RetentionRun, RightsRequest, RoutedRequest

logger = logging.getLogger(__name__)

C = RetentionCategory
BATCH_SIZE = 500
PLATFORM_RIGHTS_REQUEST_DAYS = 1825  # the limitation period: proof that each request was handled

# The tenant setting that holds each category's period, in days.
PERIOD_FIELDS = {
    C.RECORDINGS: "retention_recordings_days",
    C.TRANSCRIPTS: "retention_transcripts_days",
    C.REPORTS: "retention_reports_days",
    C.AI_PAYLOADS: "retention_ai_payloads_days",
    C.AI_METADATA: "retention_ai_metadata_days",
    C.RIGHTS_FILES: "retention_rights_files_days",
    C.TECHNICAL_LOGS: "retention_technical_logs_days",
}

# Why each category's ceiling is what it is, for the portal's page.
CEILING_REASONS = {
    C.RECORDINGS: _("CNIL guidance on call recording: recordings are kept six months at most."),
    C.TRANSCRIPTS: _("CNIL guidance on call recording: documents drawn from a call are kept one year at most."),
    C.REPORTS: _("CNIL guidance on call recording: documents drawn from a call are kept one year at most."),
    C.AI_PAYLOADS: _("The exact requests sent to an AI hold what was said: kept for audits, one year at most."),
    C.AI_METADATA: _("Proof of what was sent to which AI provider, kept for the limitation period (five years)."),
    C.RIGHTS_FILES: _("Proof that each request was handled, kept for the limitation period (five years)."),
    C.TECHNICAL_LOGS: _("Webhook deliveries, dialer decisions and import reports, one year at most."),
}


# Holds -----------------------------------------------------------------------------------------------------------

def holds_of(tenant: Tenant) -> registry.Holds:
    """What the tenant's active legal holds cover now, the calls of the people held included (read again for each
    batch: a hold placed during a run counts from the next batch)."""
    call_ids, phones, emails = set(), set(), set()
    for ids, phone, email in LegalHold.objects.filter(tenant=tenant, released_at__isnull=True).values_list(
            "call_ids", "phone_index", "email_index"):
        call_ids |= _canonical_call_ids(ids)
        phones |= {phone} - {""}
        emails |= {email} - {""}
    phones, emails = frozenset(phones), frozenset(emails)
    if phones or emails:
        for handler in registry.handlers():
            call_ids |= handler.held_call_ids(tenant, phone_indexes=phones, email_indexes=emails)
    return registry.Holds(call_ids=frozenset(call_ids), phone_indexes=phones, email_indexes=emails)


def _canonical_call_ids(values) -> set[str]:
    """Call ids spelled as ``str(uuid)``, the form every store compares; a value that is no call id holds nothing."""
    found = set()
    for value in values or ():
        try:
            found.add(str(uuid.UUID(str(value))))
        except ValueError:
            continue
    return found


# Runs ------------------------------------------------------------------------------------------------------------

def retention_periods_in_force(tenant: Tenant) -> dict[str, int]:
    """The tenant's period of each category, in days (the platform defaults when it has no settings row)."""
    settings = TenantSettings.objects.filter(tenant=tenant).first() or TenantSettings(tenant=tenant)
    return {category: getattr(settings, name) for category, name in PERIOD_FIELDS.items()}


def retention_cutoffs(*, tenant: Tenant, now: datetime.datetime) -> dict[str, datetime.datetime]:
    """Rows older than these (strictly) are past their period."""
    periods = retention_periods_in_force(tenant)
    return {category: now - datetime.timedelta(days=days) for category, days in periods.items()}


@transaction.atomic
def retention_run_start(*, tenant: Tenant, trigger: str, now: datetime.datetime | None = None) -> RetentionRun:
    """Start a run with every category's cut-off fixed now, so that resuming it later deletes the same rows."""
    now = now or timezone.now()
    cutoffs = {category: cutoff.isoformat() for category, cutoff in retention_cutoffs(tenant=tenant, now=now).items()}
    return RetentionRun.objects.create(tenant=tenant, trigger=trigger, cutoffs=cutoffs, started_at=now,
                                       counts=dict.fromkeys(cutoffs, 0), held={})


@dataclass
class _Budget:
    """How many more batches that delete something this call may run (None: as many as it takes). A batch that
    finds nothing to do is free: it only confirms that a handler is done with a category."""

    left: int | None

    @property
    def spent(self) -> bool:
        return self.left is not None and self.left <= 0

    def spend(self) -> None:
        if self.left is not None:
            self.left -= 1


def retention_run_continue(*, run: RetentionRun, batch_size: int = BATCH_SIZE,
                           max_batches: int | None = None) -> RetentionRun:
    """Go on with a running run until it is complete (then mark it so), or until ``max_batches`` batches have
    deleted something.

    A category is done once its held count is recorded; a resumed run starts with the first category not done.
    Exceptions propagate: the batch in progress is rolled back and the run stays running, to be resumed.
    """
    run.refresh_from_db()
    budget = _Budget(max_batches)
    for category in C.values:
        done = category not in run.cutoffs or category in run.held
        if not done and not _category_purge(run, category, batch_size, budget):
            return run
    run.status, run.finished_at = RetentionRun.Status.COMPLETED, timezone.now()
    run.save(update_fields=["status", "finished_at"])
    return run


def _category_purge(run: RetentionRun, category: str, batch_size: int, budget: _Budget) -> bool:
    """Purge the category with every handler; False when the budget ran out first."""
    cutoff = datetime.datetime.fromisoformat(run.cutoffs[category])
    held = 0
    for handler in registry.retention_handlers(category):
        while True:
            if budget.spent:
                return False
            deleted, kept = _batch(run, handler, category, cutoff, batch_size)
            if not deleted:
                held += kept  # a handler's last answer covers all its held rows
                break
            budget.spend()
    _tally(run, category, held=held)  # and with it, the category is done
    return True


@transaction.atomic
def _batch(run: RetentionRun, handler, category: str, cutoff: datetime.datetime, batch_size: int) -> tuple[int, int]:
    """One batch: the handler's deletions and the run's count commit together or not at all."""
    deleted, kept = handler.purge(run.tenant, category, cutoff=cutoff, batch_size=batch_size,
                                  held=holds_of(run.tenant))
    if deleted:
        _tally(run, category, deleted=deleted)
    return deleted, kept


@transaction.atomic
def _tally(run: RetentionRun, category: str, *, deleted: int = 0, held: int | None = None) -> None:
    """Add to the run's count of the category, or set its held count, under a lock on the run's row."""
    locked = RetentionRun.objects.select_for_update().get(pk=run.pk)
    locked.counts[category] = locked.counts.get(category, 0) + deleted
    if held is not None:
        locked.held[category] = held
    locked.save(update_fields=["counts", "held"])
    run.counts, run.held = locked.counts, locked.held


def retention_run_fail(*, run: RetentionRun, error: BaseException) -> RetentionRun:
    """Record that a run stopped on an error (for CALLKOM staff; the customer sees that it failed)."""
    run = RetentionRun.objects.get(pk=run.pk)
    run.status, run.finished_at = RetentionRun.Status.FAILED, timezone.now()
    run.error = f"{type(error).__name__}: {error}"[:300]
    run.save(update_fields=["status", "finished_at", "error"])
    return run


def retention_preview(*, tenant: Tenant, now: datetime.datetime | None = None) -> dict[str, tuple[int, int]]:
    """What a run started now would delete, and keep under a hold, per category; changes nothing (a dry run)."""
    held = holds_of(tenant)
    preview = {}
    for category, cutoff in retention_cutoffs(tenant=tenant, now=now or timezone.now()).items():
        answers = [handler.purgeable(tenant, category, cutoff=cutoff, held=held)
                   for handler in registry.retention_handlers(category)]
        preview[category] = (sum(n for n, _kept in answers), sum(kept for _n, kept in answers))
    return preview


# Every tenant ----------------------------------------------------------------------------------------------------

@dataclass
class PurgeOutcome:
    runs: list[RetentionRun] = field(default_factory=list)
    rights_requests: int = 0  # CALLKOM's own records of requests deleted (platform level)

    @property
    def failed(self) -> list[RetentionRun]:
        return [run for run in self.runs if run.status == RetentionRun.Status.FAILED]


def purge_expired(*, trigger: str, now: datetime.datetime | None = None, tenant: Tenant | None = None,
                  batch_size: int = BATCH_SIZE) -> PurgeOutcome:
    """Run retention for one tenant, or for every tenant and then CALLKOM's own records of rights requests.

    A tenant's running run (a crash interrupted it) is resumed with its own cut-offs rather than a new one started.
    """
    now = now or timezone.now()
    if tenant is not None:
        return PurgeOutcome(runs=[_tenant_purge(tenant, trigger, now, batch_size)])
    with all_tenants_scope("retention: list the tenants"):
        tenant_ids = list(Tenant.objects.order_by("pk").values_list("pk", flat=True))
    runs = [_tenant_purge(Tenant.objects.get(pk=tenant_id), trigger, now, batch_size) for tenant_id in tenant_ids]
    return PurgeOutcome(runs=runs, rights_requests=rights_requests_purge(now=now, batch_size=batch_size))


def _tenant_purge(tenant: Tenant, trigger: str, now: datetime.datetime, batch_size: int) -> RetentionRun:
    with tenant_scope(tenant):
        run = (RetentionRun.objects.filter(tenant=tenant, status=RetentionRun.Status.RUNNING).order_by("started_at")
               .first() or retention_run_start(tenant=tenant, trigger=trigger, now=now))
        try:
            return retention_run_continue(run=run, batch_size=batch_size)
        except Exception as error:  # noqa: BLE001 - one tenant's failure must not stop the others' retention
            logger.exception("Retention run %s of tenant %s failed", run.pk, tenant.slug)
            return retention_run_fail(run=run, error=error)


def _expired_requests(cutoff: datetime.datetime):
    """Closed intake records, quiet since the cut-off, with no company's copy left and no person held."""
    held = LegalHold.objects.filter(released_at__isnull=True).filter(
        Q(phone_index=OuterRef("phone_index")) & ~Q(phone_index="")
        | Q(email_index=OuterRef("email_index")) & ~Q(email_index=""))
    return (RightsRequest.objects.filter(status__in=CLOSED_STATUSES).order_by()
            .annotate(last_activity=Coalesce(Max("events__at"), "received_at"))
            .filter(last_activity__lt=cutoff)
            .exclude(Exists(RoutedRequest.objects.filter(request=OuterRef("pk"))))
            .exclude(Exists(held)))


def rights_requests_purgeable(*, now: datetime.datetime) -> int:
    """How many of CALLKOM's records of rights requests ``rights_requests_purge`` would delete now (a dry run)."""
    with all_tenants_scope("retention: rights requests"):
        return _expired_requests(now - datetime.timedelta(days=PLATFORM_RIGHTS_REQUEST_DAYS)).count()


def rights_requests_purge(*, now: datetime.datetime, batch_size: int = BATCH_SIZE) -> int:
    """Delete CALLKOM's records of rights requests (with their timeline and codes) past the platform period."""
    cutoff = now - datetime.timedelta(days=PLATFORM_RIGHTS_REQUEST_DAYS)
    deleted = 0
    with all_tenants_scope("retention: rights requests"):
        while True:
            with transaction.atomic():
                ids = list(_expired_requests(cutoff).values_list("pk", flat=True)[:batch_size])
                if not ids:
                    break
                _total, by_model = RightsRequest.objects.filter(pk__in=ids).delete()
                deleted += by_model.get(RightsRequest._meta.label, 0)
    if deleted:
        logger.info("Retention deleted %d rights request records", deleted)
    return deleted
