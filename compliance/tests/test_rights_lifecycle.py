from auditlog.models import LogEntry
from django.core import mail
from django.core.exceptions import ValidationError

from compliance import rights
from compliance.models import EventKind, RequestStatus, RightsRequest
from compliance.rights import INTAKE_TRANSITIONS, ROUTED_TRANSITIONS
from tenants.scope import all_tenants_scope

from .rights_helpers import EMAIL, PHONE, RightsTestCase, mails_to

S = RequestStatus


class TransitionTableTests(RightsTestCase):
    def test_every_status_has_a_row_and_closed_ones_lead_nowhere(self):
        self.assertEqual(set(INTAKE_TRANSITIONS), set(S.values))
        self.assertLessEqual(set(ROUTED_TRANSITIONS), set(S.values))
        for table in (INTAKE_TRANSITIONS, ROUTED_TRANSITIONS):
            for closed in (S.DENIED, S.COMPLETED, S.CANCELED):
                self.assertEqual(table[closed], frozenset())
            for targets in table.values():
                self.assertLessEqual(targets, set(table))

    def test_an_illegal_transition_raises_and_changes_nothing(self):
        self.handler.hold(self.alpha, phone=PHONE)
        routed = self.copies(self.verified())["alpha"]
        with self.in_alpha():
            with self.assertRaises(ValidationError) as caught:
                rights.transition(item=routed, to=S.COMPLETED, actor=self.alice)
            self.assertEqual(caught.exception.code, "illegal_transition")
            routed.refresh_from_db()
        self.assertEqual(routed.status, S.AWAITING_CONTROLLER)
        request, _code = self.submit(requester_email="x@example.org")
        with self.assertRaises(ValidationError):
            rights.transition(item=request, to=S.APPROVED)

    def test_a_denial_needs_its_reason(self):
        self.handler.hold(self.alpha, phone=PHONE)
        routed = self.copies(self.verified())["alpha"]
        with self.in_alpha(), self.assertRaises(ValidationError):
            rights.decide(routed=routed, approve=False, reason=" ", actor=self.alice)


class LifeOfARequestTests(RightsTestCase):
    def test_from_the_form_to_completion_with_two_controllers(self):
        self.handler.hold(self.alpha, phone=PHONE)
        self.handler.hold(self.beta, email=EMAIL)
        request = self.verified(language="fr", kind="erasure")
        copies = self.copies(request)

        mail.outbox.clear()
        with self.in_alpha(), self.captureOnCommitCallbacks(execute=True):
            alpha = rights.decide(routed=copies["alpha"], approve=True, reason="", actor=self.alice)
        self.assertEqual((alpha.status, alpha.decided_by), (S.APPROVED, self.alice))
        [decision] = mails_to(EMAIL)
        self.assertIn("Alpha SAS", decision.body)
        self.assertNotIn("Beta", decision.body)

        with self.in_beta(), self.captureOnCommitCallbacks(execute=True):
            rights.decide(routed=copies["beta"], approve=False, reason="Contrat en cours.", actor=self.charlie)
        self.assertIn("Contrat en cours.", mails_to(EMAIL)[-1].body)
        self.assertIn("CNIL", mails_to(EMAIL)[-1].body)
        request.refresh_from_db()
        self.assertEqual(request.status, S.AWAITING_CONTROLLER)  # Alpha has not carried it out yet

        mail.outbox.clear()
        with self.in_alpha(), self.captureOnCommitCallbacks(execute=True):
            rights.transition(item=alpha, to=S.IN_PROGRESS)
            alpha = rights.transition(item=alpha, to=S.COMPLETED)
        self.assertIsNotNone(alpha.completed_at)
        [completion] = mails_to(EMAIL)
        self.assertIn(request.reference, completion.subject)
        request.refresh_from_db()
        self.assertEqual(request.status, S.COMPLETED)

        self.assertEqual(
            list(request.events.filter(kind=EventKind.TRANSITION).values_list("to_status", flat=True)),
            [S.RECEIVED, S.IDENTITY_UNVERIFIED, S.VERIFIED, S.AWAITING_CONTROLLER, S.COMPLETED],
        )
        with self.in_alpha():
            alpha_events = list(alpha.events.values_list("kind", "to_status"))
        self.assertEqual([to for kind, to in alpha_events if kind == EventKind.TRANSITION],
                         [S.AWAITING_CONTROLLER, S.APPROVED, S.IN_PROGRESS, S.COMPLETED])
        self.assertEqual(sum(kind == EventKind.LETTER for kind, _to in alpha_events), 2)  # decision, completion

    def test_every_status_change_is_in_the_audit_log_without_personal_data(self):
        self.handler.hold(self.alpha, phone=PHONE)
        request = self.verified()
        routed = self.copies(request)["alpha"]
        with self.in_alpha():
            rights.decide(routed=routed, approve=False, reason="Jean Martin is a client.", actor=self.alice)
        entries = LogEntry.objects.get_for_object(routed)
        statuses = [entry.changes_dict.get("status") for entry in entries if "status" in entry.changes_dict]
        self.assertIn(["awaiting_controller", "denied"], [list(change) for change in statuses])
        request_log = " ".join(str(e.changes) for e in LogEntry.objects.get_for_object(request))
        self.assertIn("identity_unverified", request_log)
        everything = " ".join(str(e.changes) for e in LogEntry.objects.all())
        self.assertNotIn("Jean", everything)
        self.assertNotIn(request.phone_index, everything)

    def test_the_staff_decide_on_a_request_about_callkom(self):
        request = self.verified(about_callkom=True, language="en")
        staff = self.staff_user()
        mail.outbox.clear()
        with self.captureOnCommitCallbacks(execute=True):
            request = rights.transition(item=request, to=S.APPROVED, actor=staff)
            rights.transition(item=request, to=S.IN_PROGRESS, actor=staff)
            request = rights.transition(item=request, to=S.COMPLETED, actor=staff)
        self.assertEqual(request.status, S.COMPLETED)
        self.assertEqual(len(mails_to(EMAIL)), 2)  # decision and completion, signed CALLKOM
        self.assertIn("CALLKOM has approved", mails_to(EMAIL)[0].body)

    def test_canceling_the_request_cancels_the_open_copies(self):
        self.handler.hold(self.alpha, phone=PHONE)
        self.handler.hold(self.beta, phone=PHONE)
        request = self.verified()
        with self.in_beta():
            rights.decide(routed=self.copies(request)["beta"], approve=False, reason="No.", actor=self.charlie)
        rights.transition(item=request, to=S.CANCELED, actor=self.staff_user(), note="Withdrawn by phone.")
        copies = self.copies(request)
        self.assertEqual((copies["alpha"].status, copies["beta"].status), (S.CANCELED, S.DENIED))
        self.assertEqual(RightsRequest.objects.get(pk=request.pk).status, S.CANCELED)

    def test_comments_go_to_the_timeline_of_the_copy_only(self):
        self.handler.hold(self.alpha, phone=PHONE)
        self.handler.hold(self.beta, phone=PHONE)
        request = self.verified()
        copies = self.copies(request)
        with self.in_alpha():
            rights.comment(item=copies["alpha"], note="Checking the CRM.", actor=self.alice)
            with self.assertRaises(ValidationError):
                rights.comment(item=copies["alpha"], note="  ", actor=self.alice)
        with all_tenants_scope("test"):
            self.assertEqual(copies["beta"].events.filter(kind=EventKind.COMMENT).count(), 0)
            self.assertEqual(copies["alpha"].events.filter(kind=EventKind.COMMENT).count(), 1)

    def test_a_post_request_without_e_mail_keeps_the_letter_for_posting(self):
        request = rights.request_intake(kind="access", channel="post", requester_name="Jean Martin",
                                        requester_phone=PHONE, language="fr", actor=self.staff_user(),
                                        note="Signed letter.")
        letter = request.events.get(kind=EventKind.LETTER)
        self.assertIn(request.reference, letter.note)
        self.assertEqual(mail.outbox, [])

    def test_staff_intake_needs_a_way_to_find_the_person_and_a_note(self):
        fields = dict(kind="access", channel="phone", requester_name="X", language="en", actor=self.staff_user())
        with self.assertRaises(ValidationError):
            rights.request_intake(note="Called back.", **fields)
        with self.assertRaises(ValidationError):
            rights.request_intake(note="", requester_phone=PHONE, **fields)
        with self.assertRaises(ValidationError):
            rights.request_intake(note="x", requester_phone=PHONE, **{**fields, "channel": "web"})
