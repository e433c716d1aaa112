from django.core.management.base import BaseCommand, CommandError

from .models import Tenant
from .scope import tenant_scope


class TenantCommand(BaseCommand):
    """A management command that works on one tenant, given by --tenant SLUG, inside its scope."""

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="Slug of the tenant.")

    def handle(self, *args, **options):
        slug = options.pop("tenant")
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise CommandError(f"No tenant with slug {slug!r}.")
        with tenant_scope(tenant):
            return self.handle_tenant(tenant, *args, **options)

    def handle_tenant(self, tenant, *args, **options):
        raise NotImplementedError
