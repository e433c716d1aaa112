"""A tenant always has its settings, whichever way it was created: the admin's add form, the shell, a data
migration or a bulk insert. A missing row is never an error page."""

from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import TransactionTestCase

from tenants.models import Tenant, TenantSettings
from tenants.roles import Role
from tenants.scope import all_tenants_scope, tenant_scope
from tenants.services import membership_add, user_create
from tenants.testing import PASSWORD, TwoTenantTestCase


def rendered_values(form) -> dict:
    """What a browser would send back for ``form`` untouched: each field's rendered value (an unticked box is
    left out, as a browser does) and the hidden initial value Django renders beside a field with a callable
    default."""
    data = {}
    for field in form:
        value = field.value()
        if value is None or value is False:
            continue
        data[field.html_name] = "on" if value is True else value
        if field.field.show_hidden_initial:
            data[field.html_initial_name] = data[field.html_name]
    return data


class TenantSettingsInvariantTests(TwoTenantTestCase):
    def setUp(self):
        self.staff = user_create(email="staff@callkom.example", password=PASSWORD, is_staff=True)
        self.staff.is_superuser = True
        self.staff.save()
        self.dora = user_create(email="dora@gamma.example", password=PASSWORD)

    def settings_rows(self, tenant) -> list[TenantSettings]:
        with all_tenants_scope("test"):
            return list(TenantSettings.objects.filter(tenant=tenant))

    def admin_add(self, **inline) -> Tenant:
        """Post the admin's add form with the tenant's own fields, the inline as rendered, changed by ``inline``."""
        self.client.force_login(self.staff)
        page = self.client.get("/admin/tenants/tenant/add/")
        [formset] = [admin_formset.formset for admin_formset in page.context["inline_admin_formsets"]]
        data = {**rendered_values(formset.management_form), **rendered_values(formset.forms[0])}
        data.update({f"{formset.prefix}-0-{name}": value for name, value in inline.items()})
        data.update({"name": "Gamma", "slug": "gamma", "legal_name": "Gamma SA", "country": "FR",
                     "region_policy": Tenant.RegionPolicy.EU_ONLY})
        response = self.client.post("/admin/tenants/tenant/add/", data)
        self.assertEqual(response.status_code, 302, response.content[:2000])
        return Tenant.objects.get(slug="gamma")

    def dashboard_status(self, tenant) -> int:
        with tenant_scope(tenant):
            membership_add(tenant=tenant, user=self.dora, role=Role.OWNER)
        self.client.force_login(self.dora)
        return self.client.get(f"/t/{tenant.slug}/").status_code

    def test_the_admin_add_form_with_the_settings_left_untouched_gives_the_defaults(self):
        tenant = self.admin_add()
        [row] = self.settings_rows(tenant)
        self.assertEqual((row.recording_enabled, row.retention_recordings_days), (False, 180))
        self.assertEqual(self.dashboard_status(tenant), 200)

    def test_the_admin_add_form_with_settings_filled_in_keeps_them_in_the_one_row(self):
        tenant = self.admin_add(recording_enabled="on", retention_recordings_days="90")
        [row] = self.settings_rows(tenant)
        self.assertEqual((row.recording_enabled, row.retention_recordings_days), (True, 90))

    def test_a_bare_create_gets_its_settings(self):
        tenant = Tenant.objects.create(name="Gamma", slug="gamma", legal_name="Gamma SA")
        [row] = self.settings_rows(tenant)
        self.assertEqual(row.calling_timezone, "Europe/Paris")
        self.assertEqual(Tenant.objects.get(pk=tenant.pk).settings, row)
        self.assertEqual(self.dashboard_status(tenant), 200)

    def test_saving_a_tenant_again_adds_no_second_row(self):
        tenant = Tenant.objects.create(name="Gamma", slug="gamma", legal_name="Gamma SA")
        tenant.name = "Gamma Cuisines"
        tenant.save()
        self.assertEqual(len(self.settings_rows(tenant)), 1)

    def test_a_tenant_inserted_without_its_row_gets_one_on_first_use(self):
        """As a data migration's historical model or a bulk insert would leave it: no save() of ours ran."""
        [tenant] = Tenant.objects.bulk_create([Tenant(name="Gamma", slug="gamma", legal_name="Gamma SA")])
        if tenant.pk is None:  # backends that do not return ids from a bulk insert
            tenant = Tenant.objects.get(slug="gamma")
        self.assertEqual(self.settings_rows(tenant), [])
        self.assertEqual(self.dashboard_status(tenant), 200)
        [row] = self.settings_rows(tenant)
        self.assertEqual(Tenant.objects.get(pk=tenant.pk).settings, row)
        self.assertEqual(row.retention_transcripts_days, 365)

    def test_the_settings_page_of_a_tenant_without_its_row_answers(self):
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {TenantSettings._meta.db_table} WHERE tenant_id = %s", [self.alpha.pk])
        self.client.force_login(self.alice)
        self.assertEqual(self.client.get("/t/alpha/settings/").status_code, 200)
        self.assertEqual(len(self.settings_rows(self.alpha)), 1)


class BackfillMigrationTests(TransactionTestCase):
    """Migration 0006 gives a settings row to every tenant an earlier schema left without one."""

    def test_a_tenant_without_settings_gets_them_when_migrating(self):
        executor = MigrationExecutor(connection)
        executor.migrate([("tenants", "0005_idempotency")])
        old = executor.loader.project_state([("tenants", "0005_idempotency")]).apps
        old.get_model("tenants", "Tenant").objects.create(name="Gamma", slug="gamma", legal_name="Gamma SA")
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
        tenant = Tenant.objects.get(slug="gamma")
        self.assertEqual([row.tenant_id for row in TenantSettings._base_manager.filter(tenant=tenant)],
                         [tenant.pk])
