"""Retention of the calls app's data, through the compliance runs: each category at its own cut-off, other tenants
untouched, legal holds honoured, a run interrupted and resumed, and the recording files."""

import io
import tempfile
from datetime import UTC, datetime, timedelta
from unittest import mock

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse

from calls import services
from calls.models import Call, CallReport, Recording, Utterance
from calls.personal_data import CallsPersonalData
from campaigns.models import Campaign, CampaignTarget, ContactImport, ContactList, DialerSkip
from compliance import retention
from compliance.models import LegalHold, RetentionCategory, RetentionRun
from compliance.services import legal_hold_place
from tenants.crypto import email_index, phone_index
from tenants.models import TenantSettings
from tenants.testing import TwoTenantTestCase, frozen_at

C = RetentionCategory
NOW = datetime(2026, 12, 1, 2, 15, tzinfo=UTC)
SECOND = timedelta(seconds=1)
PERIODS = {C.RECORDINGS: 30, C.TRANSCRIPTS: 60, C.REPORTS: 90, C.TECHNICAL_LOGS: 20}
PHONE, EMAIL = "+33612345678", "jean.martin@example.org"


def days_ago(days, delta=timedelta()):
    return NOW - timedelta(days=days) + delta


@frozen_at(NOW)  # the purges' cut-offs, the calls, the holds and the runs' times all read NOW
class CallsRetentionTestCase(TwoTenantTestCase):
    def setUp(self):
        super().setUp()
        media = tempfile.TemporaryDirectory()
        self.addCleanup(media.cleanup)
        self.enterContext(override_settings(MEDIA_ROOT=media.name))
        with self.in_alpha():
            TenantSettings.objects.filter(tenant=self.alpha).update(
                retention_recordings_days=30, retention_transcripts_days=60, retention_reports_days=90,
                retention_technical_logs_days=20)
            self.script = services.demo_scripts_ensure(tenant=self.alpha)[0]
        with self.in_beta():
            self.beta_script = services.demo_scripts_ensure(tenant=self.beta)[0]

    def call(self, ended_at, *, script=None, contact=None, report=None, lines=2):
        """A call that ended at ``ended_at``, with a transcript, a recording file and a report."""
        script = script or self.script
        tenant = script.tenant
        call = services.call_create(tenant=tenant, script=script, direction="outbound", contact=contact)
        Call.objects.filter(pk=call.pk).update(status=Call.Status.COMPLETED, created_at=ended_at - timedelta(minutes=5),
                                               ended_at=ended_at)
        Utterance.objects.bulk_create(Utterance(tenant=tenant, call=call, seq=seq, speaker="caller", text=f"line {seq}")
                                      for seq in range(lines))
        path = default_storage.save(f"recordings/{tenant.pk}/{call.pk}.wav.enc", ContentFile(b"token"))
        Recording.objects.create(tenant=tenant, call=call, path=path, duration_ms=1000, size_bytes=5)
        report = report or {}
        CallReport.objects.create(tenant=tenant, call=call, summary="Talked.", source="local",
                                  phone=report.get("phone", ""), email=report.get("email", ""),
                                  phone_index=phone_index(report["phone"]) if "phone" in report else "",
                                  email_index=email_index(report["email"]) if "email" in report else "")
        return call

    def run_purge(self, tenant=None, now=NOW, **kwargs):
        outcome = retention.purge_expired(trigger=RetentionRun.Trigger.COMMAND, now=now, tenant=tenant or self.alpha,
                                          **kwargs)
        return outcome.runs[0]

    def remaining(self, model, tenant=None):
        with self.in_alpha() if (tenant or self.alpha) == self.alpha else self.in_beta():
            return set(model.objects.values_list("pk", flat=True))


class CutoffTests(CallsRetentionTestCase):
    def test_each_category_goes_at_its_own_cutoff_to_the_second(self):
        with self.in_alpha():
            calls = {(category, side): self.call(days_ago(days, side * SECOND))
                     for category, days in PERIODS.items() if category != C.TECHNICAL_LOGS for side in (-1, 1)}
        run = self.run_purge()
        self.assertEqual(run.status, RetentionRun.Status.COMPLETED)
        self.assertEqual(run.finished_at is not None, True)
        with self.in_alpha():
            for (category, side), call in calls.items():
                model = {C.RECORDINGS: Recording, C.TRANSCRIPTS: Utterance, C.REPORTS: CallReport}[category]
                with self.subTest(category=category, side=side):
                    self.assertEqual(model.objects.filter(call=call).exists(), side > 0)
        # older calls lose every shorter-lived category too: 5 recordings, 3 transcripts of 2 lines, 1 report
        self.assertEqual((run.counts[C.RECORDINGS], run.counts[C.TRANSCRIPTS], run.counts[C.REPORTS]), (5, 6, 1))
        self.assertEqual(run.counts[C.TECHNICAL_LOGS], 0)

    def test_recording_files_are_deleted_from_storage(self):
        with self.in_alpha():
            old, young = self.call(days_ago(31)), self.call(days_ago(29))
            old_path, young_path = old.recording.path, young.recording.path
        self.run_purge()
        self.assertFalse(default_storage.exists(old_path))
        self.assertTrue(default_storage.exists(young_path))

    def test_a_recording_row_whose_file_is_already_gone_answers_404(self):
        """Retention deletes the file just before the row, in the batch's transaction: a page open meanwhile."""
        with self.in_alpha():
            call = self.call(days_ago(1))
            default_storage.delete(call.recording.path)
        self.login(self.alice)
        self.assertEqual(self.client.get(reverse("call-recording", args=["alpha", call.pk])).status_code, 404)

    def test_a_call_that_never_ended_ages_from_its_creation(self):
        with self.in_alpha():
            call = self.call(days_ago(100))
            Call.objects.filter(pk=call.pk).update(ended_at=None, status=Call.Status.FAILED)
            live = self.call(days_ago(100))
            Call.objects.filter(pk=live.pk).update(ended_at=None, created_at=NOW - SECOND)
        self.run_purge()
        self.assertEqual(self.remaining(Recording), {live.recording.pk})

    def test_another_tenants_data_is_untouched(self):
        with self.in_beta():
            beta_call = self.call(days_ago(400), script=self.beta_script)
        with self.in_alpha():
            self.call(days_ago(400))
        self.run_purge()
        self.assertEqual(self.remaining(Utterance), set())
        with self.in_beta():
            self.assertEqual(Utterance.objects.filter(call=beta_call).count(), 2)
            self.assertTrue(Recording.objects.filter(call=beta_call).exists())
            self.assertFalse(RetentionRun.objects.exists())

    def test_technical_logs_skips_and_finished_imports_with_their_files(self):
        with self.in_alpha():
            contact = services.contact_create(tenant=self.alpha, phone=PHONE)
            contact_list = ContactList.objects.create(tenant=self.alpha, name="Prospects")
            campaign = Campaign.objects.create(tenant=self.alpha, name="Spring", script=self.script,
                                               contact_list=contact_list, legal_basis="consent")
            target = CampaignTarget.objects.create(tenant=self.alpha, campaign=campaign, contact=contact)
            old_skip, young_skip = (DialerSkip.objects.create(tenant=self.alpha, campaign=campaign, target=target,
                                                              reason="outside_window", at=days_ago(20, side * SECOND))
                                    for side in (-1, 1))
            path = default_storage.save("imports/left.csv.enc", ContentFile(b"token"))
            done = self.contact_import(contact_list, ContactImport.Status.FAILED, days_ago(21), path=path)
            waiting = self.contact_import(contact_list, ContactImport.Status.NEEDS_DECISION, None,
                                          created_at=days_ago(25))
            running = self.contact_import(contact_list, ContactImport.Status.IMPORTING, None, created_at=days_ago(25))
            young = self.contact_import(contact_list, ContactImport.Status.COMPLETED, days_ago(19))
        run = self.run_purge()
        self.assertEqual(self.remaining(DialerSkip), {young_skip.pk})
        self.assertEqual(self.remaining(ContactImport), {running.pk, young.pk})
        self.assertFalse(default_storage.exists(path))
        self.assertEqual(run.counts[C.TECHNICAL_LOGS], 3)
        self.assertNotIn(old_skip.pk, self.remaining(DialerSkip))
        self.assertNotIn(done.pk, self.remaining(ContactImport))
        self.assertNotIn(waiting.pk, self.remaining(ContactImport))

    def contact_import(self, contact_list, status, finished_at, **fields):
        return ContactImport.objects.create(tenant=self.alpha, contact_list=contact_list, file_name="f.csv",
                                            file_format="csv", status=status, finished_at=finished_at, **fields)


class LegalHoldTests(CallsRetentionTestCase):
    def test_calls_held_by_id_or_through_a_person_keep_everything_and_are_counted(self):
        with self.in_alpha():
            jean = services.contact_create(tenant=self.alpha, phone=PHONE)
            by_contact = self.call(days_ago(400), contact=jean)
            by_report = self.call(days_ago(400), report={"email": EMAIL})
            by_id = self.call(days_ago(400))
            free = self.call(days_ago(400))
            legal_hold_place(tenant=self.alpha, reason=LegalHold.Reason.RESTRICTION, phone_index=phone_index(PHONE))
            legal_hold_place(tenant=self.alpha, reason=LegalHold.Reason.LITIGATION, email_index=email_index(EMAIL))
            legal_hold_place(tenant=self.alpha, reason=LegalHold.Reason.INCIDENT, call_ids=[by_id.pk])
        run = self.run_purge()
        with self.in_alpha():
            for call in (by_contact, by_report, by_id):
                self.assertEqual(Utterance.objects.filter(call=call).count(), 2)
                self.assertTrue(Recording.objects.filter(call=call).exists())
                self.assertTrue(CallReport.objects.filter(call=call).exists())
            self.assertFalse(Utterance.objects.filter(call=free).exists())
        self.assertEqual(run.counts, {**run.counts, C.RECORDINGS: 1, C.TRANSCRIPTS: 2, C.REPORTS: 1})
        self.assertEqual(run.held, {**run.held, C.RECORDINGS: 3, C.TRANSCRIPTS: 6, C.REPORTS: 3})

    def test_a_released_hold_no_longer_keeps_anything(self):
        from compliance.services import legal_hold_release

        with self.in_alpha():
            call = self.call(days_ago(400))
            hold = legal_hold_place(tenant=self.alpha, reason=LegalHold.Reason.INCIDENT, call_ids=[call.pk])
            legal_hold_release(hold=hold, actor=None)
        run = self.run_purge()
        self.assertEqual(self.remaining(Utterance), set())
        self.assertEqual(run.held[C.TRANSCRIPTS], 0)

    def test_skips_of_a_held_person_stay(self):
        with self.in_alpha():
            jean = services.contact_create(tenant=self.alpha, phone=PHONE)
            contact_list = ContactList.objects.create(tenant=self.alpha, name="Prospects")
            campaign = Campaign.objects.create(tenant=self.alpha, name="Spring", script=self.script,
                                               contact_list=contact_list, legal_basis="consent")
            target = CampaignTarget.objects.create(tenant=self.alpha, campaign=campaign, contact=jean)
            skip = DialerSkip.objects.create(tenant=self.alpha, campaign=campaign, target=target, reason="restricted",
                                             at=days_ago(100))
            legal_hold_place(tenant=self.alpha, reason=LegalHold.Reason.RESTRICTION, phone_index=phone_index(PHONE))
        run = self.run_purge()
        self.assertEqual(self.remaining(DialerSkip), {skip.pk})
        self.assertEqual((run.counts[C.TECHNICAL_LOGS], run.held[C.TECHNICAL_LOGS]), (0, 1))


class Crash(Exception):
    pass


class ResumeTests(CallsRetentionTestCase):
    """A run stopped after some batches (by its budget, or by a crash), then resumed: nothing deleted twice, nothing
    missed, and the counts add up exactly."""

    def setUp(self):
        super().setUp()
        with self.in_alpha():
            self.old = [self.call(days_ago(400), lines=3) for _ in range(7)]
            self.young = [self.call(days_ago(10), lines=3) for _ in range(2)]
            self.held = self.call(days_ago(400), lines=3)
            legal_hold_place(tenant=self.alpha, reason=LegalHold.Reason.INCIDENT, call_ids=[self.held.pk])
            kept = [*self.young, self.held]
            self.expected = {model: set(model.objects.filter(call__in=kept).values_list("pk", flat=True))
                             for model in (Utterance, Recording, CallReport)}
        self.expected_counts = {C.RECORDINGS: 7, C.TRANSCRIPTS: 21, C.REPORTS: 7}

    def rows(self) -> int:
        return sum(len(self.remaining(model)) for model in (Utterance, Recording, CallReport))

    def assert_exact(self, run):
        with self.in_alpha():
            run.refresh_from_db()
            self.assertEqual(RetentionRun.objects.count(), 1)
        self.assertEqual(run.status, RetentionRun.Status.COMPLETED)
        for model, ids in self.expected.items():
            self.assertEqual(self.remaining(model), ids, model)
        self.assertEqual({c: run.counts[c] for c in self.expected_counts}, self.expected_counts)
        self.assertEqual((run.held[C.RECORDINGS], run.held[C.TRANSCRIPTS], run.held[C.REPORTS]), (1, 3, 1))

    def test_a_run_stopped_after_each_batch_and_resumed_completes_exactly(self):
        with self.in_alpha():
            run = retention.retention_run_start(tenant=self.alpha, trigger=RetentionRun.Trigger.COMMAND, now=NOW)
            steps = 0
            while run.status == RetentionRun.Status.RUNNING:
                run = retention.retention_run_continue(run=RetentionRun.objects.get(pk=run.pk), batch_size=4,
                                                       max_batches=1)
                steps += 1
        self.assertGreater(steps, 10)
        self.assert_exact(run)

    def test_a_crash_midway_rolls_back_its_batch_and_purge_expired_resumes_the_same_run(self):
        real_purge = CallsPersonalData.purge
        calls_made = []

        def crashing(handler, *args, **kwargs):
            calls_made.append(args[1])
            if len(calls_made) == 5:
                real_purge(handler, *args, **kwargs)  # this batch's deletions happen, then the process "dies"
                raise Crash
            return real_purge(handler, *args, **kwargs)

        before = self.rows()
        with self.in_alpha():
            run = retention.retention_run_start(tenant=self.alpha, trigger=RetentionRun.Trigger.SCHEDULE, now=NOW)
            with mock.patch.object(CallsPersonalData, "purge", crashing), self.assertRaises(Crash):
                retention.retention_run_continue(run=run, batch_size=3)
            run.refresh_from_db()
            self.assertEqual(run.status, RetentionRun.Status.RUNNING)
            counted_before_crash = sum(run.counts.values())
            self.assertEqual(counted_before_crash, before - self.rows())  # the crashed batch rolled back with its count
            self.assertGreater(counted_before_crash, 0)
        resumed = self.run_purge(batch_size=3, now=NOW + timedelta(hours=5))
        self.assertEqual(resumed.pk, run.pk)
        self.assertEqual(resumed.cutoffs, run.cutoffs)  # the run's own cut-offs, not new ones
        self.assert_exact(resumed)

    def test_a_second_run_the_same_day_deletes_nothing(self):
        first = self.run_purge(batch_size=5)
        second = self.run_purge(batch_size=5)
        self.assertNotEqual(first.pk, second.pk)
        self.assertEqual(sum(second.counts.values()), 0)
        self.assertEqual(second.held[C.TRANSCRIPTS], 3)
        self.assertEqual(second.status, RetentionRun.Status.COMPLETED)


class CommandTests(CallsRetentionTestCase):
    def test_dry_run_counts_and_deletes_nothing_then_the_command_deletes(self):
        with self.in_alpha():
            self.call(days_ago(400))
            held = self.call(days_ago(400))
            legal_hold_place(tenant=self.alpha, reason=LegalHold.Reason.INCIDENT, call_ids=[held.pk])
        out = io.StringIO()
        call_command("purge_expired", "--tenant", "alpha", "--dry-run", stdout=out)
        self.assertIn("alpha: dry run, would delete recordings 1, transcripts 2, reports 1", out.getvalue())
        self.assertIn("kept under a legal hold: recordings 1, transcripts 2, reports 1", out.getvalue())
        self.assertEqual(len(self.remaining(Utterance)), 4)
        with self.in_alpha():
            self.assertFalse(RetentionRun.objects.exists())
        out = io.StringIO()
        call_command("purge_expired", "--tenant", "alpha", "--batch-size", "1", stdout=out)
        self.assertIn("alpha: completed; recordings 1, transcripts 2, reports 1", out.getvalue())
        self.assertEqual(len(self.remaining(Utterance)), 2)
