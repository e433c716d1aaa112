"""CSV export of call reports: content, filters, tenant isolation, formula injection, permission, audit, streaming."""

import csv
import datetime
import io
from unittest import mock

import pytest
from auditlog.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.http import urlencode

from calls import reports_csv
from calls.models import Call
from calls.services import call_create, call_report_save, call_transition, demo_scripts_ensure
from tenants.roles import Role
from tenants.scope import tenant_scope
from tenants.services import membership_add, user_create
from tenants.testing import TwoTenantTestCase

pytestmark = pytest.mark.clock  # dates in the tenant's zone, filters by period, the file named after today

S = Call.Status
HEADER = ["Call ID", "Created", "Direction", "Status", "Outcome", "Campaign", "Script", "Name", "Phone", "E-mail",
          "Company", "Need", "Appointment", "Next step", "Summary", "Special-category data"]


def parse(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


class ReportsCsvTests(TwoTenantTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.manager = user_create(email="manager@alpha.example", password="x" * 12, language="en")
        cls.dpo = user_create(email="dpo@alpha.example", password="x" * 12, language="en")
        membership_add(tenant=cls.alpha, user=cls.manager, role=Role.CAMPAIGN_MANAGER)
        membership_add(tenant=cls.alpha, user=cls.dpo, role=Role.DPO)
        with tenant_scope(cls.alpha):
            cls.script = demo_scripts_ensure(tenant=cls.alpha)[0]
            cls.done = cls.make_call(cls.alpha, cls.script, datetime.datetime(2025, 3, 30, 22, 30, tzinfo=datetime.UTC),
                                     path=[S.IN_PROGRESS, S.COMPLETED])
            call_report_save(call=cls.done, summary="Wants a kitchen.", source="local", report={
                "name": "Jeanne Dupont", "phone": "06 12 34 56 78", "email": "Jeanne@Example.fr",
                "company": "Cuisines Dupont", "need": "Une cuisine équipée", "next_step": "Send a quote",
                "appointment": "2025-04-02T14:30:00+00:00", "special_category": False,
            })
            cls.evil = cls.make_call(cls.alpha, cls.script, datetime.datetime(2025, 3, 20, 9, 0, tzinfo=datetime.UTC),
                                     path=[S.IN_PROGRESS, S.TRANSFERRED])
            call_report_save(call=cls.evil, summary="-2+3", source="local", report={
                "name": '=HYPERLINK("http://evil.example","click")', "company": "@SUM(A1:A9)",
                "need": "\tcmd|' /C calc'!A0", "next_step": "\rnext", "special_category": True,
            })
            cls.ringing = cls.make_call(cls.alpha, cls.script,
                                        datetime.datetime(2025, 3, 21, 9, 0, tzinfo=datetime.UTC), path=[S.RINGING])
        with tenant_scope(cls.beta):
            beta_script = demo_scripts_ensure(tenant=cls.beta)[0]
            theirs = cls.make_call(cls.beta, beta_script, datetime.datetime(2025, 3, 25, 9, 0, tzinfo=datetime.UTC),
                                   path=[S.IN_PROGRESS, S.COMPLETED])
            call_report_save(call=theirs, summary="Beta secret", source="local", report={"name": "Beta Person"})

    @staticmethod
    def make_call(tenant, script, created_at, *, path=()):
        call = call_create(tenant=tenant, script=script, direction=Call.Direction.OUTBOUND)
        for status in path:
            call = call_transition(call=call, to=status, reason="hangup")
        Call.objects.filter(pk=call.pk).update(created_at=created_at)
        call.refresh_from_db()
        return call

    def url(self, **params):
        base = reverse("call-reports-csv", args=["alpha"])
        return f"{base}?{urlencode(params)}" if params else base

    def download(self, user=None, **params):
        self.login(user or self.manager)
        response = self.client.get(self.url(**params))
        self.assertEqual(response.status_code, 200, params)
        self.assertTrue(response.streaming)
        return response, b"".join(response.streaming_content)

    def test_the_file_holds_the_decrypted_reports_in_the_tenant_zone(self):
        response, content = self.download()
        self.assertTrue(content.startswith(b"\xef\xbb\xbf"))  # UTF-8 BOM, for Excel
        self.assertEqual(response["Content-Type"], "text/csv; charset=utf-8")
        self.assertRegex(response["Content-Disposition"], r'^attachment; filename="call-reports-alpha-[\d-]+\.csv"$')
        self.assertEqual(response["Cache-Control"], "private, no-store")
        rows = parse(content)
        self.assertEqual(rows[0], HEADER)
        self.assertEqual([row[0] for row in rows[1:]], [str(self.done.pk), str(self.ringing.pk), str(self.evil.pk)])
        done = dict(zip(HEADER, rows[1], strict=True))
        self.assertEqual(done["Created"], "2025-03-31T00:30:00+02:00")  # 22:30 UTC is past midnight in Paris
        self.assertEqual((done["Direction"], done["Status"], done["Outcome"]), ("Outbound", "Completed", "Appointment"))
        self.assertEqual(done["Script"], self.script.name)
        self.assertEqual(done["Campaign"], "")
        self.assertEqual((done["Name"], done["E-mail"]), ("Jeanne Dupont", "jeanne@example.fr"))
        self.assertEqual(done["Phone"], "'+33612345678")  # E.164 starts with "+": quoted like any formula
        self.assertEqual((done["Company"], done["Need"], done["Next step"], done["Summary"]),
                         ("Cuisines Dupont", "Une cuisine équipée", "Send a quote", "Wants a kitchen."))
        self.assertEqual(done["Appointment"], "2025-04-02T16:30+02:00")
        self.assertEqual(done["Special-category data"], "No")
        ringing = dict(zip(HEADER, rows[2], strict=True))
        self.assertEqual((ringing["Status"], ringing["Outcome"], ringing["Name"], ringing["Summary"]),
                         ("Ringing", "Pending", "", ""))
        self.assertNotIn(b"Beta", content)

    def test_cells_that_a_spreadsheet_would_run_are_neutralised(self):
        _response, content = self.download()
        evil = dict(zip(HEADER, parse(content)[3], strict=True))
        self.assertEqual(evil["Name"], '\'=HYPERLINK("http://evil.example","click")')
        self.assertEqual(evil["Company"], "'@SUM(A1:A9)")
        self.assertEqual(evil["Need"], "'\tcmd|' /C calc'!A0")
        self.assertEqual(evil["Next step"], "'\rnext")
        self.assertEqual(evil["Summary"], "'-2+3")
        self.assertEqual(evil["Special-category data"], "Yes")
        for row in parse(content):
            for cell in row:
                self.assertFalse(cell.startswith(reports_csv.FORMULA_STARTS), cell)

    def test_csv_safe(self):
        for value in ("=1+1", "+33", "-1", "@x", "\tx", "\rx"):
            self.assertEqual(reports_csv.csv_safe(value), "'" + value)
        for value in ("", "Jeanne", "1+1", "a=b", "'quoted"):
            self.assertEqual(reports_csv.csv_safe(value), value)

    def test_the_list_filters_apply(self):
        _response, content = self.download(status="completed")
        self.assertEqual([row[0] for row in parse(content)[1:]], [str(self.done.pk)])
        _response, content = self.download(outcome="pending")
        self.assertEqual([row[0] for row in parse(content)[1:]], [str(self.ringing.pk)])
        _response, content = self.download(date_from="2025-03-21", date_to="2025-03-30")
        self.assertEqual([row[0] for row in parse(content)[1:]], [str(self.ringing.pk)])  # the 31st in Paris
        _response, content = self.download(date_from="2025-03-31", direction="inbound")
        self.assertEqual(parse(content), [HEADER])

    def test_a_bad_filter_answers_400_with_a_message_and_exports_nothing(self):
        self.login(self.alice)
        for params in ({"status": "exploded"}, {"date_from": "2025-05-02", "date_to": "2025-05-01"},
                       {"script": "abc"}, {"date_from": "0001-01-01"}):
            response = self.client.get(self.url(**params))
            self.assertEqual(response.status_code, 400, params)
            self.assertContains(response, 'class="errorlist"', status_code=400)
        self.assertFalse(LogEntry.objects.filter(action=LogEntry.Action.ACCESS).exists())

    def test_who_may_export(self):
        for user in (self.alice, self.manager, self.dpo):
            self.download(user)
        self.login(self.bob)  # a viewer reads reports in the portal, one call at a time
        self.assertEqual(self.client.get(self.url()).status_code, 403)
        self.assertNotContains(self.client.get(reverse("call-list", args=["alpha"])), "reports.csv")
        self.login(self.charlie)
        self.assertEqual(self.client.get(self.url()).status_code, 404)
        self.assertEqual(self.client.get(reverse("call-reports-csv", args=["beta"])).status_code, 200)

    def test_the_export_is_in_the_audit_log_and_on_the_activity_page(self):
        self.download(self.manager, status="completed")
        entry = LogEntry.objects.get(action=LogEntry.Action.ACCESS)
        self.assertEqual((entry.actor, entry.additional_data), (self.manager, {"tenant": self.alpha.pk}))
        self.assertEqual(entry.changes_dict["export"], ["", "call reports (CSV)"])
        self.assertIn("status=completed", entry.changes_dict["filters"][1])
        self.assertNotIn("Jeanne", str(entry.changes) + str(entry.serialized_data))
        self.login(self.alice)
        self.assertContains(self.client.get(reverse("activity", args=["alpha"])), "call reports (CSV)")
        self.login(self.charlie)
        self.assertNotContains(self.client.get(reverse("activity", args=["beta"])), "call reports (CSV)")

    def test_the_call_list_links_to_the_export_with_its_filters(self):
        self.login(self.manager)
        html = self.client.get(reverse("call-list", args=["alpha"]) + "?status=completed&per_page=5").content.decode()
        self.assertIn(f'href="{self.url(status="completed")}" download', html)

    def test_rows_are_fetched_while_streaming_in_chunks(self):
        self.login(self.manager)
        with mock.patch.object(reports_csv, "CHUNK_SIZE", 2), CaptureQueriesContext(connection) as before:
            response = self.client.get(self.url())
            self.assertFalse([q for q in before.captured_queries if 'FROM "calls_call"' in q["sql"]])
            pieces = list(response.streaming_content)
        self.assertEqual(len(pieces), 2)  # header and two rows, then the last row
        self.assertEqual(len(parse(b"".join(pieces))), 4)

    async def test_streams_asynchronously_under_asgi(self):
        """Django's ASGI handler would buffer a synchronous iterator whole; the view hands it an async one."""
        await self.async_client.aforce_login(self.manager)
        response = await self.async_client.get(self.url(status="completed"))
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.is_async)
        content = b"".join([piece async for piece in response.streaming_content])
        self.assertEqual([row[0] for row in parse(content)[1:]], [str(self.done.pk)])
