"""The calls app emits call.completed when a call ends and report.ready once its report is written."""

import json

import pytest
from django.core import mail
from django.test import override_settings

from calls import services as calls
from calls.events import call_completed_payload
from calls.models import Call, Utterance
from calls.tasks import call_finalize
from tenants.testing import TwoTenantTestCase
from webhooks.models import WebhookDelivery
from webhooks.services import email_notification_create, endpoint_create
from webhooks.signing import verify

from .receiver import Receiver


@override_settings(WEBHOOKS_ALLOW_INSECURE=True, WEBHOOKS_ALLOW_PRIVATE=True,
                   CALLKOM_PUBLIC_URL="https://portal.callkom.example")
class CallEventTests(TwoTenantTestCase):
    def setUp(self):
        with self.in_alpha():
            self.script = calls.demo_scripts_ensure(tenant=self.alpha)[0]
            self.call = calls.call_create(tenant=self.alpha, script=self.script, direction=Call.Direction.INBOUND,
                                          channel=Call.Channel.WEB)

    def end_call(self):
        with self.captureOnCommitCallbacks(execute=True), self.in_alpha():
            calls.call_transition(call=self.call, to=Call.Status.IN_PROGRESS)
            for seq, text in enumerate(["Je m'appelle Jean Martin.", "Mon e-mail est jean.martin@example.fr."]):
                Utterance.objects.create(tenant=self.alpha, call=self.call, seq=seq, speaker="caller", text=text)
            calls.call_transition(call=self.call, to=Call.Status.COMPLETED, reason="completed")

    @pytest.mark.clock  # the signatures are checked against the clock (the replay window)
    def test_a_call_that_ends_and_its_report_reach_the_endpoint_signed(self):
        with Receiver([200]) as receiver:
            with self.in_alpha():
                endpoint = endpoint_create(tenant=self.alpha, url=receiver.url,
                                           events=["call.completed", "report.ready"])
            self.end_call()
            self.assertEqual([r.headers["Callkom-Event"] for r in receiver.requests], ["call.completed"])
            with self.captureOnCommitCallbacks(execute=True):
                call_finalize(self.alpha.pk, str(self.call.pk), "fake")
        completed, ready = receiver.requests
        for request in receiver.requests:
            verify(endpoint.secret, request.body, request.headers["Callkom-Signature"])
        call = json.loads(completed.body)["data"]
        self.assertEqual((call["call_id"], call["status"], call["direction"], call["script"], call["campaign_id"]),
                         (str(self.call.pk), "completed", "inbound", self.script.name, None))
        self.assertIsNotNone(call["ended_at"])
        self.assertIsInstance(call["duration_s"], int)
        self.assertEqual(call["portal_url"], f"https://portal.callkom.example/t/alpha/calls/{self.call.pk}/")
        envelope = json.loads(ready.body)
        self.assertEqual(ready.headers["Callkom-Event"], "report.ready")
        report = envelope["data"]
        self.assertEqual(report["call_id"], str(self.call.pk))
        self.assertEqual(report["name"], "Jean Martin")
        self.assertEqual(report["email"], "jean.martin@example.fr")
        self.assertEqual(set(report), {"call_id", "outcome", "summary", "name", "phone", "email", "company", "need",
                                       "appointment", "next_step", "special_category", "portal_url"})
        with self.in_alpha():
            self.assertEqual(WebhookDelivery.objects.filter(status="succeeded").count(), 2)

    def test_transitions_that_do_not_end_the_call_emit_nothing(self):
        with self.in_alpha():
            endpoint_create(tenant=self.alpha, url="http://127.0.0.1:9/unused", events=["call.completed"])
            with self.captureOnCommitCallbacks(execute=True):
                calls.call_transition(call=self.call, to=Call.Status.IN_PROGRESS)
            self.assertFalse(WebhookDelivery.objects.exists())

    def test_a_call_that_never_started_has_no_duration(self):
        self.call.started_at = None
        payload = call_completed_payload(self.call)
        self.assertIsNone(payload["duration_s"])
        self.assertIsNone(payload["started_at"])

    def test_report_ready_mails_a_link_only_unless_the_address_asked_for_the_content(self):
        with self.in_alpha():
            email_notification_create(tenant=self.alpha, email="sales@alpha.example", events=["report.ready"])
            email_notification_create(tenant=self.alpha, email="crm@alpha.example", events=["report.ready"],
                                      include_report=True)
            email_notification_create(tenant=self.alpha, email="calls@alpha.example", events=["call.completed"],
                                      active=False)
        self.end_call()
        self.assertEqual(mail.outbox, [])
        with self.captureOnCommitCallbacks(execute=True):
            call_finalize(self.alpha.pk, str(self.call.pk), "fake")
        by_address = {message.to[0]: message for message in mail.outbox}
        self.assertEqual(set(by_address), {"sales@alpha.example", "crm@alpha.example"})
        link = f"https://portal.callkom.example/t/alpha/calls/{self.call.pk}/"
        for message in by_address.values():
            self.assertIn(link, message.body)
            self.assertIn("Alpha", message.subject)
        private = ("Jean Martin", "jean.martin@example.fr")
        for value in private:
            self.assertNotIn(value, by_address["sales@alpha.example"].body)
            self.assertNotIn(value, by_address["sales@alpha.example"].subject)
            self.assertIn(value, by_address["crm@alpha.example"].body)
