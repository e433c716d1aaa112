import datetime
import re

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from compliance.models import EventKind, RequestStatus, RoutedRequest

from .rights_helpers import EMAIL, PHONE, RightsTestCase, mails_to

pytestmark = pytest.mark.clock  # overdue and extensions are judged against today's date in Paris


class InboxTests(RightsTestCase):
    def setUp(self):
        super().setUp()
        self.handler.hold(self.alpha, phone=PHONE)
        self.handler.hold(self.beta, phone=PHONE)
        self.request = self.verified()
        copies = self.copies(self.request)
        self.alpha_copy, self.beta_copy = copies["alpha"], copies["beta"]

    def urls(self, slug, routed):
        return {
            "inbox": reverse("privacy-inbox", args=[slug]),
            "detail": reverse("privacy-request-detail", args=[slug, routed.pk]),
            "decide": reverse("privacy-request-decide", args=[slug, routed.pk]),
            "extend": reverse("privacy-request-extend", args=[slug, routed.pk]),
            "comment": reverse("privacy-request-comment", args=[slug, routed.pk]),
        }

    def test_the_owner_sees_the_copy_and_the_requesters_details(self):
        self.login(self.alice)
        inbox = self.client.get("/t/alpha/privacy/requests/")
        self.assertContains(inbox, self.request.reference)
        self.assertContains(inbox, self.urls("alpha", self.alpha_copy)["detail"])
        self.assertNotContains(inbox, str(self.beta_copy.pk))
        detail = self.client.get(self.urls("alpha", self.alpha_copy)["detail"])
        for text in ("Jean Martin", EMAIL, PHONE, "phone number", "The phone number was not verified"):
            self.assertContains(detail, text)
        self.assertContains(detail, "Record the decision")

    def test_a_viewer_may_not_see_the_inbox(self):
        self.login(self.bob)
        for name, url in self.urls("alpha", self.alpha_copy).items():
            method = self.client.get if name in ("inbox", "detail") else self.client.post
            self.assertEqual(method(url).status_code, 403, name)

    def test_another_tenants_user_gets_404_on_every_page(self):
        self.login(self.charlie)
        for name, url in self.urls("alpha", self.alpha_copy).items():
            for method in (self.client.get, self.client.post):
                self.assertEqual(method(url).status_code, 404, name)
        # Through his own tenant's pages, Alpha's copy does not exist either.
        for name, url in self.urls("beta", self.alpha_copy).items():
            if name == "inbox":
                continue
            method = self.client.get if name == "detail" else self.client.post
            response = method(url, {"decision": "approve", "reason": "x", "months": "2", "note": "x"})
            self.assertEqual(response.status_code, 404, name)
        with self.in_alpha():
            self.assertEqual(RoutedRequest.objects.get(pk=self.alpha_copy.pk).status,
                             RequestStatus.AWAITING_CONTROLLER)

    def test_neither_tenant_sees_the_other(self):
        self.login(self.charlie)
        with self.captureOnCommitCallbacks(execute=True):
            self.client.post(self.urls("beta", self.beta_copy)["comment"], {"note": "Beta's private note"})
        self.login(self.alice)
        detail = self.client.get(self.urls("alpha", self.alpha_copy)["detail"]).content.decode()
        inbox = self.client.get(self.urls("alpha", self.alpha_copy)["inbox"]).content.decode()
        for page in (detail, inbox):
            self.assertNotIn("Beta", page)
            self.assertNotIn("charlie@beta.example", page)

    def test_approve_from_the_portal(self):
        self.login(self.alice)
        mail.outbox.clear()
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(self.urls("alpha", self.alpha_copy)["decide"], {"decision": "approve"},
                                        follow=True)
        self.assertContains(response, "Decision recorded")
        self.assertNotContains(response, "Record the decision")
        with self.in_alpha():
            routed = RoutedRequest.objects.get(pk=self.alpha_copy.pk)
        self.assertEqual((routed.status, routed.decided_by), (RequestStatus.APPROVED, self.alice))
        self.assertEqual(len(mails_to(EMAIL)), 1)

    def test_deny_needs_a_reason_and_a_second_decision_is_refused(self):
        self.login(self.alice)
        url = self.urls("alpha", self.alpha_copy)["decide"]
        self.assertContains(self.client.post(url, {"decision": "deny", "reason": ""}), "reason", status_code=400)
        self.assertEqual(self.client.post(url, {"decision": "deny", "reason": "Legal hold."}).status_code, 302)
        response = self.client.post(url, {"decision": "approve"})
        self.assertContains(response, "cannot go from", status_code=400)

    def test_extend_and_comment_appear_in_the_timeline(self):
        self.login(self.alice)
        urls = self.urls("alpha", self.alpha_copy)
        with self.captureOnCommitCallbacks(execute=True):
            self.assertEqual(self.client.post(urls["extend"], {"months": "2", "reason": "Many calls."}).status_code,
                             302)
        self.assertEqual(self.client.post(urls["comment"], {"note": "Asked the sales team."}).status_code, 302)
        detail = self.client.get(urls["detail"])
        self.assertContains(detail, "Many calls.")
        self.assertContains(detail, "Asked the sales team.")
        self.assertContains(detail, "Extended", count=0)  # the badge is on the inbox
        self.assertNotContains(detail, "Extend the deadline")  # only once
        self.assertContains(self.client.get(urls["inbox"]), "Extended")
        with self.in_alpha():
            kinds = set(RoutedRequest.objects.get(pk=self.alpha_copy.pk).events.values_list("kind", flat=True))
        self.assertLessEqual({EventKind.EXTENSION, EventKind.COMMENT, EventKind.LETTER}, kinds)

    def test_bad_input_answers_400(self):
        self.login(self.alice)
        urls = self.urls("alpha", self.alpha_copy)
        for name, data in (("decide", {"decision": "maybe"}), ("decide", {}), ("extend", {"months": "x"}),
                           ("extend", {"months": "3", "reason": "x"}), ("extend", {"months": "2"}),
                           ("comment", {"note": ""}), ("comment", {"note": "x" * 6000})):
            self.assertEqual(self.client.post(urls[name], data).status_code, 400, (name, data))
        self.assertEqual(self.client.get("/t/alpha/privacy/requests/not-a-uuid/").status_code, 404)
        self.assertEqual(self.client.get(urls["decide"]).status_code, 405)

    def test_overdue_requests_stand_out(self):
        with self.in_alpha():
            RoutedRequest.objects.filter(pk=self.alpha_copy.pk).update(
                due_at=timezone.localdate() - datetime.timedelta(days=1))
        self.login(self.alice)
        inbox = self.client.get("/t/alpha/privacy/requests/").content.decode()
        self.assertRegex(inbox, r'<tr class="overdue">\s*<td><a [^>]+>' + re.escape(self.request.reference))
        self.assertIn("Overdue", inbox)
        self.assertContains(self.client.get(self.urls("alpha", self.alpha_copy)["detail"]), "Overdue")

    def test_closed_requests_leave_the_default_inbox(self):
        self.login(self.alice)
        self.client.post(self.urls("alpha", self.alpha_copy)["decide"], {"decision": "deny", "reason": "No."})
        self.assertNotContains(self.client.get("/t/alpha/privacy/requests/"), self.request.reference)
        self.assertContains(self.client.get("/t/alpha/privacy/requests/?show=all"), self.request.reference)

    def test_the_dashboard_counts_open_requests(self):
        self.login(self.alice)
        page = self.client.get("/t/alpha/").content.decode()
        cards = dict((label, int(value)) for value, label in
                     re.findall(r'stat-value">(\d+)</span><span class="stat-label">([^<]+)<', page))
        self.assertEqual(cards["Rights requests to answer"], 1)

    def test_a_viewer_s_dashboard_has_no_card_leading_to_a_refusal(self):
        self.login(self.bob)  # a viewer may not open the inbox, so the dashboard does not offer it
        page = self.client.get("/t/alpha/")
        self.assertContains(page, "Calls this month")
        self.assertNotContains(page, "Rights requests to answer")
        self.assertNotContains(page, "/t/alpha/privacy/requests/")
