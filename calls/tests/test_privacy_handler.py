"""The calls app's personal-data handler, end to end: data made through the calls services, requests carried out
through the compliance workflow, and every remaining row decrypted to check what is left."""

import io
import json
import re
import tempfile
import zipfile

import pytest
from auditlog.models import LogEntry
from django.core.files.storage import default_storage
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from calls import services
from calls.models import (
    Call,
    CallReport,
    Contact,
    DoNotCall,
    DoNotCallSource,
    Recording,
    SupervisorAction,
    Utterance,
)
from calls.personal_data import CallsPersonalData
from calls.recording import CallRecorder, recording_store
from campaigns.models import CampaignTarget, ContactList, ContactListEntry
from compliance import fulfilment, rights
from compliance.models import AIInvocation, ErasureLog, EventKind, LegalHold, RequestStatus
from compliance.registry import DataSubject, handlers
from compliance.selectors import ai_log_chain_verify, is_held
from compliance.services import ai_invocation_append
from compliance.tests.rights_helpers import EMAIL, PHONE, RightsTestCase, mails_to
from tenants.crypto import email_index, phone_index
from tenants.scope import all_tenants_scope
from voice.audio import tone

# Rights requests have deadlines; the export's download link expires.
pytestmark = pytest.mark.clock

S = RequestStatus
OTHER_PHONE = "+33698765432"
LINK = re.compile(r"https?://\S+/privacy/downloads/([^/\s]+)/")


class CallsDataTestCase(RightsTestCase):
    """Alpha called Jean Martin (a contact, in a list and a campaign), and Jean called Alpha back from another phone
    (the report has his e-mail); Alpha also called Marie Curie. Beta called Jean too."""

    def setUp(self):
        super().setUp()
        media = tempfile.TemporaryDirectory()
        self.addCleanup(media.cleanup)
        self.enterContext(override_settings(MEDIA_ROOT=media.name))
        with self.in_alpha():
            script = services.demo_scripts_ensure(tenant=self.alpha)[1]
            self.jean = services.contact_create(tenant=self.alpha, phone=PHONE, name="Jean Martin", email=EMAIL,
                                                company="Martin SARL", notes="Jean prefers mornings")
            self.outbound = self.call(script, self.jean, "My name is Jean Martin, call me on 06 12 34 56 78.",
                                      {"name": "Jean Martin", "phone": PHONE, "email": EMAIL, "need": "A kitchen"})
            self.inbound = self.call(script, None, "Hello, Jean Martin again.",
                                     {"name": "Jean Martin", "email": EMAIL, "need": "Call back"})
            services.call_supervise(call=self.outbound, user=self.alice, command="note",
                                    note="Jean Martin sounded keen")
            recorder = CallRecorder()
            recorder.caller_frame(tone(20))
            self.recording = recording_store(call=self.outbound, recorder=recorder)
            lst = ContactList.objects.create(tenant=self.alpha, name="Prospects")
            ContactListEntry.objects.create(tenant=self.alpha, contact_list=lst, contact=self.jean)
            campaign = self.alpha_campaign(script, lst)
            CampaignTarget.objects.create(tenant=self.alpha, campaign=campaign, contact=self.jean)
            self.marie = services.contact_create(tenant=self.alpha, phone=OTHER_PHONE, name="Marie Curie",
                                                 email="marie@example.org")
            ContactListEntry.objects.create(tenant=self.alpha, contact_list=lst, contact=self.marie)
            self.marie_call = self.call(script, self.marie, "I am Marie Curie.",
                                        {"name": "Marie Curie", "phone": OTHER_PHONE})
            self.before = ai_log_chain_verify(self.alpha)
        with self.in_beta():
            beta_script = services.demo_scripts_ensure(tenant=self.beta)[1]
            self.beta_jean = services.contact_create(tenant=self.beta, phone=PHONE, name="Jean Martin",
                                                     notes="Beta's customer")
            self.beta_call = self.call(beta_script, self.beta_jean, "Jean Martin speaking.", {"name": "Jean Martin"})

    def call(self, script, contact, caller_says, report):
        tenant = script.tenant
        call = services.call_create(tenant=tenant, script=script, direction="outbound" if contact else "inbound",
                                    contact=contact)
        services.call_record_conversation(call=call, transcript=[
            {"speaker": "agent", "text": "Hello, I am a virtual assistant."},
            {"speaker": "caller", "text": caller_says},
        ], turn_metrics=[], interruptions=0, providers_used=["fake"])
        services.call_report_save(call=call, report=report, summary=f"Talked with {report['name']}.", source="local")
        Call.objects.filter(pk=call.pk).update(special_category=True)
        ai_invocation_append(tenant=tenant, call_id=call.pk, provider="fake", role="llm", model="m", region="eu",
                             started_at=timezone.now(), duration_ms=5, outcome="ok", request_sha256="a" * 64,
                             request_bytes=10, payload=f"caller: {caller_says}")
        return Call.objects.get(pk=call.pk)

    def alpha_campaign(self, script, contact_list):
        from campaigns.models import Campaign

        return Campaign.objects.create(tenant=self.alpha, name="Spring", script=script, contact_list=contact_list,
                                       legal_basis="consent")

    def carried_out(self, kind, tenant=None, changes=None, **overrides):
        """Submit, verify, route (by the real handler), approve and carry out the copy of ``tenant`` (Alpha)."""
        tenant = tenant or self.alpha
        routed = self.copies(self.verified(kind=kind, **overrides))[tenant.slug]
        actor = self.alice if tenant == self.alpha else self.charlie
        with self.in_alpha() if tenant == self.alpha else self.in_beta(), \
                self.captureOnCommitCallbacks(execute=True):
            rights.decide(routed=routed, approve=True, reason="", actor=actor)
            return fulfilment.request_fulfil(routed=routed, actor=actor, changes=changes)

    def decrypted_alpha(self) -> str:
        """Every personal value left in Alpha's call data and AI log, decrypted, as one text."""
        with self.in_alpha():
            values = [*Utterance.objects.values_list("text", flat=True),
                      *SupervisorAction.objects.values_list("note", flat=True),
                      *AIInvocation.objects.values_list("payload", flat=True)]
            for report in CallReport.objects.all():
                values += [report.summary, report.name, report.phone, report.email, report.need]
            for contact in Contact.objects.all():
                values += [contact.name, contact.phone, contact.email, contact.company, contact.notes]
        return "\n".join(values)


class HandlerTests(CallsDataTestCase):
    def test_it_is_registered_and_finds_the_holders_by_either_index(self):
        handler = next(h for h in handlers() if h.name == "calls")
        self.assertIsInstance(handler, CallsPersonalData)
        with all_tenants_scope("test"):
            self.assertEqual(handler.holders(phone_index=phone_index(PHONE), email_index=None),
                             {self.alpha.pk, self.beta.pk})
            self.assertEqual(handler.holders(phone_index=None, email_index=email_index(EMAIL)), {self.alpha.pk})
            self.assertEqual(handler.holders(phone_index=None, email_index=None), set())

    def test_a_subject_without_index_matches_nothing(self):
        with self.in_alpha():
            counts = CallsPersonalData().erase(self.alpha, DataSubject())
            self.assertEqual(set(counts.values()), {0})
            self.assertEqual(Utterance.objects.count(), 6)

    def test_the_subject_keeps_its_values_out_of_repr(self):
        self.assertNotIn(PHONE, repr(DataSubject(phone_index="x", phone=PHONE, email=EMAIL)))


class AccessTests(CallsDataTestCase):
    def test_the_export_holds_exactly_the_persons_data(self):
        routed = self.carried_out("access")
        self.assertEqual(routed.status, S.COMPLETED)
        [link] = [LINK.search(m.body).group(1) for m in mails_to(EMAIL) if LINK.search(m.body)]
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(reverse("privacy-download", args=[link]))
        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
            everything = json.loads(archive.read("data.json"))["data"]
            summary = archive.read("summary.html").decode()
        data = everything["calls"]
        [contact] = data["contacts"]
        self.assertEqual((contact["name"], contact["phone"], contact["email"], contact["notes"]),
                         ("Jean Martin", PHONE, EMAIL, "Jean prefers mornings"))
        self.assertEqual([entry["list"] for entry in everything["campaigns"]["contact_lists"]], ["Prospects"])
        self.assertEqual({call["id"] for call in data["calls"]}, {str(self.outbound.pk), str(self.inbound.pk)})
        outbound = next(call for call in data["calls"] if call["id"] == str(self.outbound.pk))
        self.assertIn("call me on 06 12 34 56 78", outbound["utterances"][1]["text"])
        self.assertEqual(outbound["report"]["need"], "A kitchen")
        self.assertEqual(outbound["supervisor_notes"][0]["note"], "Jean Martin sounded keen")
        self.assertEqual(outbound["recording"]["duration_ms"], self.recording.duration_ms)
        self.assertNotIn("path", outbound["recording"])
        self.assertEqual(data["do_not_call"], [])
        text = json.dumps(data) + summary
        for other in ("Marie", OTHER_PHONE, "Beta's customer", str(self.beta_call.pk)):
            self.assertNotIn(other, text)
        self.assertIn("Jean prefers mornings", summary)
        self.assertIn("Supervisor notes", summary)


class ErasureTests(CallsDataTestCase):
    def test_nothing_of_the_person_remains_and_everything_else_stays(self):
        routed = self.carried_out("erasure")
        self.assertEqual(routed.status, S.COMPLETED)
        left = self.decrypted_alpha()
        for trace in ("Jean", "Martin", "612345678", "06 12 34 56 78", EMAIL, "A kitchen", "keen"):
            self.assertNotIn(trace, left)
        for kept in ("Marie Curie", OTHER_PHONE, "I am Marie Curie."):
            self.assertIn(kept, left)
        with self.in_alpha():
            calls = {call.pk: call for call in Call.objects.all()}
            self.assertEqual(set(calls), {self.outbound.pk, self.inbound.pk, self.marie_call.pk})
            self.assertIsNone(calls[self.outbound.pk].contact_id)
            self.assertTrue(calls[self.outbound.pk].special_category)  # statistics keep their meaning
            self.assertFalse(Recording.objects.exists())
            self.assertEqual(ContactListEntry.objects.count(), 1)  # Marie's
            self.assertFalse(CampaignTarget.objects.exists())
            self.assertTrue(ai_log_chain_verify(self.alpha).ok)
            self.assertEqual(ai_log_chain_verify(self.alpha).rows, self.before.rows)
            self.assertEqual(AIInvocation.objects.get(call_id=self.marie_call.pk).payload, "caller: I am Marie Curie.")
            log = dict(ErasureLog.objects.filter(routed=routed).values_list("store", "count"))
        self.assertFalse(default_storage.exists(self.recording.path))
        self.assertEqual(log, {"calls.utterances": 4, "calls.recordings": 1, "calls.reports": 2,
                               "calls.supervisor_notes": 1, "compliance.ai_payloads": 2,
                               "campaigns.contact_list_entries": 1, "campaigns.campaign_targets": 1,
                               "calls.contacts": 1, "calls.calls_anonymised": 2, "fake.rows": 0})
        with self.in_beta():  # Beta's copy is Beta's decision: its data is untouched
            self.assertEqual(Contact.objects.get().notes, "Beta's customer")
            self.assertEqual(Utterance.objects.filter(call=self.beta_call).count(), 2)
        self.login(self.alice)
        page = self.client.get(reverse("privacy-request-detail", args=["alpha", routed.pk]))
        self.assertContains(page, "calls.utterances")

    def test_an_objection_survives_a_later_erasure(self):
        self.carried_out("objection", requester_phone="", requester_email=EMAIL)  # found by e-mail only
        with self.in_alpha():
            entry = DoNotCall.objects.get()
        self.assertEqual((entry.phone, entry.source), (PHONE, DoNotCallSource.RIGHTS_REQUEST))
        self.carried_out("erasure")
        with self.in_alpha():
            self.assertEqual(DoNotCall.objects.get().phone, PHONE)
        with all_tenants_scope("test"):  # the entry still routes later requests to Alpha
            self.assertIn(self.alpha.pk, CallsPersonalData().holders(phone_index=phone_index(PHONE),
                                                                     email_index=None))


class RectificationTests(CallsDataTestCase):
    def test_values_change_and_blind_indexes_follow(self):
        routed = self.carried_out("rectification", changes={"name": "Jean Dupont", "phone": "06 11 22 33 44",
                                                             "email": "JEAN@Dupont.example"})
        self.assertEqual(routed.status, S.COMPLETED)
        with self.in_alpha():
            jean = Contact.objects.get(pk=self.jean.pk)
            report = CallReport.objects.get(call=self.inbound)
            marie = Contact.objects.get(pk=self.marie.pk)
            [note] = routed.events.filter(kind=EventKind.FULFILMENT).values_list("note", flat=True)
        self.assertEqual((jean.name, jean.phone, jean.email), ("Jean Dupont", "+33611223344", "jean@dupont.example"))
        self.assertEqual(jean.phone_index, phone_index("+33611223344"))
        self.assertEqual(jean.email_index, email_index("jean@dupont.example"))
        self.assertEqual((report.name, report.phone_index), ("Jean Dupont", phone_index("+33611223344")))
        self.assertEqual(marie.name, "Marie Curie")
        self.assertIn("calls.contacts: 1", note)
        self.assertIn("calls.reports: 2", note)
        self.assertIn("name: Jean Martin", note)  # before, encrypted in the note
        self.assertIn("name: Jean Dupont", note)  # after
        everything = " ".join(str(entry.changes) for entry in LogEntry.objects.all())
        self.assertNotIn("Dupont", everything)
        self.assertNotIn("Jean", everything)


class RestrictionTests(CallsDataTestCase):
    def test_a_restriction_holds_the_person_and_reports_what_it_covers(self):
        routed = self.carried_out("restriction")
        with self.in_alpha():
            self.assertTrue(is_held(self.alpha, phone_index=self.jean.phone_index))
            self.assertFalse(is_held(self.alpha, phone_index=self.marie.phone_index))
            [note] = routed.events.filter(kind=EventKind.FULFILMENT).values_list("note", flat=True)
            self.assertEqual(LegalHold.objects.get().routed, routed)
        self.assertIn("calls.calls: 2", note)
        with self.in_beta():
            self.assertFalse(is_held(self.beta, phone_index=self.beta_jean.phone_index))
