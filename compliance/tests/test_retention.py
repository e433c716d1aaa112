"""Retention of the compliance app's own data (AI log, rights-request files), of webhook deliveries, and the runs
themselves: failures, the command, the schedule, the portal page and the admin."""

import datetime
import io
import itertools
import tempfile
from datetime import UTC, timedelta
from unittest import mock

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.urls import reverse

from compliance import retention
from compliance.models import (
    AIInvocation,
    AILogHead,
    ErasureLog,
    EventKind,
    ExportFile,
    LegalHold,
    RequestStatus,
    RetentionCategory,
    RetentionRun,
    RightsRequest,
    RoutedRequest,
    RoutedRequestEvent,
)
from compliance.privacy import ComplianceRetention
from compliance.selectors import ai_log_chain_verify
from compliance.services import ai_invocation_append, legal_hold_place, legal_hold_release
from tenants.crypto import email_index
from tenants.models import TenantSettings
from tenants.roles import Role
from tenants.scope import all_tenants_scope
from tenants.services import membership_add, user_create
from tenants.testing import PASSWORD, TwoTenantTestCase, frozen_at
from webhooks.models import WebhookDelivery, WebhookEndpoint

C = RetentionCategory
NOW = datetime.datetime(2026, 12, 1, 2, 15, tzinfo=UTC)
SECOND = timedelta(seconds=1)
CALL, HELD_CALL = "5b0c7c38-8d0e-4c43-9a57-7c1f0f1d2a01", "5b0c7c38-8d0e-4c43-9a57-7c1f0f1d2a02"
_references = itertools.count(1)


def days_ago(days, delta=timedelta()):
    return NOW - timedelta(days=days) + delta


def append(tenant, started_at, *, call_id=CALL, payload="exact request"):
    return ai_invocation_append(tenant=tenant, provider="mistral", role="llm", model="m", region="eu",
                                started_at=started_at, duration_ms=10, outcome="ok", request_sha256="a" * 64,
                                request_bytes=10, call_id=call_id, payload=payload)


@frozen_at(NOW)  # the rows' own timestamps, the holds, the runs and the command's and task's "now" are all NOW
class RetentionTestCase(TwoTenantTestCase):
    def setUp(self):
        super().setUp()
        media = tempfile.TemporaryDirectory()
        self.addCleanup(media.cleanup)
        self.enterContext(override_settings(MEDIA_ROOT=media.name))
        with self.in_alpha():
            TenantSettings.objects.filter(tenant=self.alpha).update(
                retention_ai_payloads_days=30, retention_ai_metadata_days=100, retention_rights_files_days=200,
                retention_technical_logs_days=20)

    def purge(self, tenant=None, now=NOW, **kwargs) -> RetentionRun:
        return retention.purge_expired(trigger=RetentionRun.Trigger.COMMAND, now=now, tenant=tenant or self.alpha,
                                       **kwargs).runs[0]


class AIPayloadTests(RetentionTestCase):
    def test_payloads_older_than_the_cutoff_are_blanked_and_the_chain_still_verifies(self):
        with self.in_alpha():
            old = append(self.alpha, days_ago(30, -SECOND))
            young = append(self.alpha, days_ago(30, SECOND))
            held = append(self.alpha, days_ago(60), call_id=HELD_CALL)
            legal_hold_place(tenant=self.alpha, reason=LegalHold.Reason.INCIDENT, call_ids=[HELD_CALL])
        with self.in_beta():
            beta = append(self.beta, days_ago(60))
        run = self.purge()
        with self.in_alpha():
            payloads = dict(AIInvocation.objects.values_list("pk", "payload"))
            self.assertEqual(payloads, {old.pk: "", young.pk: "exact request", held.pk: "exact request"})
            self.assertTrue(ai_log_chain_verify(self.alpha).ok)
        self.assertEqual((run.counts[C.AI_PAYLOADS], run.held[C.AI_PAYLOADS]), (1, 1))
        with self.in_beta():
            self.assertEqual(AIInvocation.objects.get(pk=beta.pk).payload, "exact request")
        self.assertEqual(self.purge().counts[C.AI_PAYLOADS], 0)  # blanked once, never counted again


class AIMetadataTests(RetentionTestCase):
    def rows(self, *ages):
        with self.in_alpha():
            return [append(self.alpha, days_ago(age)) for age in ages]

    def test_the_oldest_rows_go_in_chain_order_and_the_chain_still_verifies(self):
        rows = self.rows(300, 200, 150, 99, 50)
        # a row logged late (it started earlier than the row before it) is past its period but waits its turn
        rows += self.rows(101, 10)
        run = self.purge()
        with self.in_alpha():
            self.assertEqual(list(AIInvocation.objects.values_list("pk", flat=True)), [r.pk for r in rows[3:]])
            head = AILogHead.objects.get(tenant=self.alpha)
            self.assertEqual((head.anchor_hash, head.pruned, head.length), (rows[2].row_hash, 3, 7))
            report = ai_log_chain_verify(self.alpha)
        self.assertTrue(report.ok, report.reason)
        self.assertEqual(report.rows, 4)
        self.assertEqual(run.counts[C.AI_METADATA], 3)
        with self.in_alpha():
            append(self.alpha, NOW)  # the chain goes on from where it was
            self.assertTrue(ai_log_chain_verify(self.alpha).ok)

    def test_after_pruning_a_row_removed_at_the_start_or_in_the_middle_is_still_detected(self):
        rows = self.rows(300, 200, 50, 40, 30)
        self.purge(batch_size=1)
        with self.in_alpha():
            AIInvocation.objects.filter(pk=rows[3].pk).delete()
            self.assertEqual(ai_log_chain_verify(self.alpha).broken_at, rows[4].pk)
            AIInvocation.objects.filter(pk=rows[2].pk).delete()
            self.assertEqual(ai_log_chain_verify(self.alpha).broken_at, rows[4].pk)

    def test_after_pruning_removing_the_first_remaining_row_is_detected(self):
        rows = self.rows(300, 50, 40)
        self.purge()
        with self.in_alpha():
            AIInvocation.objects.filter(pk=rows[1].pk).delete()
            report = ai_log_chain_verify(self.alpha)
        self.assertFalse(report.ok)
        self.assertEqual(report.broken_at, rows[2].pk)

    def test_pruning_every_row_leaves_a_verifiable_empty_chain(self):
        self.rows(300, 200)
        self.purge()
        with self.in_alpha():
            report = ai_log_chain_verify(self.alpha)
        self.assertEqual((report.ok, report.rows), (True, 0))

    def test_a_held_row_stops_the_pruning_there_and_what_it_keeps_is_counted(self):
        rows = self.rows(300)
        with self.in_alpha():
            rows.append(append(self.alpha, days_ago(250), call_id=HELD_CALL))
            legal_hold_place(tenant=self.alpha, reason=LegalHold.Reason.LITIGATION, call_ids=[HELD_CALL])
        rows += self.rows(200, 10)
        run = self.purge()
        with self.in_alpha():
            self.assertEqual(list(AIInvocation.objects.values_list("pk", flat=True)), [r.pk for r in rows[1:]])
            self.assertTrue(ai_log_chain_verify(self.alpha).ok)
        self.assertEqual((run.counts[C.AI_METADATA], run.held[C.AI_METADATA]), (1, 2))

    def test_a_dry_run_tells_the_same(self):
        with self.in_alpha():
            self.rows(300, 200, 50)
            preview = retention.retention_preview(tenant=self.alpha, now=NOW)
        self.assertEqual(preview[C.AI_METADATA], (2, 0))
        self.assertEqual(preview[C.AI_PAYLOADS], (3, 0))
        self.assertEqual(self.purge().counts[C.AI_METADATA], 2)


class RightsFilesTests(RetentionTestCase):
    def request(self, *, status=RequestStatus.COMPLETED, email="", received_at=None):
        return RightsRequest.objects.create(
            reference=f"RR-2025-T{next(_references):07d}", kind="access", language="en", requester_name="Jean",
            requester_email=email, email_index=email_index(email) if email else "", status=status,
            due_at=days_ago(300).date(), received_at=received_at or days_ago(900))

    def copy(self, request, *, status=RequestStatus.COMPLETED, last_event=None, tenant=None):
        """A copy with a timeline, an export (with its file) and an erasure log entry."""
        tenant = tenant or self.alpha
        routed = RoutedRequest.objects.create(tenant=tenant, request=request, status=status,
                                              due_at=days_ago(300).date(), routed_at=days_ago(900))
        RoutedRequestEvent.objects.create(tenant=tenant, routed=routed, kind=EventKind.TRANSITION,
                                          at=last_event or days_ago(201))
        path = default_storage.save(f"exports/{routed.pk}.zip.enc", ContentFile(b"token"))
        ExportFile.objects.create(tenant=tenant, routed=routed, path=path, token_hash=f"{routed.pk.hex}{'0' * 32}",
                                  expires_at=days_ago(850))
        ErasureLog.objects.create(tenant=tenant, routed=routed, store="calls.utterances", count=3, at=days_ago(850))
        return routed

    def test_closed_copies_quiet_since_the_cutoff_go_with_their_timeline_exports_files_and_erasure_log(self):
        with self.in_alpha():
            old = self.copy(self.request(), last_event=days_ago(200, -SECOND))
            export_path = ExportFile.objects.get(routed=old).path
            young = self.copy(self.request(), last_event=days_ago(200, SECOND))
            still_open = self.copy(self.request(), status=RequestStatus.AWAITING_CONTROLLER)
        with self.in_beta():
            beta = self.copy(self.request(), tenant=self.beta)
        run = self.purge()
        with self.in_alpha():
            self.assertEqual(set(RoutedRequest.objects.values_list("pk", flat=True)), {young.pk, still_open.pk})
            for model in (RoutedRequestEvent, ExportFile, ErasureLog):
                self.assertFalse(model.objects.filter(routed_id=old.pk).exists(), model)
        self.assertFalse(default_storage.exists(export_path))
        self.assertEqual(run.counts[C.RIGHTS_FILES], 1)
        with self.in_beta():
            self.assertTrue(RoutedRequest.objects.filter(pk=beta.pk).exists())

    def test_a_copy_under_an_active_hold_or_about_a_person_held_stays_and_a_released_hold_outlives_its_copy(self):
        with self.in_alpha():
            restricted = self.copy(self.request())
            legal_hold_place(tenant=self.alpha, reason=LegalHold.Reason.RESTRICTION, routed=restricted,
                             email_index=email_index("a@example.org"))
            person = self.copy(self.request(email="jean@example.org"))
            legal_hold_place(tenant=self.alpha, reason=LegalHold.Reason.LITIGATION,
                             email_index=email_index("jean@example.org"))
            released = self.copy(self.request())
            hold = legal_hold_place(tenant=self.alpha, reason=LegalHold.Reason.RESTRICTION, routed=released,
                                    email_index=email_index("b@example.org"))
            legal_hold_release(hold=hold, actor=None)
        run = self.purge()
        with self.in_alpha():
            self.assertEqual(set(RoutedRequest.objects.values_list("pk", flat=True)), {restricted.pk, person.pk})
            hold.refresh_from_db()
        self.assertIsNone(hold.routed_id)
        self.assertIsNotNone(hold.released_at)
        self.assertEqual((run.counts[C.RIGHTS_FILES], run.held[C.RIGHTS_FILES]), (1, 2))

    def test_callkoms_own_records_go_after_five_years_once_no_copy_is_left(self):
        with self.in_alpha():
            gone = self.request(received_at=days_ago(1826))
            young = self.request(received_at=days_ago(1824))
            with_copy = self.request(received_at=days_ago(1900))
            self.copy(with_copy, status=RequestStatus.AWAITING_CONTROLLER)
            open_one = self.request(status=RequestStatus.ERROR, received_at=days_ago(1900))
            held = self.request(email="jean@example.org", received_at=days_ago(1900))
            legal_hold_place(tenant=self.alpha, reason=LegalHold.Reason.LITIGATION,
                             email_index=email_index("jean@example.org"))
        outcome = retention.purge_expired(trigger=RetentionRun.Trigger.SCHEDULE, now=NOW)
        self.assertEqual(outcome.rights_requests, 1)
        self.assertEqual(set(RightsRequest.objects.values_list("pk", flat=True)),
                         {young.pk, with_copy.pk, open_one.pk, held.pk})
        self.assertNotIn(gone.pk, set(RightsRequest.objects.values_list("pk", flat=True)))
        self.assertEqual({run.tenant.slug for run in outcome.runs}, {"alpha", "beta"})


class WebhookDeliveryTests(RetentionTestCase):
    def delivery(self, tenant, created_at, status=WebhookDelivery.Status.SUCCEEDED, call_id=CALL):
        endpoint = (WebhookEndpoint.objects.filter(tenant=tenant).first()
                    or WebhookEndpoint.objects.create(tenant=tenant, url="https://example.org/hook", secret="s"))
        body = f'{{"type":"report.ready","data":{{"call_id":"{call_id}","name":"Jean Martin"}}}}'
        return WebhookDelivery.objects.create(tenant=tenant, endpoint=endpoint, event="report.ready", payload=body,
                                              status=status, created_at=created_at)

    def test_finished_deliveries_go_at_the_cutoff_pending_ones_and_held_calls_stay(self):
        with self.in_alpha():
            self.delivery(self.alpha, days_ago(20, -SECOND))
            self.delivery(self.alpha, days_ago(90), WebhookDelivery.Status.DEAD)
            young = self.delivery(self.alpha, days_ago(20, SECOND))
            retrying = self.delivery(self.alpha, days_ago(90), WebhookDelivery.Status.RETRYING)
            held = self.delivery(self.alpha, days_ago(90), call_id=HELD_CALL)
            legal_hold_place(tenant=self.alpha, reason=LegalHold.Reason.INCIDENT, call_ids=[HELD_CALL])
        with self.in_beta():
            beta = self.delivery(self.beta, days_ago(400))
        run = self.purge(batch_size=1)
        with self.in_alpha():
            self.assertEqual(set(WebhookDelivery.objects.values_list("pk", flat=True)),
                             {young.pk, retrying.pk, held.pk})
        self.assertEqual((run.counts[C.TECHNICAL_LOGS], run.held[C.TECHNICAL_LOGS]), (2, 1))
        with self.in_beta():
            self.assertTrue(WebhookDelivery.objects.filter(pk=beta.pk).exists())


class Broken(Exception):
    pass


class RunTests(RetentionTestCase):
    def test_a_failing_tenant_is_marked_failed_and_the_others_go_on(self):
        real = ComplianceRetention.purge

        def failing(handler, tenant, *args, **kwargs):
            if tenant.slug == "alpha":
                raise Broken("disk on fire")
            return real(handler, tenant, *args, **kwargs)

        with self.in_beta():
            append(self.beta, days_ago(400))
        with mock.patch.object(ComplianceRetention, "purge", failing), self.assertLogs("compliance.retention", "ERROR"):
            outcome = retention.purge_expired(trigger=RetentionRun.Trigger.SCHEDULE, now=NOW)
        runs = {run.tenant.slug: run for run in outcome.runs}
        self.assertEqual(runs["alpha"].status, RetentionRun.Status.FAILED)
        self.assertEqual(runs["alpha"].error, "Broken: disk on fire")
        self.assertIsNotNone(runs["alpha"].finished_at)
        self.assertEqual(runs["beta"].status, RetentionRun.Status.COMPLETED)
        self.assertEqual(runs["beta"].counts[C.AI_PAYLOADS], 1)
        # the next night starts afresh: a failed run is not resumed
        self.assertNotEqual(self.purge().pk, runs["alpha"].pk)

    def test_the_command_reports_per_tenant_and_fails_when_a_run_failed(self):
        with self.in_alpha():
            append(self.alpha, days_ago(400))
        out = io.StringIO()
        call_command("purge_expired", stdout=out)
        self.assertIn("alpha: completed; recordings 0, transcripts 0, reports 0, ai_payloads 1, ai_metadata 1",
                      out.getvalue())
        self.assertIn("beta: completed", out.getvalue())
        self.assertIn("CALLKOM rights request records: 0 deleted", out.getvalue())
        with mock.patch.object(ComplianceRetention, "purge", side_effect=Broken("no")), \
                self.assertLogs("compliance.retention", "ERROR"), self.assertRaises(CommandError):
            call_command("purge_expired", "--tenant", "beta", stdout=io.StringIO())
        with self.assertRaises(CommandError):
            call_command("purge_expired", "--tenant", "nope")

    def test_the_daily_task_is_scheduled_and_runs_every_tenant(self):
        from callkom.management.commands.setup_periodic_tasks import SCHEDULES
        from compliance.tasks import purge_expired

        self.assertIn(("retention purge", "compliance.purge_expired", {"crontab": "15 2 * * *"}), SCHEDULES)
        result = purge_expired.delay().get()
        self.assertEqual(set(result["runs"]), {"alpha", "beta"})
        self.assertEqual(result["runs"]["alpha"]["status"], RetentionRun.Status.COMPLETED)
        self.assertIsNone(purge_expired.delay(tenant_id=999999).get())


class PortalTests(RetentionTestCase):
    URL = "/t/alpha/privacy/retention/"

    def test_the_page_lists_the_runs_with_counts_held_rows_and_the_periods(self):
        with self.in_alpha():
            append(self.alpha, days_ago(400), call_id=HELD_CALL)
            legal_hold_place(tenant=self.alpha, reason=LegalHold.Reason.INCIDENT, call_ids=[HELD_CALL])
            append(self.alpha, days_ago(35))
        self.purge()
        self.login(self.alice)
        response = self.client.get(self.URL)
        self.assertEqual(reverse("retention-runs", args=["alpha"]), self.URL)
        self.assertContains(response, "Periods in force")
        self.assertContains(response, "CNIL guidance on call recording: recordings are kept six months at most.")
        self.assertContains(response, "180 days")  # the recordings' ceiling (and default)
        self.assertContains(response, "1 kept")
        self.assertContains(response, "Completed")
        self.assertContains(response, 'aria-current="page">Retention')

    def test_an_administrator_may_read_it_a_viewer_may_not_and_another_tenant_gets_404(self):
        admin_user = user_create(email="dora@alpha.example", password=PASSWORD)
        membership_add(tenant=self.alpha, user=admin_user, role=Role.ADMIN)
        self.login(admin_user)
        self.assertEqual(self.client.get(self.URL).status_code, 200)
        self.login(self.bob)
        self.assertEqual(self.client.get(self.URL).status_code, 403)
        self.login(self.charlie)
        self.assertEqual(self.client.get(self.URL).status_code, 404)
        self.client.logout()
        self.assertEqual(self.client.get(self.URL).status_code, 302)

    def test_a_bad_page_number_is_no_error(self):
        self.login(self.alice)
        self.assertEqual(self.client.get(self.URL + "?page=abc").status_code, 200)
        self.assertContains(self.client.get(self.URL + "?page=99"), "No run yet")


class AdminTests(RetentionTestCase):
    def test_staff_see_the_runs_and_can_run_retention_now_for_a_tenant(self):
        staff = user_create(email="staff@callkom.example", password=PASSWORD, is_staff=True)
        staff.is_superuser = True
        staff.save()
        run = self.purge()
        with self.in_alpha():
            append(self.alpha, days_ago(400))
        self.client.force_login(staff)
        changelist = reverse("admin:compliance_retentionrun_changelist")
        self.assertContains(self.client.get(changelist), "Alpha")
        self.assertContains(self.client.get(reverse("admin:compliance_retentionrun_change", args=[run.pk])),
                            "0 deleted")
        response = self.client.post(changelist, {"action": "run_now", "_selected_action": [run.pk]}, follow=True)
        self.assertContains(response, "Retention queued for 1 tenant.")
        with all_tenants_scope("test"):
            latest = RetentionRun.objects.filter(tenant=self.alpha).order_by("-pk").first()
        self.assertEqual((latest.trigger, latest.counts[C.AI_METADATA]), (RetentionRun.Trigger.STAFF, 1))
        self.assertEqual(self.client.post(reverse("admin:compliance_retentionrun_delete", args=[run.pk])).status_code,
                         403)
