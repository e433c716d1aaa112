"""Create the demo data; safe to run again (it changes nothing that already exists)."""

from django.core.management.base import BaseCommand
from django.db import transaction

from calls.models import Script
from calls.services import contact_create, demo_scripts_ensure
from campaigns.models import Campaign, ContactList
from campaigns.services.campaigns import campaign_create
from campaigns.services.lists import contact_list_add, contact_list_check_risks, contact_list_create
from subprocessors.services import subprocessor_seed_defaults
from tenants.models import Membership, Tenant, User
from tenants.roles import Role
from tenants.scope import tenant_scope
from tenants.services import membership_add, tenant_create, user_create

DEMO_OWNER = ("owner@demo.example", "demo-owner-2026")
DEMO_STAFF = ("staff@callkom.example", "callkom-staff-2026")
# Numbers from the ranges ARCEP keeps for fiction (01 99 00, 04 65 71, 05 36 49 xx xx): they ring nobody.
DEMO_CONTACTS = [
    ("Jeanne Moreau", "+33199000101", "jeanne.moreau@example.org", "Atelier Moreau"),
    ("Louis Garnier", "+33465710102", "", "Garnier & Fils"),
    ("Inès Haddad", "+33536490103", "ines.haddad@example.org", "Boulangerie Haddad"),
]


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
            _demo_campaign(tenant, owner)
        providers = subprocessor_seed_defaults()
        self.stdout.write(self.style.SUCCESS(
            f"Demo data ready ({len(scripts)} scripts and {len(providers)} subprocessors added)."))
        self.stdout.write(f"  Customer owner: {DEMO_OWNER[0]} / {DEMO_OWNER[1]}  (portal: /t/demo/)")
        self.stdout.write(f"  CALLKOM staff:  {DEMO_STAFF[0]} / {DEMO_STAFF[1]}  (admin: /admin/)")


def _demo_campaign(tenant, owner):
    """A small business list, checked, and a draft campaign on it (start it once an outbound trunk is set)."""
    if ContactList.objects.filter(name="Clients professionnels (démo)").exists():
        return
    contact_list = contact_list_create(tenant=tenant, name="Clients professionnels (démo)", actor=owner,
                                       legal_basis="legitimate_interests",
                                       description="Artisans et commerçants qui ont demandé un devis.")
    contacts = [contact_create(tenant=tenant, name=name, phone=phone, email=email, company=company)
                for name, phone, email, company in DEMO_CONTACTS]
    contact_list_add(contact_list=contact_list, contacts=contacts)
    contact_list_check_risks(contact_list=contact_list)
    contact_list.refresh_from_db()
    script = Script.objects.get(name="Prise de rendez-vous cuisine")
    campaign_create(tenant=tenant, name="Relance devis cuisine (démo)", script=script, contact_list=contact_list,
                    legal_basis="legitimate_interests", audience=Campaign.Audience.BUSINESSES, created_by=owner)
