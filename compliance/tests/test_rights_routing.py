from unittest import mock

from django.core import mail
from django.core.exceptions import ValidationError

from compliance import rights
from compliance.models import RequestStatus, RoutedRequest
from compliance.registry import PersonalDataHandler, handlers, register_handler, unregister_handler
from tenants.scope import ScopeError
from webhooks.models import WebhookDelivery
from webhooks.services import endpoint_create

from .rights_helpers import EMAIL, PHONE, FakeHandler, RightsTestCase, mails_to


class RegistryTests(RightsTestCase):
    def test_the_fake_is_a_handler_and_is_removed_after_the_test(self):
        self.assertIsInstance(self.handler, PersonalDataHandler)
        self.assertIn(self.handler, handlers())
        unregister_handler(self.handler.name)
        self.assertNotIn(self.handler, handlers())

    def test_an_object_that_is_no_handler_is_refused(self):
        with self.assertRaises(TypeError):
            register_handler(object())


class RoutingTests(RightsTestCase):
    def test_a_person_called_by_two_tenants_gets_one_copy_in_each_inbox(self):
        self.handler.hold(self.alpha, phone=PHONE)
        self.handler.hold(self.beta, email=EMAIL)
        request = self.verified()
        self.assertEqual(request.status, RequestStatus.AWAITING_CONTROLLER)
        self.assertFalse(request.staff_handled)
        copies = self.copies(request)
        self.assertEqual(set(copies), {"alpha", "beta"})
        self.assertEqual(copies["alpha"].matched_on, ["phone"])
        self.assertEqual(copies["beta"].matched_on, ["email"])
        self.assertEqual(copies["alpha"].due_at, request.due_at)
        with self.in_alpha():
            self.assertEqual([r.pk for r in RoutedRequest.objects.all()], [copies["alpha"].pk])
        with self.in_beta():
            self.assertEqual([r.pk for r in RoutedRequest.objects.all()], [copies["beta"].pk])
            self.assertFalse(RoutedRequest.objects.filter(pk=copies["alpha"].pk).exists())

    def test_the_dpo_or_else_the_owners_are_told_without_personal_data(self):
        self.handler.hold(self.alpha, phone=PHONE)
        self.handler.hold(self.beta, phone=PHONE)
        request = self.verified()
        for address in ("dpo@alpha.example", "charlie@beta.example"):
            [message] = mails_to(address)
            self.assertIn(request.reference, message.subject)
            self.assertNotIn("Jean", message.body)
            self.assertNotIn(EMAIL, message.body)
            self.assertNotIn("612345678", message.body)
        self.assertEqual(mails_to("alice@alpha.example"), [])  # Alpha has a DPO address

    def test_the_requester_hears_the_same_whether_or_not_data_exists(self):
        self.handler.hold(self.alpha, phone=PHONE)
        found = self.verified()
        found_letters = [m for m in mails_to(EMAIL)]
        mail.outbox.clear()
        not_found = self.verified(requester_phone="+33698765432")
        self.assertTrue(not_found.staff_handled)
        not_found_letters = mails_to(EMAIL)

        def normalised(messages, reference):
            return [(m.subject.replace(reference, "REF"), m.body.replace(reference, "REF")) for m in messages
                    if "code" not in m.subject]

        self.assertEqual(normalised(found_letters, found.reference),
                         normalised(not_found_letters, not_found.reference))
        self.assertNotIn("Alpha", " ".join(m.body for m in found_letters))

    def test_nobody_holding_data_keeps_the_request_with_staff(self):
        request = self.verified()
        self.assertEqual(request.status, RequestStatus.VERIFIED)
        self.assertTrue(request.staff_handled)
        self.assertEqual(self.copies(request), {})
        [message] = mails_to("privacy@callkom.io")
        self.assertIn(request.reference, message.subject)

    def test_a_request_about_callkom_goes_to_staff_even_when_a_tenant_matches(self):
        self.handler.hold(self.alpha, phone=PHONE)
        request = self.verified(about_callkom=True)
        self.assertTrue(request.staff_handled)
        self.assertEqual(self.copies(request), {})

    def test_handlers_run_under_the_all_tenants_scope(self):
        self.handler.hold(self.alpha, phone=PHONE)
        with self.assertRaises(ScopeError):
            self.handler.holders(phone_index="x", email_index=None)
        self.assertEqual(set(self.copies(self.verified())), {"alpha"})

    def test_several_handlers_are_combined(self):
        other = FakeHandler()
        other.name = "other"
        other.hold(self.beta, email=EMAIL)
        register_handler(other)
        self.addCleanup(unregister_handler, "other")
        self.handler.hold(self.alpha, phone=PHONE)
        self.assertEqual(set(self.copies(self.verified())), {"alpha", "beta"})

    def test_a_failing_handler_puts_the_request_in_error_for_staff(self):
        self.handler.fail = True
        with self.assertLogs("compliance.tasks", "ERROR"):
            request = self.verified()
        self.assertEqual(request.status, RequestStatus.ERROR)
        self.assertTrue(any(request.reference in m.subject for m in mails_to("privacy@callkom.io")))
        self.handler.fail = False
        self.handler.hold(self.alpha, phone=PHONE)
        staff = self.staff_user()
        with self.captureOnCommitCallbacks(execute=True):
            rights.transition(item=request, to=RequestStatus.VERIFIED, actor=staff, note="Handler fixed.")
        request.refresh_from_db()
        self.assertEqual(request.status, RequestStatus.AWAITING_CONTROLLER)
        self.assertEqual(len([m for m in mails_to(EMAIL) if "received" in m.subject]), 1)  # one receipt only

    def test_staff_forward_to_the_company_the_requester_named(self):
        request = self.verified(company_named="Beta")
        self.assertTrue(request.staff_handled)
        with self.captureOnCommitCallbacks(execute=True):
            request = rights.request_forward(request=request, tenants=[self.beta], actor=self.staff_user())
        self.assertEqual(request.status, RequestStatus.AWAITING_CONTROLLER)
        self.assertFalse(request.staff_handled)
        self.assertEqual(self.copies(request)["beta"].matched_on, ["staff"])
        with self.assertRaises(ValidationError):
            rights.request_forward(request=request, tenants=[self.beta], actor=self.staff_user())
        rights.request_forward(request=request, tenants=[self.alpha], actor=self.staff_user())
        self.assertEqual(set(self.copies(request)), {"alpha", "beta"})

    def test_routing_again_after_an_error_adds_only_the_missing_copies(self):
        self.handler.hold(self.alpha, phone=PHONE)
        request = self.verified()
        staff = self.staff_user()
        rights.transition(item=request, to=RequestStatus.ERROR, actor=staff, note="Beta was missed.")
        self.handler.hold(self.beta, email=EMAIL)
        with self.captureOnCommitCallbacks(execute=True):
            rights.transition(item=request, to=RequestStatus.VERIFIED, actor=staff)
        request.refresh_from_db()
        self.assertEqual(request.status, RequestStatus.AWAITING_CONTROLLER)
        self.assertEqual(set(self.copies(request)), {"alpha", "beta"})


class ForwardedWebhookTests(RightsTestCase):
    def test_each_controller_s_systems_hear_of_their_copy_without_the_person_s_details(self):
        self.handler.hold(self.alpha, phone=PHONE)
        self.handler.hold(self.beta, phone=PHONE)
        with self.in_alpha(), self.settings(WEBHOOKS_ALLOW_INSECURE=True, WEBHOOKS_ALLOW_PRIVATE=True):
            endpoint_create(tenant=self.alpha, url="http://127.0.0.1:9/hook", events=["rights_request.forwarded"])
        with mock.patch("webhooks.tasks.webhook_deliver.delay"):
            request = self.verified()
        copies = self.copies(request)
        with self.in_alpha():
            [delivery] = WebhookDelivery.objects.all()
            body = delivery.payload
        self.assertEqual(delivery.event, "rights_request.forwarded")
        self.assertIn(str(copies["alpha"].pk), body)
        self.assertIn(request.reference, body)
        for personal in ("Jean", EMAIL, "612345678"):
            self.assertNotIn(personal, body)
        with self.in_beta():
            self.assertFalse(WebhookDelivery.objects.exists())  # Beta has no endpoint: nothing is sent for it
