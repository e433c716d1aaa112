"""/api/v1/rights-requests/: the controller's copies of rights requests; decide, extend, comment; scopes and tenant
isolation."""

import datetime
import itertools

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from compliance.models import EventKind, RequestStatus, RightsRequest, RoutedRequest
from compliance.tests.rights_helpers import EMAIL, PHONE, RightsTestCase, mails_to
from tenants.scope import all_tenants_scope
from tenants.testing import ApiTestCase

URL = "/api/v1/rights-requests/"
READ, WRITE = ["rights:read"], ["rights:write"]
S = RequestStatus
_references = itertools.count(1)

pytestmark = pytest.mark.clock  # overdue and extensions are judged against today's date in Paris


class RightsApiTestCase(ApiTestCase, RightsTestCase):
    def setUp(self):
        super().setUp()
        self.handler.hold(self.alpha, phone=PHONE)
        self.handler.hold(self.beta, phone=PHONE)  # the same person is in both tenants' data: one copy each
        self.rights_request = self.verified(kind="erasure", details="Please delete everything.")
        copies = self.copies(self.rights_request)
        self.routed, self.beta_routed = copies["alpha"], copies["beta"]
        self.reader = self.key(self.alpha, "rights:read")
        self.writer = self.key(self.alpha, "rights:read", "rights:write")
        self.url = f"{URL}{self.routed.pk}/"

    def reload(self) -> RoutedRequest:
        with all_tenants_scope("test"):
            return RoutedRequest.objects.get(pk=self.routed.pk)

    def extra_copy(self, *, status=S.AWAITING_CONTROLLER, due_in_days=30, kind="access") -> RoutedRequest:
        """A copy made directly (no e-mail round trip), for lists and filters."""
        now = timezone.now()
        today = timezone.localdate(now)  # the deadlines and "overdue" count in days of Paris, not of UTC
        request = RightsRequest.objects.create(
            reference=f"T-{next(_references):06d}", kind=kind, language="en", requester_name="Marie Curie",
            requester_email="marie@example.org", status=S.AWAITING_CONTROLLER, due_at=today, verified_at=now)
        with self.in_alpha():
            return RoutedRequest.objects.create(tenant=self.alpha, request=request, status=status,
                                                due_at=today + datetime.timedelta(days=due_in_days),
                                                matched_on=["email"])


class RightsReadTests(RightsApiTestCase):
    def test_the_list_shows_what_the_portal_shows_the_controller(self):
        response = self.api("get", URL, self.reader)
        self.assertEqual(response.status_code, 200, response.content)
        [row] = response.json()["results"]
        self.assertEqual(row["id"], str(self.routed.pk))
        self.assertEqual((row["reference"], row["kind"], row["status"], row["matched_on"], row["overdue"]),
                         (self.rights_request.reference, "erasure", "awaiting_controller", ["phone"], False))
        self.assertEqual(row["due_at"], self.routed.due_at.isoformat())
        self.assertEqual((row["extended_due_at"], row["deadline"]), (None, row["due_at"]))
        self.assertEqual(row["requester"], {
            "name": "Jean Martin", "email": EMAIL, "phone": PHONE, "company_named": "", "language": "en",
            "details": "Please delete everything.", "channel": "web",
            "verified_at": row["requester"]["verified_at"]})
        self.assertIsNotNone(row["requester"]["verified_at"])
        self.assertNotIn("events", row)

    def test_nothing_more_than_the_portal_shows(self):
        row = self.api("get", self.url, self.reader).json()
        for secret in ("phone_index", "email_index", "reminders_sent", "staff_handled", "about_callkom", "codes"):
            self.assertNotIn(secret, row)
            self.assertNotIn(secret, row["requester"])

    def test_filters_status_kind_and_overdue(self):
        late = self.extra_copy(due_in_days=-1, kind="access")
        closed_late = self.extra_copy(status=S.DENIED, due_in_days=-1)

        def ids(**query):
            response = self.api("get", URL, self.reader, query)
            self.assertEqual(response.status_code, 200, response.content)
            return {row["id"] for row in response.json()["results"]}

        everything = {str(self.routed.pk), str(late.pk), str(closed_late.pk)}
        self.assertEqual(ids(), everything)
        self.assertEqual(ids(overdue="true"), {str(late.pk)})
        self.assertEqual(ids(overdue="false"), everything - {str(late.pk)})
        self.assertEqual(ids(kind="erasure"), {str(self.routed.pk)})
        self.assertEqual(ids(status="denied"), {str(closed_late.pk)})
        rows = {row["id"]: row for row in self.api("get", URL, self.reader).json()["results"]}
        self.assertEqual((rows[str(late.pk)]["overdue"], rows[str(closed_late.pk)]["overdue"]), (True, False))
        self.assert_problem(self.api("get", URL, self.reader, {"status": "received"}), 400)

    def test_the_list_costs_the_same_number_of_queries_for_2_and_12_copies(self):
        def count_queries(n):
            with self.in_alpha():
                RoutedRequest.objects.exclude(pk=self.routed.pk).delete()
            for _ in range(n - 1):
                self.extra_copy()
            self.api("get", URL, self.reader)
            with CaptureQueriesContext(connection) as queries:
                response = self.api("get", URL, self.reader)
            self.assertEqual(len(response.json()["results"]), n)
            return len(queries)

        self.assertEqual(count_queries(2), count_queries(12))

    def test_another_tenant_sees_its_own_copy_only(self):
        beta = self.key(self.beta, "rights:read")
        [row] = self.api("get", URL, beta).json()["results"]
        self.assertEqual(row["id"], str(self.beta_routed.pk))
        self.assert_problem(self.api("get", URL, self.key(self.alpha, "calls:read")), 403)

    def test_the_detail_has_the_timeline(self):
        response = self.api("get", self.url, self.reader)
        self.assertEqual(response.status_code, 200, response.content)
        body = response.json()
        self.assertEqual((body["can_decide"], body["can_extend"], body["decided_by"]), (True, True, None))
        self.assertTrue(body["events"])
        self.assertEqual(set(body["events"][0]), {"at", "kind", "from_status", "to_status", "actor", "note"})
        self.assert_isolated("get", self.url, READ)
        self.assert_problem(self.api("get", f"{URL}not-a-uuid/", self.reader), 404)


class RightsActionTests(RightsApiTestCase):
    def test_approve_tells_the_requester_and_names_the_key_in_the_timeline(self):
        with self.captureOnCommitCallbacks(execute=True):
            response = self.api("post", f"{self.url}decide/", self.writer, {"decision": "approve"})
        self.assertEqual(response.status_code, 200, response.content)
        body = response.json()
        self.assertEqual((body["status"], body["can_decide"], body["decided_by"]), ("approved", False, None))
        self.assertIsNotNone(body["decided_at"])
        transition = [event for event in body["events"] if event["to_status"] == "approved"]
        self.assertEqual(len(transition), 1)
        prefix = self.writer.split("_")[1]
        self.assertIn(prefix, body["events"][-1]["note"])
        self.assertEqual(body["events"][-1]["kind"], EventKind.COMMENT)
        self.assertTrue(mails_to(EMAIL))
        self.assertEqual(self.reload().status, S.APPROVED)

    def test_a_denial_needs_its_reason_and_a_decided_request_is_a_conflict(self):
        body = self.assert_problem(self.api("post", f"{self.url}decide/", self.writer, {"decision": "deny"}), 400)
        self.assertEqual([item["field"] for item in body["errors"]], ["reason"])
        self.assertEqual(self.reload().status, S.AWAITING_CONTROLLER)
        response = self.api("post", f"{self.url}decide/", self.writer,
                            {"decision": "deny", "reason": "We must keep invoices for ten years."})
        self.assertEqual((response.status_code, response.json()["status"]), (200, "denied"))
        self.assertEqual(response.json()["decision_reason"], "We must keep invoices for ten years.")
        body = self.assert_problem(self.api("post", f"{self.url}decide/", self.writer, {"decision": "approve"}), 409)
        self.assertIn("/conflict/", body["type"])
        self.assertEqual(self.reload().status, S.DENIED)

    def test_bad_decisions_are_400(self):
        for data, field in (({"decision": "maybe"}, "decision"), ({}, "decision"),
                            ({"decision": "deny", "reason": "x" * 5001}, "reason")):
            with self.subTest(data=data):
                body = self.assert_problem(self.api("post", f"{self.url}decide/", self.writer, data), 400)
                self.assertIn(field, [item["field"] for item in body["errors"]])

    def test_extend_once_by_one_or_two_months(self):
        mail.outbox.clear()
        with self.captureOnCommitCallbacks(execute=True):
            response = self.api("post", f"{self.url}extend/", self.writer,
                                {"months": 2, "reason": "Many calls over several years."})
        self.assertEqual(response.status_code, 200, response.content)
        body = response.json()
        self.assertIsNotNone(body["extended_due_at"])
        self.assertEqual((body["deadline"], body["extension_reason"], body["can_extend"]),
                         (body["extended_due_at"], "Many calls over several years.", False))
        self.assertTrue(mails_to(EMAIL))
        body = self.assert_problem(self.api("post", f"{self.url}extend/", self.writer,
                                            {"months": 1, "reason": "Again."}), 409)
        self.assertIn("already been extended", body["detail"])

    def test_bad_extensions_are_400(self):
        for data, field in (({"months": 3, "reason": "x"}, "months"), ({"months": 1}, "reason"),
                            ({"months": 1, "reason": " "}, "reason"), ({"months": "two", "reason": "x"}, "months")):
            with self.subTest(data=data):
                body = self.assert_problem(self.api("post", f"{self.url}extend/", self.writer, data), 400)
                self.assertIn(field, [item["field"] for item in body["errors"]])
        self.assertIsNone(self.reload().extended_due_at)

    def test_an_extension_after_the_first_month_is_a_conflict(self):
        with all_tenants_scope("test"):
            RoutedRequest.objects.filter(pk=self.routed.pk).update(due_at=timezone.localdate() - datetime.timedelta(1))
        self.assert_problem(self.api("post", f"{self.url}extend/", self.writer, {"months": 1, "reason": "x"}), 409)

    def test_comment(self):
        response = self.api("post", f"{self.url}comment/", self.writer, {"text": "Checked with sales."})
        self.assertEqual(response.status_code, 200, response.content)
        last = response.json()["events"][-1]
        self.assertEqual(last["kind"], "comment")
        self.assertIn("Checked with sales.", last["note"])
        self.assertIn(self.writer.split("_")[1], last["note"])
        for data in ({"text": ""}, {"text": "   "}, {"text": "x" * 5000}, {}):
            with self.subTest(data=data):
                body = self.assert_problem(self.api("post", f"{self.url}comment/", self.writer, data), 400)
                self.assertEqual([item["field"] for item in body["errors"]], ["text"])

    def test_every_action_is_isolated_and_needs_rights_write(self):
        actions = {"decide/": {"decision": "approve"}, "extend/": {"months": 1, "reason": "Complex."},
                   "comment/": {"text": "Hello"}}
        before = self.api("get", self.url, self.reader).json()
        for path, data in actions.items():
            with self.subTest(path):
                self.assert_isolated("post", f"{self.url}{path}", WRITE, data)
        self.assertEqual(self.api("get", self.url, self.reader).json(), before)
        beta_writer = self.key(self.beta, "rights:write")
        self.assertEqual(self.api("post", f"{URL}{self.beta_routed.pk}/comment/", beta_writer,
                                  {"text": "Ours"}).status_code, 200)
