"""A call's evidence bundle (JSON and PDF) with its hash-chain proof, and the calls app's facts for the record."""

import datetime
import json
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from calls.models import Call, Script
from calls.processing_facts import calls_processing_facts
from calls.services import call_create, demo_scripts_ensure
from campaigns.processing_facts import campaigns_processing_facts
from campaigns.tests.campaign_helpers import consented_campaign, usable_list
from compliance.models import AIInvocation, AILogHead, DpaAcceptance
from compliance.policies import dpa_accept, dpa_current, dpa_draft_create, dpa_publish
from compliance.records import processing_record
from compliance.services import ai_invocation_append
from subprocessors.models import Subprocessor
from subprocessors.register import register_publish
from subprocessors.services import subprocessor_seed_defaults
from tenants.roles import Role
from tenants.services import membership_add, user_create
from tenants.testing import TwoTenantTestCase

pytestmark = pytest.mark.clock  # the DPA and register versions in force when the call started; the record's year


def invoke(call, provider="mistral", role="llm", **overrides):
    fields = dict(tenant=call.tenant, call_id=call.pk, provider=provider, role=role, model="m", region="eu",
                  started_at=timezone.now(), duration_ms=25, outcome="ok", request_sha256="a" * 64,
                  request_bytes=120, response_sha256="b" * 64, response_bytes=40, minimised_fields=["email"],
                  redactions=1, no_training=True)
    return ai_invocation_append(**{**fields, **overrides})


def uncompressed():
    return mock.patch("reportlab.rl_config.pageCompression", 0)


class EvidenceTestCase(TwoTenantTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        subprocessor_seed_defaults()
        with cls.in_alpha(cls):
            cls.script = demo_scripts_ensure(tenant=cls.alpha)[0]
            cls.call = call_create(tenant=cls.alpha, script=cls.script, direction=Call.Direction.OUTBOUND)
            cls.other = call_create(tenant=cls.alpha, script=cls.script, direction=Call.Direction.INBOUND)
            # Interleaved, as concurrent calls write them: the call's second row chains to the other call's row.
            cls.first = invoke(cls.call, "google-stt", "stt")
            cls.between = invoke(cls.other)
            cls.second = invoke(cls.call, "fake-llm", "llm", region="us")
        with cls.in_beta(cls):
            script = demo_scripts_ensure(tenant=cls.beta)[0]
            cls.beta_call = call_create(tenant=cls.beta, script=script, direction=Call.Direction.INBOUND)
            invoke(cls.beta_call)

    def url(self, call=None, name="call-evidence", slug="alpha"):
        return reverse(name, args=[slug, (call or self.call).pk])

    def evidence_of_beta(self):
        self.login(self.charlie)
        response = self.client.get(self.url(self.beta_call, slug="beta"))
        self.assertEqual(response.status_code, 200)
        return json.loads(response.content)

    def evidence(self, call=None):
        self.login(self.alice)
        response = self.client.get(self.url(call))
        self.assertEqual(response.status_code, 200)
        return json.loads(response.content)


class EvidenceContentTests(EvidenceTestCase):
    def test_has_every_request_of_the_call_and_none_of_another(self):
        evidence = self.evidence()
        self.assertEqual([row["id"] for row in evidence["ai_invocations"]], [self.first.pk, self.second.pk])
        row = evidence["ai_invocations"][0]
        self.assertEqual((row["provider"], row["role"], row["region"]), ("google-stt", "stt", "eu"))
        self.assertEqual(row["request"], {"bytes": 120, "sha256": "a" * 64})
        self.assertEqual((row["minimised_fields"], row["redactions"], row["no_training"]), (["email"], 1, True))
        self.assertEqual(evidence["call"]["id"], str(self.call.pk))
        self.assertEqual(evidence["call"]["legal_basis"]["code"], "legitimate_interests")
        self.assertIsNone(evidence["call"]["campaign"])
        self.assertEqual(evidence["tenant"]["legal_name"], "Alpha SAS")

    def test_names_the_register_entries_and_says_what_is_not_recorded(self):
        subprocessors = self.evidence()["subprocessors"]
        self.assertEqual([entry["slug"] for entry in subprocessors["entries"]], ["google-stt"])
        self.assertEqual(subprocessors["entries"][0]["transfer_mechanism"], "scc")
        self.assertEqual(subprocessors["not_in_register"], ["fake-llm"])
        self.assertIsNone(subprocessors["dpa_version"])  # alpha had accepted no DPA when the call started
        self.assertEqual(subprocessors["dpa_current"], 1)
        self.assertIn("accepted when the call started", subprocessors["note"])

    def test_a_provider_entry_is_the_one_published_in_the_list_version_its_requests_recorded(self):
        with self.in_alpha():
            call = call_create(tenant=self.alpha, script=self.script, direction=Call.Direction.OUTBOUND)
            invoke(call, "google-stt", "stt", register_version="1")
            invoke(call, "mistral", "llm")  # written before versions were recorded
        Subprocessor.objects.filter(slug="google-stt").update(processing_region="us", transfer_mechanism="other")
        Subprocessor.objects.filter(slug="mistral").update(country="DE")
        self.assertEqual(register_publish(note="moved").number, 2)
        subprocessors = self.evidence(call)["subprocessors"]
        self.assertEqual(subprocessors["register_versions"], ["1"])
        google, mistral = subprocessors["entries"]
        self.assertEqual((google["slug"], google["processing_region"], google["transfer_mechanism"],
                          google["register_version"]), ("google-stt", "eu", "scc", 1))
        self.assertEqual((mistral["slug"], mistral["country"], mistral["register_version"]), ("mistral", "DE", None))

    def test_names_the_dpa_version_accepted_when_the_call_started(self):
        acceptance = dpa_accept(tenant=self.alpha, version=dpa_current(), actor=self.alice, ip_address=None)
        self.assertIsNone(self.evidence()["subprocessors"]["dpa_version"])  # accepted after the call: not counted
        before_the_call = self.call.created_at - datetime.timedelta(minutes=5)
        with self.in_alpha():
            DpaAcceptance.objects.filter(pk=acceptance.pk).update(accepted_at=before_the_call)
        subprocessors = self.evidence()["subprocessors"]
        self.assertEqual(subprocessors["dpa_version"], {
            "number": 1, "title": dpa_current().title, "accepted_by": "alice@alpha.example",
            "accepted_at": before_the_call.astimezone(datetime.UTC).isoformat()})
        draft = dpa_draft_create(title="DPA", body="Version 2.")
        dpa_publish(version=draft, actor=None)
        dpa_accept(tenant=self.alpha, version=dpa_current(), actor=self.alice, ip_address=None)
        subprocessors = self.evidence()["subprocessors"]
        self.assertEqual((subprocessors["dpa_version"]["number"], subprocessors["dpa_current"]), (1, 2))
        self.assertIsNone(self.evidence_of_beta()["subprocessors"]["dpa_version"])  # another tenant's acceptances

    def test_the_chain_proof_verifies_across_calls(self):
        proof = self.evidence()["chain_proof"]
        self.assertTrue(proof["verified"])
        first, second = proof["rows"]
        self.assertEqual((first["link"], first["prev_hash"]), ("start", "0" * 64))
        self.assertEqual((second["link"], second["predecessor_id"]), ("row", self.between.pk))
        self.assertEqual(second["prev_hash"], self.between.row_hash)
        self.assertEqual(second["recomputed_hash"], self.second.row_hash)
        self.assertEqual(proof["head"]["last_hash"], self.second.row_hash)

    def test_a_tampered_row_fails_the_proof(self):
        with self.in_alpha():
            AIInvocation.objects.filter(pk=self.first.pk).update(provider="somewhere-else")
        proof = self.evidence()["chain_proof"]
        self.assertFalse(proof["verified"])
        self.assertEqual([row["problem"] for row in proof["rows"]], ["content_changed", None])

    def test_a_changed_or_removed_row_of_another_call_fails_the_link(self):
        with self.in_alpha():
            AIInvocation.objects.filter(pk=self.between.pk).update(duration_ms=1)
        self.assertEqual(self.evidence()["chain_proof"]["rows"][1]["problem"], "predecessor_changed")
        with self.in_alpha():
            AIInvocation.objects.filter(pk=self.between.pk).delete()
        proof = self.evidence()["chain_proof"]
        self.assertFalse(proof["verified"])
        self.assertEqual(proof["rows"][1]["problem"], "predecessor_missing")

    def test_rows_pruned_by_retention_leave_an_anchor_the_proof_starts_from(self):
        with self.in_alpha():
            AIInvocation.objects.filter(pk=self.first.pk).delete()
            AILogHead.objects.filter(tenant=self.alpha).update(anchor_hash=self.first.row_hash, pruned=1)
        proof = self.evidence(self.other)["chain_proof"]
        self.assertTrue(proof["verified"])
        self.assertEqual((proof["rows"][0]["link"], proof["head"]["pruned"]), ("start", 1))

    def test_a_campaign_call_carries_the_campaigns_legal_basis_and_consent_proof(self):
        with self.in_alpha():
            campaign = consented_campaign(self.alpha, self.script, usable_list(self.alpha))
            call = call_create(tenant=self.alpha, script=self.script, direction=Call.Direction.OUTBOUND,
                               campaign=campaign, legal_basis=campaign.legal_basis)
        evidence = self.evidence(call)
        self.assertEqual(evidence["call"]["legal_basis"]["code"], "consent")
        self.assertEqual(evidence["call"]["campaign"]["consent_proof"], "CRM consent log 2026")
        self.assertEqual(evidence["ai_invocations"], [])
        self.assertTrue(evidence["chain_proof"]["verified"])

    def test_the_script_revision_is_the_audit_entry_in_force_at_the_call(self):
        script = self.evidence()["script"]
        self.assertIsNotNone(script["revision"])
        self.assertFalse(script["changed_since_call"])
        with self.in_alpha():
            edited = Script.objects.get(pk=self.script.pk)
            edited.goal = "A new goal"
            edited.save()
        self.assertTrue(self.evidence()["script"]["changed_since_call"])

    def test_pdf_renders_the_bundle(self):
        self.login(self.alice)
        with uncompressed():
            response = self.client.get(self.url(name="call-evidence-pdf"))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "application/pdf")
        self.assertTrue(response.content.startswith(b"%PDF"))
        self.assertIn(b"Alpha SAS", response.content)
        self.assertIn(b"Every row verifies.", response.content)
        self.assertIn(b"None accepted when the call started", response.content)


class EvidenceAccessTests(EvidenceTestCase):
    def test_another_tenant_gets_404(self):
        self.login(self.charlie)
        for name in ("call-evidence", "call-evidence-pdf"):
            self.assertEqual(self.client.get(self.url(name=name)).status_code, 404)
            self.assertEqual(self.client.get(self.url(name=name, slug="beta")).status_code, 404)
        self.login(self.alice)
        self.assertEqual(self.client.get(self.url(self.beta_call)).status_code, 404)

    def test_a_viewer_is_refused_and_a_dpo_is_not(self):
        self.login(self.bob)
        self.assertEqual(self.client.get(self.url()).status_code, 403)
        self.assertEqual(self.client.get(self.url(name="call-evidence-pdf")).status_code, 403)
        self.assertNotContains(self.client.get(reverse("call-detail", args=["alpha", self.call.pk])),
                               self.url())
        dpo = user_create(email="dpo@alpha.example", password="x" * 12)
        with self.in_alpha():
            membership_add(tenant=self.alpha, user=dpo, role=Role.DPO)
        self.login(dpo)
        self.assertEqual(self.client.get(self.url()).status_code, 200)
        self.assertContains(self.client.get(reverse("call-detail", args=["alpha", self.call.pk])), self.url())


class RecordFactsTests(EvidenceTestCase):
    def test_the_record_counts_the_tenants_calls(self):
        since = timezone.now() - datetime.timedelta(days=365)
        with self.in_alpha():
            facts = calls_processing_facts(self.alpha, since=since)
            campaign_facts = campaigns_processing_facts(self.alpha, since=since)
            record = processing_record(self.alpha)
        self.assertEqual((facts["calls_inbound"], facts["calls_outbound"]), (1, 1))
        self.assertEqual(facts["legal_bases"], {"legitimate_interests": 2})
        self.assertEqual((campaign_facts["campaigns"], facts["recordings"]), (0, 0))
        categories = dict(record.sections[2].rows)
        self.assertEqual(categories["Outbound calls placed by an AI agent"], "1 call")
        self.assertNotIn("Calling campaigns (automated dialing of contact lists, with calling rules)", categories)
