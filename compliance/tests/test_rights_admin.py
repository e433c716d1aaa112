import datetime

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from compliance.models import EventKind, RequestStatus, RightsRequest, RoutedRequest
from tenants.models import StaffAccess
from tenants.scope import all_tenants_scope

from .rights_helpers import EMAIL, PHONE, RightsTestCase, mails_to

S = RequestStatus

pytestmark = pytest.mark.clock  # receipt dates may not be in the future; extensions depend on today's date


class StaffAdminTests(RightsTestCase):
    def setUp(self):
        super().setUp()
        self.client.force_login(self.staff_user())

    def change_url(self, request):
        return reverse("admin:compliance_rightsrequest_change", args=[request.pk])

    def test_staff_intake_by_post_is_verified_and_routed(self):
        self.handler.hold(self.alpha, phone=PHONE)
        data = {"kind": "erasure", "channel": "post", "language": "fr", "received_at_0": "2026-01-31",
                "received_at_1": "10:00:00", "requester_name": "Jean Martin", "requester_email": "",
                "requester_phone": "06 12 34 56 78", "company_named": "Alpha", "details": "",
                "note": "Signed letter with ID.", "routed_copies-TOTAL_FORMS": "0"}
        self.assertEqual(self.client.get(reverse("admin:compliance_rightsrequest_add")).status_code, 200)
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(reverse("admin:compliance_rightsrequest_add"), data)
        request = RightsRequest.objects.get()
        self.assertEqual(response.status_code, 302, response.content.decode()[:3000])
        self.assertEqual((request.channel, request.status, request.created_by), ("post", S.AWAITING_CONTROLLER,
                                                                                 self.staff_user()))
        self.assertEqual(str(request.due_at), "2026-02-28")
        self.assertEqual(set(self.copies(request)), {"alpha"})
        letter = request.events.get(kind=EventKind.LETTER)
        self.assertIn(request.reference, letter.note)

    def test_intake_form_errors_are_shown_not_raised(self):
        tomorrow = timezone.localdate() + datetime.timedelta(days=1)
        data = {"kind": "access", "channel": "phone", "language": "en", "received_at_0": tomorrow.isoformat(),
                "received_at_1": "10:00", "requester_name": "X", "requester_phone": "nope", "note": ""}
        response = self.client.post(reverse("admin:compliance_rightsrequest_add"), data)
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "future")
        self.assertFalse(RightsRequest.objects.exists())

    def test_one_button_per_allowed_transition(self):
        request = self.verified()  # nobody holds data: with staff, verified
        page = self.client.get(self.change_url(request)).content.decode()
        base = self.change_url(request).removesuffix("change/")
        for status in (S.APPROVED, S.DENIED, S.CANCELED, S.ERROR):
            self.assertIn(f'href="{base}transition/{status}/"', page)
        self.assertIn(f'href="{base}forward/"', page)
        for status in (S.COMPLETED, S.IN_PROGRESS, S.RECEIVED):
            self.assertNotIn(f"transition/{status}/", page)
        self.assertIn(f'href="{base}extend/"', page)

    def test_a_transition_button_asks_for_a_note_then_moves_the_request(self):
        request = self.verified(about_callkom=True)
        url = reverse("admin:compliance_rightsrequest_transition", args=[request.pk, S.DENIED])
        self.assertContains(self.client.get(url), "Note")
        self.assertContains(self.client.post(url, {"note": ""}), "reason for the refusal")
        request.refresh_from_db()
        self.assertEqual(request.status, S.VERIFIED)
        mail.outbox.clear()
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(url, {"note": "We hold no data about you besides this request."})
        self.assertRedirects(response, self.change_url(request))
        request.refresh_from_db()
        self.assertEqual((request.status, request.decided_by), (S.DENIED, self.staff_user()))
        self.assertIn("We hold no data", mails_to(EMAIL)[0].body)

    def test_an_illegal_transition_changes_nothing(self):
        request = self.verified()
        for target in (S.COMPLETED, "nonsense"):
            url = reverse("admin:compliance_rightsrequest_transition", args=[request.pk, target])
            self.assertRedirects(self.client.post(url, {"note": "x"}), self.change_url(request))
        request.refresh_from_db()
        self.assertEqual(request.status, S.VERIFIED)
        self.assertEqual(self.client.get(reverse("admin:compliance_rightsrequest_transition",
                                                 args=[999999, S.CANCELED])).status_code, 404)

    def test_forward_to_a_chosen_company(self):
        request = self.verified(company_named="Beta")
        url = reverse("admin:compliance_rightsrequest_forward", args=[request.pk])
        self.assertEqual(self.client.post(url, {"tenants": []}).status_code, 200)
        with self.captureOnCommitCallbacks(execute=True):
            self.assertEqual(self.client.post(url, {"tenants": [self.beta.pk], "note": "Named Beta."}).status_code,
                             302)
        self.assertEqual(set(self.copies(request)), {"beta"})
        self.assertEqual(mails_to("charlie@beta.example")[0].subject.count(request.reference), 1)

    def test_viewing_copies_is_recorded_for_their_tenants(self):
        self.handler.hold(self.alpha, phone=PHONE)
        request = self.verified()
        routed = self.copies(request)["alpha"]
        self.assertEqual(self.client.get(self.change_url(request)).status_code, 200)
        self.assertEqual(set(StaffAccess.objects.values_list("tenant__slug", flat=True)), {"alpha"})
        StaffAccess.objects.all().delete()
        routed_url = reverse("admin:compliance_routedrequest_change", args=[routed.pk])
        self.assertContains(self.client.get(routed_url), "transition/approved/")
        self.assertEqual(StaffAccess.objects.get().action, "view")
        self.assertEqual(self.client.get(reverse("admin:compliance_routedrequest_changelist")).status_code, 200)
        self.assertEqual(self.client.get(reverse("admin:compliance_routedrequest_add")).status_code, 403)

    def test_staff_drive_a_copy_through_fulfilment(self):
        self.handler.hold(self.alpha, phone=PHONE)
        request = self.verified()
        routed = self.copies(request)["alpha"]
        for target in (S.APPROVED, S.IN_PROGRESS, S.COMPLETED):
            url = reverse("admin:compliance_routedrequest_transition", args=[routed.pk, target])
            with self.captureOnCommitCallbacks(execute=True):
                self.assertEqual(self.client.post(url, {"note": ""}).status_code, 302)
        with all_tenants_scope("test"):
            self.assertEqual(RoutedRequest.objects.get(pk=routed.pk).status, S.COMPLETED)
        request.refresh_from_db()
        self.assertEqual(request.status, S.COMPLETED)
        self.assertTrue(StaffAccess.objects.filter(action="change", tenant=self.alpha).exists())

    def test_search_by_e_mail_or_phone(self):
        request = self.verified()
        self.verified(requester_email="someone@example.org", requester_phone="+33698765432")
        changelist = reverse("admin:compliance_rightsrequest_changelist")
        for term in (EMAIL.upper(), "06 12 34 56 78", request.reference):
            page = self.client.get(changelist, {"q": term}).content.decode()
            self.assertIn(request.reference, page, term)
            self.assertEqual(page.count("RR-"), page.count(request.reference), term)

    def test_customers_cannot_reach_it(self):
        self.client.force_login(self.alice)
        self.assertEqual(self.client.get(reverse("admin:compliance_rightsrequest_changelist")).status_code, 302)
