from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from compliance import retention
from compliance.models import RetentionCategory, RetentionRun
from tenants.models import Tenant
from tenants.scope import tenant_scope


class Command(BaseCommand):
    help = ("Delete what is past its retention period, for every tenant (or one), category by category; data under a "
            "legal hold stays. Resumes a run that a crash interrupted. With --dry-run, only count.")

    def add_arguments(self, parser):
        parser.add_argument("--tenant", help="Slug of one tenant; every tenant (and CALLKOM's own records of rights "
                                             "requests) when omitted.")
        parser.add_argument("--batch-size", type=int, default=retention.BATCH_SIZE,
                            help="Rows per transaction (default %(default)s).")
        parser.add_argument("--dry-run", action="store_true", help="Report what would be deleted; delete nothing.")

    def handle(self, *args, **options):
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        tenant = None
        if options["tenant"]:
            tenant = Tenant.objects.filter(slug=options["tenant"]).first()
            if tenant is None:
                raise CommandError(f"No tenant with slug {options['tenant']!r}.")
        if options["dry_run"]:
            return self._dry_run(tenant)
        outcome = retention.purge_expired(trigger=RetentionRun.Trigger.COMMAND, tenant=tenant,
                                          batch_size=options["batch_size"])
        for run in outcome.runs:
            self.stdout.write(f"{run.tenant.slug}: {run.status}; " + _counts(run.counts, run.held))
            if run.error:
                self.stdout.write(f"  error: {run.error}")
        if tenant is None:
            self.stdout.write(f"CALLKOM rights request records: {outcome.rights_requests} deleted")
        if outcome.failed:
            raise CommandError(f"{len(outcome.failed)} tenant run(s) failed.")

    def _dry_run(self, only: Tenant | None):
        now = timezone.now()
        for tenant in [only] if only else Tenant.objects.order_by("pk"):
            with tenant_scope(tenant):
                preview = retention.retention_preview(tenant=tenant, now=now)
            counts = {category: n for category, (n, _kept) in preview.items()}
            held = {category: kept for category, (_n, kept) in preview.items()}
            self.stdout.write(f"{tenant.slug}: dry run, would delete " + _counts(counts, held))
        if only is None:
            self.stdout.write(f"CALLKOM rights request records: {retention.rights_requests_purgeable(now=now)} "
                              "would be deleted")


def _counts(counts: dict, held: dict) -> str:
    """"recordings 3, transcripts 10, …" and, when any, the rows kept under a hold."""
    deleted = ", ".join(f"{category} {counts.get(category, 0)}" for category in RetentionCategory.values)
    kept = ", ".join(f"{category} {held[category]}" for category in RetentionCategory.values if held.get(category))
    return deleted + (f" (kept under a legal hold: {kept})" if kept else "")
