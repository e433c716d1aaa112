"""Create the demo data; safe to run again (it changes nothing that already exists)."""

from django.core.management.base import BaseCommand
from django.db import transaction

from calls.services import demo_scripts_ensure
from subprocessors.services import subprocessor_seed_defaults
from tenants.models import Membership, Tenant, User
from tenants.roles import Role
from tenants.scope import tenant_scope
from tenants.services import membership_add, tenant_create, user_create

DEMO_OWNER = ("owner@demo.example", "demo-owner-2026")
DEMO_STAFF = ("staff@callkom.example", "callkom-staff-2026")

def _user(email, password, **extra):
    user = User.objects.filter(email=email).first()
    return user or user_create(email=email, password=password, **extra)


class Command(BaseCommand):
    help = "Create the demo tenant, its owner, a CALLKOM staff user and the demo data of each app."

    @transaction.atomic
    def handle(self, *args, **options):
        owner = _user(*DEMO_OWNER, first_name="Camille", last_name="Martin", language="fr")
        staff = _user(*DEMO_STAFF, first_name="Alex", last_name="Staff", is_staff=True)
        if not staff.is_superuser:
            staff.is_superuser = True
            staff.save(update_fields=["is_superuser"])
        tenant = Tenant.objects.filter(slug="demo").first() or tenant_create(
            name="Demo Cuisines", slug="demo", legal_name="Demo Cuisines SAS", country="FR",
            dpo_name="Claire Dupont", dpo_email="dpo@demo.example",
        )
        with tenant_scope(tenant):
            if not Membership.objects.filter(user=owner).exists():
                membership_add(tenant=tenant, user=owner, role=Role.OWNER)
            scripts = demo_scripts_ensure(tenant=tenant)
        providers = subprocessor_seed_defaults()
        self.stdout.write(self.style.SUCCESS(
            f"Demo data ready ({len(scripts)} scripts and {len(providers)} subprocessors added)."))
        self.stdout.write(f"  Customer owner: {DEMO_OWNER[0]} / {DEMO_OWNER[1]}  (portal: /t/demo/)")
        self.stdout.write(f"  CALLKOM staff:  {DEMO_STAFF[0]} / {DEMO_STAFF[1]}  (admin: /admin/)")
