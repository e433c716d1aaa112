import datetime

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.utils import timezone

from tenants.commands import TenantCommand
from tenants.services import api_key_create


class Command(TenantCommand):
    help = "Create an API key for a tenant and print it alone on the last line (it is not stored in clear)."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--scopes", required=True, help="Comma-separated scopes, e.g. calls:read,calls:write.")
        parser.add_argument("--name", default="Command-line key")
        parser.add_argument("--expires-in-days", type=int, default=None)

    def handle_tenant(self, tenant, *args, **options):
        scopes = [s.strip() for s in options["scopes"].split(",") if s.strip()]
        days = options["expires_in_days"]
        expires_at = timezone.now() + datetime.timedelta(days=days) if days else None
        try:
            key, raw = api_key_create(tenant=tenant, name=options["name"], scopes=scopes, expires_at=expires_at)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        self.stdout.write(f"Created API key {key.prefix} for tenant {tenant.slug} with scopes {','.join(key.scopes)}.")
        self.stdout.write(raw)
