"""The record of processing (GDPR Art. 30(2)): built from live data, on screen, as CSV and PDF, and for staff."""

import csv
import datetime
import io
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from compliance import records
from compliance.records import processing_record
from compliance.services import ai_invocation_append
from subprocessors.services import subprocessor_seed_defaults
from tenants.models import StaffAccess, TenantSettings
from tenants.roles import Role
from tenants.scope import all_tenants_scope
from tenants.services import membership_add, tenant_settings_update, user_create
from tenants.testing import TwoTenantTestCase

pytestmark = pytest.mark.clock  # the record covers the last 12 months, counted from now, and shows its dates


def invoke(tenant, provider, role, region="eu", **overrides):
    fields = dict(tenant=tenant, provider=provider, role=role, model="m", region=region, started_at=timezone.now(),
                  duration_ms=10, outcome="ok", request_sha256="a" * 64, request_bytes=10, no_training=True)
    return ai_invocation_append(**{**fields, **overrides})


def section(record, title):
    return next(s for s in record.sections if s.title == title)


def items(record, title):
    return dict(row[:2] for row in section(record, title).rows)


def uncompressed():
    """PDFs drawn without stream compression, so that their text can be searched in the bytes."""
    return mock.patch("reportlab.rl_config.pageCompression", 0)


class RecordContentTests(TwoTenantTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        subprocessor_seed_defaults()

    def record(self, tenant=None):
        tenant = tenant or self.alpha
        with self.in_alpha() if tenant == self.alpha else self.in_beta():
            return processing_record(tenant)

    def categories(self, tenant=None):
        return items(self.record(tenant), "Categories of processing carried out on the controller's behalf")

    def test_recording_appears_only_when_the_tenant_records(self):
        self.assertNotIn("Call recording (encrypted audio)", self.categories())
        with self.in_alpha():
            tenant_settings_update(tenant_settings=TenantSettings.objects.get(), recording_enabled=True)
        recording = self.categories()["Call recording (encrypted audio)"]
        self.assertIn("Recording on", recording)
        self.assertNotIn("Call recording (encrypted audio)", self.categories(self.beta))

    def test_categories_follow_the_facts_apps_report(self):
        def facts(tenant, *, since):
            return {"calls_inbound": 3, "campaigns": 2, "reports": 1} if tenant == self.alpha else {}

        with mock.patch.dict(records._facts_functions, {"test": facts}):
            alpha, beta = self.categories(), self.categories(self.beta)
        self.assertEqual(alpha["Inbound calls answered by an AI agent"], "3 calls")
        self.assertEqual(alpha["Calling campaigns (automated dialing of contact lists, with calling rules)"],
                         "2 campaigns")
        self.assertNotIn("Outbound calls placed by an AI agent", alpha)
        self.assertNotIn("Inbound calls answered by an AI agent", beta)
        self.assertIn("Forwarding and carrying out data-subject rights requests", beta)

    def test_ai_categories_come_from_the_ai_log(self):
        with self.in_alpha():
            invoke(self.alpha, "google-stt", "stt")
            invoke(self.alpha, "google-stt", "stt")
            invoke(self.alpha, "mistral", "summary")
        categories = self.categories()
        self.assertEqual(categories["Speech-to-text transcription of the calls"], "2 AI requests")
        self.assertIn("1 AI request", categories[
            "Post-call summary and structured report (name, contact details, need, appointment)"])
        self.assertNotIn("Voice synthesis", categories)

    def test_only_providers_used_in_the_last_12_months_appear(self):
        long_ago = timezone.now() - datetime.timedelta(days=400)
        with self.in_alpha():
            invoke(self.alpha, "mistral", "llm")
            invoke(self.alpha, "google-stt", "stt", region="eu")
            invoke(self.alpha, "local-espeak", "tts", region="local", started_at=long_ago)
            invoke(self.alpha, "fake-llm", "llm", region="us")
        with self.in_beta():
            invoke(self.beta, "google-tts", "tts")
        rows = section(self.record(), "Subprocessors and transfers").rows
        names = " ".join(row[0] for row in rows)
        self.assertIn("Mistral AI (Mistral AI SAS, FR)", names)
        self.assertIn("Google Cloud Speech-to-Text", names)
        self.assertNotIn("Text-to-Speech", names)
        self.assertNotIn("eSpeak", names)
        mistral = next(row for row in rows if row[0].startswith("Mistral"))
        self.assertEqual(mistral[1:5], ("Conversation", "eu", "Processing in the EU", "No"))
        self.assertIn("Zero retention: On", mistral[5])
        google = next(row for row in rows if row[0].startswith("Google"))
        self.assertTrue(google[3].startswith("Standard Contractual Clauses. EU regional endpoint"), google[3])
        self.assertIn("Register: list version 1 of", section(self.record(), "Subprocessors and transfers").note)
        unknown = next(row for row in rows if row[0] == "fake-llm")
        self.assertEqual(unknown[3:5], ("Not in the register", "Yes"))

    def test_retention_periods_and_instructions_are_the_settings_in_force(self):
        with self.in_alpha():
            tenant_settings_update(tenant_settings=TenantSettings.objects.get(), retention_recordings_days=90,
                                   ai_excluded_fields=["email", "notes"], default_legal_basis="consent")
        record = self.record()
        retention = items(record, "Retention periods in force")
        self.assertEqual(retention["Recordings"], "90 days")
        self.assertEqual(retention["AI request payloads"], "30 days")
        instructions = items(record, "Controller's instructions and legal bases")
        self.assertEqual(instructions["Fields never sent to an AI"], "E-mail address, Notes")
        self.assertEqual(instructions["Default legal basis of the calls"], "Consent (Art. 6(1)(a))")

    def test_controller_processor_and_security(self):
        record = self.record()
        controller = items(record, "Controller")
        self.assertEqual((controller["Legal name"], controller["DPO e-mail"]), ("Alpha SAS", "dpo@alpha.example"))
        self.assertEqual(items(self.record(self.beta), "Controller")["DPO e-mail"], "Not provided")
        self.assertEqual(items(record, "Processor")["Name"], "CALLKOM")
        with self.in_alpha():
            invoke(self.alpha, "mistral", "llm")
        security = items(self.record(), "Technical and organisational security measures")
        self.assertIn("1 rows in this controller's chain", security["Hash-chained AI request log"])
        self.assertIn("Fernet", security["Encryption at rest"])


class RecordPageTests(TwoTenantTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.dpo = user_create(email="dpo@alpha.example", password="x" * 12)
        with cls.in_alpha(cls):
            membership_add(tenant=cls.alpha, user=cls.dpo, role=Role.DPO)

    def url(self, name, slug="alpha"):
        return reverse(name, args=[slug])

    def test_page_shows_the_record(self):
        self.login(self.dpo)
        response = self.client.get(self.url("processing-record"))
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Alpha SAS")
        self.assertContains(response, "Retention periods in force")
        self.assertContains(response, self.url("processing-record-pdf"))

    def test_csv_has_one_line_per_item(self):
        self.login(self.alice)
        response = self.client.get(self.url("processing-record-csv"))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "text/csv; charset=utf-8")
        self.assertIn("attachment", response["Content-Disposition"])
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        self.assertEqual(rows[0], ["Section", "Item", "Value"])
        self.assertTrue(all(len(row) == 3 for row in rows))
        self.assertIn(["Controller", "Legal name", "Alpha SAS"], rows)
        self.assertIn(["Retention periods in force", "Recordings", "180 days"], rows)

    def test_pdf_holds_the_record(self):
        self.login(self.alice)
        with uncompressed():
            response = self.client.get(self.url("processing-record-pdf"))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "application/pdf")
        self.assertTrue(response.content.startswith(b"%PDF"))
        self.assertIn(b"(Alpha SAS)", response.content)
        self.assertIn(b"Retention periods in force", response.content)

    def test_a_viewer_is_refused_and_another_tenant_sees_nothing(self):
        for name in ("processing-record", "processing-record-csv", "processing-record-pdf"):
            self.login(self.bob)
            self.assertEqual(self.client.get(self.url(name)).status_code, 403, name)
            self.login(self.charlie)
            self.assertEqual(self.client.get(self.url(name)).status_code, 404, name)
            self.assertEqual(self.client.get(self.url(name, "beta")).status_code, 200, name)


class StaffRecordTests(TwoTenantTestCase):
    def test_staff_download_any_tenants_record_and_the_access_is_logged(self):
        staff = user_create(email="staff@callkom.example", password="x" * 12, is_staff=True)
        staff.is_superuser = True
        staff.save()
        self.login(staff)
        page = self.client.get(reverse("admin:tenants_tenant_change", args=[self.beta.pk]))
        url = reverse("admin:tenants_tenant_processing_record", args=[self.beta.pk, "pdf"])
        self.assertContains(page, url)
        with uncompressed():
            response = self.client.get(url)
        self.assertEqual(response.status_code, 200)
        self.assertIn(b"(Beta SARL)", response.content)
        csv_response = self.client.get(reverse("admin:tenants_tenant_processing_record", args=[self.beta.pk, "csv"]))
        self.assertIn("Beta SARL", csv_response.content.decode())
        with all_tenants_scope("test"):
            exports = StaffAccess.objects.filter(tenant=self.beta, action="export")
            self.assertEqual(exports.count(), 2)
        bad = reverse("admin:tenants_tenant_processing_record", args=[self.beta.pk, "xlsx"])
        self.assertEqual(self.client.get(bad).status_code, 404)
