"""Usage over a period: calls by direction and status, minutes (billable rounded up per call), AI requests,
contacts and campaigns; the period's parameters; a few queries whatever the volume."""

import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from calls import services
from calls.models import Call, Contact
from campaigns.models import Campaign
from campaigns.tests.campaign_helpers import consented_campaign, usable_list
from compliance.services import ai_invocation_append
from tenants.scope import tenant_scope
from tenants.testing import ApiTestCase

pytestmark = pytest.mark.clock  # periods by date; the default period is the current month

PARIS = ZoneInfo("Europe/Paris")
S = Call.Status


def paris(*args):
    return datetime.datetime(*args, tzinfo=PARIS)


class UsageApiTests(ApiTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        with tenant_scope(cls.alpha):
            cls.script = services.demo_scripts_ensure(tenant=cls.alpha)[0]
        with tenant_scope(cls.beta):
            cls.beta_script = services.demo_scripts_ensure(tenant=cls.beta)[0]

    def setUp(self):
        super().setUp()
        self.read = self.key(self.alpha, "calls:read")

    def call(self, created_at, *, tenant=None, script=None, direction=Call.Direction.OUTBOUND, status=S.COMPLETED,
             seconds=None, answered=True):
        tenant = tenant or self.alpha
        with tenant_scope(tenant):
            call = services.call_create(tenant=tenant, script=script or self.script, direction=direction)
            fields = {"status": status, "created_at": created_at}
            if seconds is not None:
                fields.update(started_at=created_at, ended_at=created_at + datetime.timedelta(seconds=seconds),
                              answered_at=created_at + datetime.timedelta(seconds=5) if answered else None)
            Call.objects.filter(pk=call.pk).update(**fields)
        return call

    def usage(self, key=None, **params):
        response = self.api("GET", "/api/v1/usage/", key or self.read, params)
        self.assertEqual(response.status_code, 200, response.content)
        return response.json()

    def test_a_month_of_usage(self):
        self.call(paris(2025, 3, 1, 0, 30), seconds=61)  # 00:30 in Paris on the 1st: March
        self.call(paris(2025, 3, 10, 15, 0), seconds=120)
        self.call(paris(2025, 3, 31, 23, 59), direction=Call.Direction.INBOUND, seconds=30)
        self.call(paris(2025, 3, 12, 10, 0), status=S.NO_ANSWER, seconds=25, answered=False)
        self.call(paris(2025, 3, 12, 11, 0), status=S.IN_PROGRESS)
        self.call(paris(2025, 2, 28, 23, 30), seconds=600)  # February, in Paris
        self.call(paris(2025, 4, 1, 0, 0), seconds=600)
        self.call(paris(2025, 3, 10, 15, 0), tenant=self.beta, script=self.beta_script, seconds=600)
        with tenant_scope(self.alpha):
            for role, duration, started in [("llm", 500, paris(2025, 3, 2)), ("llm", 700, paris(2025, 3, 3)),
                                            ("tts", 100, paris(2025, 3, 3)), ("llm", 900, paris(2025, 4, 2))]:
                ai_invocation_append(tenant=self.alpha, provider="mistral", role=role, model="m", region="eu",
                                     started_at=started, duration_ms=duration, outcome="ok", request_sha256="a" * 64,
                                     request_bytes=1)
        with tenant_scope(self.alpha):
            running = consented_campaign(self.alpha, self.script, usable_list(self.alpha), name="Spring")
            Campaign.objects.filter(pk=running.pk).update(status=Campaign.Status.RUNNING,
                                                          started_at=paris(2025, 3, 20))
            done = consented_campaign(self.alpha, self.script, usable_list(self.alpha, phones=["+33612345699"],
                                                                            name="Old"), name="Winter")
            Campaign.objects.filter(pk=done.pk).update(status=Campaign.Status.COMPLETED,
                                                       started_at=paris(2025, 1, 5), finished_at=paris(2025, 2, 1))
            Contact.objects.filter(phone_index__isnull=False).update(created_at=paris(2025, 3, 5))
            services.contact_create(tenant=self.alpha, phone="+33698765432")  # created now: not in March 2025

        body = self.usage(month="2025-03")
        self.assertEqual(body["period"], {"from": "2025-03-01", "to": "2025-03-31", "time_zone": "Europe/Paris"})
        calls = body["calls"]
        self.assertEqual(calls["total"], 5)
        self.assertEqual(calls["by_direction"], {"inbound": 1, "outbound": 4})
        self.assertEqual(calls["by_status"], {"queued": 0, "ringing": 0, "in_progress": 1, "completed": 3,
                                              "transferred": 0, "no_answer": 1, "failed": 0, "canceled": 0})
        # total: 61 + 120 + 30 + 25 s; billable: answered calls only, each rounded up: 2 + 2 + 1
        self.assertEqual(body["minutes"], {"total": round(236 / 60, 2), "billable": 5})
        self.assertEqual(body["ai_requests"], [
            {"provider": "mistral", "role": "llm", "requests": 2, "duration_ms": 1200},
            {"provider": "mistral", "role": "tts", "requests": 1, "duration_ms": 100},
        ])
        self.assertEqual(body["contacts"], {"total": 7, "created": 6})
        self.assertEqual(body["active_campaigns"], 1)

        february = self.usage(month="2025-02")
        self.assertEqual((february["calls"]["total"], february["minutes"], february["active_campaigns"]),
                         (1, {"total": 10.0, "billable": 10}, 1))
        self.assertEqual(self.usage(key=self.key(self.beta, "calls:read"), month="2025-03")["calls"]["total"], 1)

    def test_days_from_to_both_included(self):
        self.call(paris(2025, 3, 10, 23, 59), seconds=10)
        self.call(paris(2025, 3, 11, 0, 0), seconds=10)
        body = self.usage(**{"from": "2025-03-01", "to": "2025-03-10"})
        self.assertEqual((body["period"]["from"], body["period"]["to"], body["calls"]["total"]),
                         ("2025-03-01", "2025-03-10", 1))
        self.assertEqual(self.usage(**{"from": "2025-03-11", "to": "2025-03-11"})["calls"]["total"], 1)
        self.assertEqual(self.usage(**{"from": "2025-01-01", "to": "2026-01-01"})["calls"]["total"], 2)  # 366 days

    def test_the_default_is_the_current_month_in_the_calling_time_zone(self):
        now = datetime.datetime(2025, 3, 31, 22, 30, tzinfo=datetime.UTC)  # 1 April 00:30 in Paris
        with time_machine.travel(now, tick=False):
            body = self.usage()
        self.assertEqual(body["period"], {"from": "2025-04-01", "to": "2025-04-30", "time_zone": "Europe/Paris"})
        self.assertEqual((body["minutes"], body["ai_requests"]), ({"total": 0.0, "billable": 0}, []))

    def test_bad_parameters_are_400_problems_naming_them(self):
        for params, field in [({"month": "2025-13"}, "month"), ({"month": "March"}, "month"),
                              ({"month": "0001-01"}, "month"), ({"month": "2025-03-01"}, "month"),
                              ({"from": "2025-03-01"}, "to"), ({"to": "2025-03-01"}, "from"),
                              ({"from": "yesterday", "to": "2025-03-01"}, "from"),
                              ({"from": "2025-03-02", "to": "2025-03-01"}, "to"),
                              ({"from": "2025-01-01", "to": "2026-01-02"}, "to"),
                              ({"from": "0001-01-01", "to": "0001-01-02"}, "from"),
                              ({"month": "2025-03", "from": "2025-03-01", "to": "2025-03-02"}, "month")]:
            body = self.assert_problem(self.api("GET", "/api/v1/usage/", self.read, params), 400)
            self.assertIn(field, [error["field"] for error in body["errors"]], params)

    def test_isolation_and_scope(self):
        self.call(paris(2025, 3, 10, 15, 0), seconds=60)
        beta = self.usage(key=self.key(self.beta, "calls:read"), month="2025-03")
        self.assertEqual((beta["calls"]["total"], beta["minutes"]["billable"]), (0, 0))
        body = self.assert_problem(self.api("GET", "/api/v1/usage/", self.key(self.alpha, "reports:read")), 403)
        self.assertEqual(body["missing_scopes"], ["calls:read"])

    def test_a_few_queries_whatever_the_volume(self):
        self.usage(month="2025-03")  # the key's first use of the minute records it

        def count():
            with CaptureQueriesContext(connection) as queries:
                self.usage(month="2025-03")
            return len(queries)

        self.call(paris(2025, 3, 10, 15, 0), seconds=60)
        few = count()
        for day in range(1, 20):
            self.call(paris(2025, 3, day, 15, 0), seconds=day, direction=Call.Direction.INBOUND, status=S.TRANSFERRED)
        self.assertEqual(count(), few)
        self.assertLessEqual(few, 8)
