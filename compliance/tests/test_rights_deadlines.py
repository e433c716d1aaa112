import datetime

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from compliance import rights
from compliance.models import RightsRequest, RoutedRequest
from compliance.rights import add_months, reminders_send

from .rights_helpers import EMAIL, PHONE, RightsTestCase, mails_to

D = datetime.date

pytestmark = pytest.mark.clock  # deadlines, extensions and reminders count from today's date in Paris


class AddMonthsTests(RightsTestCase):
    def test_month_end_is_clamped(self):
        cases = [
            (D(2026, 1, 31), 1, D(2026, 2, 28)),
            (D(2028, 1, 31), 1, D(2028, 2, 29)),
            (D(2026, 3, 31), 1, D(2026, 4, 30)),
            (D(2026, 1, 15), 1, D(2026, 2, 15)),
            (D(2026, 12, 31), 1, D(2027, 1, 31)),
            (D(2026, 11, 30), 3, D(2027, 2, 28)),
            (D(2026, 1, 31), 13, D(2027, 2, 28)),
            (D(2026, 2, 28), 1, D(2026, 3, 28)),
        ]
        for day, months, expected in cases:
            self.assertEqual(add_months(day, months), expected, f"{day} + {months}")


def _local(year, month, day, hour=12):
    return timezone.make_aware(datetime.datetime(year, month, day, hour))


class DueDateTests(RightsTestCase):
    def intake(self, received_at, **overrides):
        fields = {"kind": "erasure", "channel": "post", "requester_name": "Jean Martin", "requester_phone": PHONE,
                  "language": "fr", "received_at": received_at, "actor": self.staff_user(),
                  "note": "Signed letter with a copy of the phone bill."}
        fields.update(overrides)
        with self.captureOnCommitCallbacks(execute=True):
            return rights.request_intake(**fields)

    def test_received_on_31_january_is_due_on_the_last_day_of_february(self):
        self.assertEqual(self.intake(_local(2026, 1, 31)).due_at, D(2026, 2, 28))
        RightsRequest.objects.all().delete()
        self.assertEqual(self.intake(_local(2024, 1, 31), requester_phone="+33612345679").due_at, D(2024, 2, 29))

    def test_late_evening_counts_in_the_local_day(self):
        late = timezone.make_aware(datetime.datetime(2026, 1, 31, 23, 30))  # 22:30 UTC, still 31 January in Paris
        self.assertEqual(self.intake(late).due_at, D(2026, 2, 28))

    def test_receipt_letter_is_in_the_requesters_language(self):
        self.intake(_local(2024, 1, 31), requester_email=EMAIL)
        letter = mails_to(EMAIL)[-1]
        self.assertIn("29 février 2024", letter.body)
        self.assertIn("31 janvier 2024", letter.body)


class ExtensionTests(RightsTestCase):
    def setUp(self):
        super().setUp()
        self.handler.hold(self.alpha, phone=PHONE)
        self.request = self.verified(language="en")
        self.routed = self.copies(self.request)["alpha"]

    def test_extension_before_the_first_month_ends_is_sent_with_its_reason(self):
        mail.outbox.clear()
        with self.in_alpha(), self.captureOnCommitCallbacks(execute=True):
            routed = rights.extend(item=self.routed, months=2, reason="Many recordings to review.", actor=self.alice)
        received = timezone.localdate(self.request.received_at)
        self.assertEqual(routed.extended_due_at, add_months(received, 3))
        self.assertEqual(routed.deadline, routed.extended_due_at)
        letter = mails_to(EMAIL)[-1]
        self.assertIn("Many recordings to review.", letter.body)
        self.assertIn("Alpha SAS", letter.body)

    def test_only_once(self):
        with self.in_alpha():
            rights.extend(item=self.routed, months=1, reason="Complex.", actor=self.alice)
            with self.assertRaises(ValidationError):
                rights.extend(item=self.routed, months=1, reason="Again.", actor=self.alice)

    def test_not_after_the_first_month(self):
        with self.in_alpha():
            RoutedRequest.objects.filter(pk=self.routed.pk).update(due_at=timezone.localdate() - datetime.timedelta(1))
            with self.assertRaises(ValidationError):
                rights.extend(item=self.routed, months=2, reason="Too late.", actor=self.alice)

    def test_reason_and_length_are_required(self):
        with self.in_alpha():
            with self.assertRaises(ValidationError):
                rights.extend(item=self.routed, months=2, reason="  ", actor=self.alice)
            with self.assertRaises(ValidationError):
                rights.extend(item=self.routed, months=3, reason="Three months.", actor=self.alice)


class ReminderTests(RightsTestCase):
    def setUp(self):
        super().setUp()
        self.handler.hold(self.alpha, phone=PHONE)
        self.request = self.verified()
        self.routed = self.copies(self.request)["alpha"]
        self.due = self.routed.due_at

    def remind(self, days_before):
        mail.outbox.clear()
        with self.captureOnCommitCallbacks(execute=True):
            return reminders_send(today=self.due - datetime.timedelta(days=days_before))

    def test_seven_and_two_days_before_once_each(self):
        self.assertEqual(self.remind(8), 0)
        self.assertEqual(self.remind(7), 1)
        self.assertEqual(len(mails_to("dpo@alpha.example")), 1)
        self.assertIn("7 days", mails_to("dpo@alpha.example")[0].body)
        self.assertEqual(self.remind(7), 0)  # the same day again: nothing
        self.assertEqual(self.remind(5), 0)
        self.assertEqual(self.remind(2), 1)
        self.assertEqual(self.remind(1), 0)
        self.assertEqual(self.remind(-3), 0)  # overdue: the last reminder was already sent

    def test_a_missed_run_sends_only_the_nearest_reminder(self):
        self.assertEqual(self.remind(1), 1)
        self.assertEqual(len(mail.outbox), 1)
        self.assertEqual(self.remind(0), 0)

    def test_an_extension_brings_new_reminders(self):
        self.remind(7)
        with self.in_alpha():
            routed = rights.extend(item=self.routed, months=1, reason="Complex.", actor=self.alice)
        mail.outbox.clear()
        with self.captureOnCommitCallbacks(execute=True):
            self.assertEqual(reminders_send(today=routed.extended_due_at - datetime.timedelta(days=7)), 1)

    def test_closed_requests_are_not_reminded(self):
        with self.in_alpha():
            rights.decide(routed=self.routed, approve=False, reason="No data.", actor=self.alice)
        self.assertEqual(self.remind(7), 0)

    def test_staff_held_requests_remind_staff(self):
        staff_request = self.verified(requester_phone="+33698765432", requester_email="other@example.org")
        self.assertTrue(staff_request.staff_handled)
        mail.outbox.clear()
        with self.captureOnCommitCallbacks(execute=True):
            reminders_send(today=staff_request.due_at - datetime.timedelta(days=2))
        self.assertEqual(len(mails_to("privacy@callkom.io")), 1)
