from django.core.management.base import BaseCommand, CommandError

from compliance.selectors import ai_log_chain_verify
from tenants.models import Tenant
from tenants.scope import tenant_scope


class Command(BaseCommand):
    help = "Verify the hash chain of the AI call log of every tenant (or one); report the first broken link."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", help="Slug of one tenant; all tenants when omitted.")

    def handle(self, *args, **options):
        tenants = Tenant.objects.order_by("slug")
        if options["tenant"]:
            tenants = tenants.filter(slug=options["tenant"])
            if not tenants.exists():
                raise CommandError(f"No tenant with slug {options['tenant']!r}.")
        broken = 0
        for tenant in tenants:
            with tenant_scope(tenant):
                report = ai_log_chain_verify(tenant)
            if report.ok:
                self.stdout.write(f"{tenant.slug}: {report.rows} rows, chain intact")
            else:
                broken += 1
                where = "at the end" if report.broken_at == -1 else f"at row {report.broken_at}"
                self.stdout.write(f"{tenant.slug}: chain BROKEN {where}: {report.reason}")
        if broken:
            raise CommandError(f"{broken} tenant chain(s) broken.")
