"""Objections: who may raise one, within the window, with a reason, once per customer; staff resolving it; and the
routing block the pipeline reads through ``objected_slugs``."""

from django.conf import settings
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from subprocessors import notices
from subprocessors.models import ChangeNotice, Objection
from subprocessors.selectors import objected_slugs
from tenants.scope import ScopeError, all_tenants_scope

from .test_notices import NoticeTestCase

Kind = ChangeNotice.Kind
OS = Objection.Status
REASON = "Our customers were promised their audio stays with Google; please keep it there."


class RaiseTests(NoticeTestCase):
    def setUp(self):
        self.notice = self.announce()

    def test_an_owner_objects_and_callkom_staff_are_told_without_the_reason(self):
        mail.outbox.clear()
        objection = self.object(self.notice, reason=f"  {REASON}  ")
        self.assertEqual((objection.status, objection.reason, objection.raised_by), (OS.OPEN, REASON, self.alice))
        [message] = mail.outbox
        self.assertEqual(message.to, [settings.PRIVACY_CONTACT_EMAIL])
        self.assertIn("Alpha", message.subject)
        self.assertIn(f"/admin/subprocessors/objection/{objection.pk}/change/", message.body)
        self.assertNotIn("Google", message.body.replace("Google Cloud", ""))
        self.assertNotIn(REASON[:30], message.body)
        self.assertNotIn("alice", message.body)

    def test_owners_admins_and_the_dpo_may_object_others_may_not(self):
        for user in (self.dana, self.dora):
            with self.subTest(user=user.email):
                objection = self.object(self.notice, actor=user)
                with self.in_alpha():
                    Objection.objects.filter(pk=objection.pk).delete()
        for user in (self.bob, self.carl, self.charlie, self.staff):
            with self.subTest(user=user.email), self.assertRaises(PermissionDenied):
                self.object(self.notice, actor=user)

    def test_a_reason_is_required(self):
        for reason, code in (("", "required"), ("   ", "required"), ("No.", "too_short"),
                             ("word " * 500, "too_long")):
            with self.subTest(reason=reason[:10]), self.assertRaises(ValidationError) as raised:
                self.object(self.notice, reason=reason)
            self.assertIn("reason", raised.exception.message_dict)
            self.assertEqual(raised.exception.error_dict["reason"][0].code, code)
        with self.in_alpha():
            self.assertFalse(Objection.objects.exists())

    def test_one_objection_per_customer_and_notice(self):
        self.object(self.notice)
        with self.assertRaises(ValidationError) as raised:
            self.object(self.notice, actor=self.dora)
        self.assertEqual(raised.exception.code, "duplicate")
        self.object(self.notice, tenant=self.beta, actor=self.charlie)  # another customer may
        with all_tenants_scope("test"):
            self.assertEqual(Objection.objects.filter(notice=self.notice).count(), 2)

    def test_no_objection_after_the_window_nor_to_a_draft_or_a_removal(self):
        due = self.make_due(self.notice)
        with self.assertRaises(ValidationError) as raised:
            self.object(due)
        self.assertEqual(raised.exception.code, "not_objectable")
        for notice in (self.draft(subprocessor=self.planned, effective=40),
                       self.announce(kind=Kind.REMOVAL, subprocessor=self.mistral)):
            with self.subTest(kind=notice.kind), self.assertRaises(ValidationError):
                self.object(notice)
        with self.in_alpha():
            self.assertFalse(Objection.objects.exists())

    def test_objections_are_tenant_owned(self):
        self.object(self.notice)
        with self.assertRaises(ScopeError):
            list(Objection.objects.all())
        with self.in_beta():
            self.assertFalse(Objection.objects.exists())
        self.assertEqual(notices.notice_objection_counts(self.notice)["open"], 1)


class RoutingBlockTests(NoticeTestCase):
    """The pipeline asks objected_slugs(tenant) before routing; it must name the provider while the objection is
    open, exempted or the contract ended, and stop naming it once the objection is answered."""

    def setUp(self):
        self.notice = self.announce(kind=Kind.REPLACEMENT, replaces=self.google)

    def test_an_open_objection_blocks_the_new_provider_for_that_customer_only(self):
        self.assertEqual(objected_slugs(self.alpha), set())
        self.object(self.notice)
        self.assertEqual(objected_slugs(self.alpha), {"deepgram-eu"})
        self.assertEqual(objected_slugs(self.beta), set())
        notices.notice_apply(notice=self.make_due(self.notice))  # taking effect does not lift the block
        self.assertEqual(objected_slugs(self.alpha), {"deepgram-eu"})

    def test_exempted_and_contract_ended_keep_blocking_answered_lifts_it(self):
        for status, blocked in ((OS.EXEMPTED, True), (OS.CONTRACT_ENDED, True), (OS.ANSWERED, False)):
            with self.subTest(status=status):
                objection = self.object(self.notice)
                with self.captureOnCommitCallbacks(execute=True):
                    notices.objection_resolve(objection=objection, status=status, resolution="Discussed by phone.",
                                              actor=self.staff)
                self.assertEqual(objected_slugs(self.alpha), {"deepgram-eu"} if blocked else set())
                with self.in_alpha():
                    Objection.objects.filter(pk=objection.pk).delete()

    def test_a_change_notice_objected_to_blocks_the_changed_provider(self):
        notice = self.announce(kind=Kind.CHANGE, subprocessor=self.mistral, changes={"processing_region": "us"})
        self.object(notice)
        self.assertEqual(objected_slugs(self.alpha), {"mistral"})


class ResolveTests(NoticeTestCase):
    def setUp(self):
        self.notice = self.announce()
        self.objection = self.object(self.notice)
        mail.outbox.clear()

    def resolve(self, status=OS.EXEMPTED, resolution="Your calls will keep using Google.", objection=None):
        with self.captureOnCommitCallbacks(execute=True):
            return notices.objection_resolve(objection=objection or self.objection, status=status,
                                             resolution=resolution, actor=self.staff)

    def test_staff_resolve_and_the_customer_contacts_are_told(self):
        objection = self.resolve()
        self.assertEqual((objection.status, objection.resolved_by), (OS.EXEMPTED, self.staff))
        self.assertIsNotNone(objection.resolved_at)
        self.assertEqual(sorted(address for message in mail.outbox for address in message.to),
                         ["alice@alpha.example", "dora@alpha.example", "dpo@alpha.example"])
        self.assertIn(f"/t/alpha/subprocessors/notices/{self.notice.pk}/", mail.outbox[0].body)
        self.assertNotIn("keep using Google", mail.outbox[0].body)

    def test_a_resolution_needs_an_outcome_and_an_answer_and_happens_once(self):
        for status, resolution, field in ((OS.OPEN, "x", "status"), ("maybe", "x", "status"),
                                          (OS.ANSWERED, "  ", "resolution")):
            with self.subTest(status=status), self.assertRaises(ValidationError) as raised:
                self.resolve(status=status, resolution=resolution)
            self.assertIn(field, raised.exception.message_dict)
        self.resolve()
        with self.assertRaises(ValidationError):
            self.resolve(status=OS.ANSWERED)
        with self.in_alpha():
            self.assertEqual(Objection.objects.get().status, OS.EXEMPTED)

    def test_the_resolution_is_audited(self):
        from auditlog.models import LogEntry

        self.resolve(status=OS.CONTRACT_ENDED)
        with self.in_alpha():
            entries = [entry.changes_dict for entry in LogEntry.objects.get_for_object(self.objection)]
        self.assertTrue(any(change.get("status") == ["open", "contract_ended"] for change in entries), entries)
        self.assertNotIn("We do not want audio", str(entries))  # the customer's free text stays out of the log
