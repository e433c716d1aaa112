import json

from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.apps import apps
from django.db import connection

from tenants.audit import excluded_fields
from tenants.crypto import is_encrypted_field
from tenants.models import Tenant, TenantSettings
from tenants.services import tenant_settings_update, tenant_update
from tenants.testing import TwoTenantTestCase


class AuditTests(TwoTenantTestCase):
    def test_every_encrypted_field_of_an_audited_model_is_excluded(self):
        audited = [model for model in apps.get_models() if auditlog.contains(model)]
        self.assertIn(Tenant, audited)
        for model in audited:
            encrypted = {f.name for f in model._meta.concrete_fields if is_encrypted_field(f)}
            self.assertLessEqual(encrypted, excluded_fields(model), model._meta.label)

    def test_a_change_of_an_encrypted_field_never_reaches_the_log(self):
        tenant_update(tenant=self.alpha, dpo_email="secret.dpo@alpha.example", dpo_name="Secret Name",
                      legal_name="Alpha Holding SAS")
        entries = LogEntry.objects.get_for_object(self.alpha)
        text = json.dumps([[e.changes, e.object_repr, e.additional_data] for e in entries])
        self.assertIn("Alpha Holding SAS", text)
        self.assertNotIn("secret.dpo", text)
        self.assertNotIn("Secret Name", text)

    def test_encrypted_values_are_not_in_clear_in_the_database(self):
        tenant_update(tenant=self.alpha, dpo_email="secret.dpo@alpha.example")
        with connection.cursor() as cursor:
            cursor.execute("SELECT dpo_email FROM tenants_tenant WHERE id = %s", [self.alpha.pk])
            stored = cursor.fetchone()[0]
        self.assertNotIn("secret.dpo", stored)
        self.alpha.refresh_from_db()
        self.assertEqual(self.alpha.dpo_email, "secret.dpo@alpha.example")

    def test_settings_change_is_logged_with_its_tenant(self):
        with self.in_alpha():
            tenant_settings_update(tenant_settings=TenantSettings.objects.get(), recording_enabled=True)
            entry = LogEntry.objects.get_for_model(TenantSettings).latest("timestamp")
        self.assertEqual(entry.additional_data, {"tenant": self.alpha.pk})
        self.assertEqual(entry.changes_dict["recording_enabled"], ["False", "True"])

    def test_activity_page_shows_only_own_tenant_changes(self):
        tenant_update(tenant=self.beta, legal_name="Beta Confidential Name")
        tenant_update(tenant=self.alpha, legal_name="Alpha Visible Name")
        self.login(self.alice)
        response = self.client.get("/t/alpha/activity/")
        self.assertContains(response, "Alpha Visible Name")
        self.assertNotContains(response, "Beta Confidential Name")
