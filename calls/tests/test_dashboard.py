"""The insights page and its reads: day buckets in the tenant's zone, outcomes, rates, percentiles, providers."""

import datetime
import hashlib
import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from calls import dashboard
from calls.models import Call
from calls.services import call_create, call_transition, demo_scripts_ensure
from campaigns.models import Campaign, ContactList
from compliance.models import AIInvocation
from compliance.services import ai_invocation_append
from tenants.models import LegalBasis, TenantSettings
from tenants.scope import tenant_scope
from tenants.testing import TwoTenantTestCase

pytestmark = pytest.mark.clock  # day buckets in the tenant's zone, periods ending today

S = Call.Status
UTC = datetime.UTC
_sequence = itertools.count()


def at(*args):
    return datetime.datetime(*args, tzinfo=UTC)


class InsightsTestCase(TwoTenantTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        with tenant_scope(cls.alpha):
            cls.script = demo_scripts_ensure(tenant=cls.alpha)[0]
            contacts = ContactList.objects.create(tenant=cls.alpha, name="Leads")
            cls.campaign = Campaign.objects.create(tenant=cls.alpha, name="Spring", script=cls.script,
                                                   contact_list=contacts, legal_basis=LegalBasis.CONSENT)
        with tenant_scope(cls.beta):
            cls.beta_script = demo_scripts_ensure(tenant=cls.beta)[0]

    def make_call(self, created_at, *, tenant=None, path=(), outcome="", campaign=None, turn_metrics=None):
        """Create a call (in alpha by default, inside its scope), move it along ``path``, then set its facts."""
        tenant = tenant or self.alpha
        call = call_create(tenant=tenant, script=self.script if tenant == self.alpha else self.beta_script,
                           direction=Call.Direction.OUTBOUND)
        for status in path:
            call = call_transition(call=call, to=status, reason="hangup")
        Call.objects.filter(pk=call.pk).update(created_at=created_at, outcome=outcome, campaign=campaign,
                                               turn_metrics=turn_metrics or [])
        return call

    def log_ai(self, *, provider, role, duration_ms, outcome="ok", call=None, tenant=None, started_at=None):
        tenant = tenant or self.alpha
        return ai_invocation_append(
            tenant=tenant, provider=provider, role=role, model="m", region="eu", duration_ms=duration_ms,
            started_at=started_at or timezone.now(), outcome=outcome, call_id=call.pk if call else None,
            request_sha256=hashlib.sha256(str(next(_sequence)).encode()).hexdigest(), request_bytes=10,
        )

    def period(self, first, last):
        return dashboard.period_between(self.alpha, first, last)


class DayBucketTests(InsightsTestCase):
    def test_days_follow_the_tenant_zone_across_the_spring_dst_change(self):
        # Europe/Paris: UTC+1 until 2025-03-30 02:00, then UTC+2.
        period = self.period(datetime.date(2025, 3, 29), datetime.date(2025, 3, 31))
        with self.in_alpha():
            self.make_call(at(2025, 3, 29, 22, 59))  # 23:59 on the 29th in Paris
            self.make_call(at(2025, 3, 29, 23, 30))  # 00:30 on the 30th in Paris, still the 29th in UTC
            self.make_call(at(2025, 3, 30, 21, 59))  # 23:59 on the 30th (summer time)
            self.make_call(at(2025, 3, 30, 22, 30))  # 00:30 on the 31st in Paris, still the 30th in UTC
            days = dashboard.calls_per_day(dashboard.period_calls(tenant=self.alpha, period=period), period)
        self.assertEqual([(d.day.day, d.calls) for d in days], [(29, 1), (30, 2), (31, 1)])

    def test_days_follow_the_tenant_zone_across_the_autumn_dst_change(self):
        period = self.period(datetime.date(2025, 10, 26), datetime.date(2025, 10, 27))
        with self.in_alpha():
            self.make_call(at(2025, 10, 25, 21, 59))  # 23:59 on the 25th (summer time): outside
            self.make_call(at(2025, 10, 25, 22, 0))  # midnight starting the 26th
            self.make_call(at(2025, 10, 26, 22, 59))  # 23:59 on the 26th (winter time): a 25-hour day
            self.make_call(at(2025, 10, 26, 23, 0))  # midnight starting the 27th
            days = dashboard.calls_per_day(dashboard.period_calls(tenant=self.alpha, period=period), period)
        self.assertEqual([d.calls for d in days], [2, 1])

    def test_another_tenant_zone_moves_the_midnight(self):
        with self.in_alpha():
            TenantSettings.objects.filter(tenant=self.alpha).update(calling_timezone="America/New_York")
        self.alpha.refresh_from_db()
        self.alpha.settings.refresh_from_db()
        period = self.period(datetime.date(2025, 3, 9), datetime.date(2025, 3, 10))
        self.assertEqual(str(period.zone), "America/New_York")
        with self.in_alpha():
            self.make_call(at(2025, 3, 10, 3, 30))  # 23:30 on the 9th in New York (EDT), the 10th in Paris
            days = dashboard.calls_per_day(dashboard.period_calls(tenant=self.alpha, period=period), period)
        self.assertEqual([d.calls for d in days], [1, 0])

    def test_days_without_calls_are_zero_and_the_period_ends_today_in_the_zone(self):
        now = at(2025, 6, 10, 22, 30)  # already the 11th in Paris
        period = dashboard.period_of_last_days(self.alpha, 7, now=now)
        self.assertEqual((period.first_day, period.last_day), (datetime.date(2025, 6, 5), datetime.date(2025, 6, 11)))
        with self.in_alpha():
            self.make_call(at(2025, 6, 5, 8, 0))
            self.make_call(at(2025, 6, 11, 8, 0))
            self.make_call(at(2025, 6, 4, 8, 0))  # before the period
            days = dashboard.calls_per_day(dashboard.period_calls(tenant=self.alpha, period=period), period)
        self.assertEqual([d.calls for d in days], [1, 0, 0, 0, 0, 0, 1])
        self.assertEqual(days[0].day, datetime.date(2025, 6, 5))


class TotalsTests(InsightsTestCase):
    def test_outcome_counts_and_appointment_rate_over_answered_calls(self):
        day = at(2025, 5, 12, 9, 0)
        with self.in_alpha():
            self.make_call(day, path=[S.IN_PROGRESS, S.COMPLETED], outcome=Call.Outcome.APPOINTMENT)
            self.make_call(day, path=[S.IN_PROGRESS, S.COMPLETED], outcome=Call.Outcome.INFORMATION)
            self.make_call(day, path=[S.IN_PROGRESS, S.COMPLETED], outcome=Call.Outcome.REFUSED)
            self.make_call(day, path=[S.IN_PROGRESS, S.TRANSFERRED], outcome=Call.Outcome.TRANSFERRED)
            self.make_call(day, path=[S.RINGING, S.NO_ANSWER])
            self.make_call(day, path=[S.FAILED])
            # An appointment on a call that never connected does not count (nor inflate the rate).
            self.make_call(day, path=[S.CANCELED], outcome=Call.Outcome.APPOINTMENT)
            totals = dashboard.call_totals(dashboard.period_calls(
                tenant=self.alpha, period=self.period(day.date(), day.date())))
        self.assertEqual((totals.total, totals.answered, totals.appointments), (7, 4, 1))
        self.assertEqual(totals.appointment_rate, 0.25)
        counts = {row.outcome: row.calls for row in totals.outcomes}
        self.assertEqual(counts, {"": 2, "appointment": 2, "information": 1, "transferred": 1, "refused": 1,
                                  "no_result": 0})
        self.assertEqual(sum(counts.values()), totals.total)

    def test_appointment_rate_without_answered_calls_is_none(self):
        day = at(2025, 5, 12, 9, 0)
        with self.in_alpha():
            self.make_call(day, path=[S.RINGING, S.NO_ANSWER])
            totals = dashboard.call_totals(dashboard.period_calls(
                tenant=self.alpha, period=self.period(day.date(), day.date())))
            empty = dashboard.call_totals(dashboard.period_calls(
                tenant=self.alpha, period=self.period(datetime.date(2020, 1, 1), datetime.date(2020, 1, 2))))
        self.assertEqual((totals.total, totals.answered), (1, 0))
        self.assertIsNone(totals.appointment_rate)
        self.assertIsNone(empty.appointment_rate)

    def test_campaign_filter_keeps_only_its_calls(self):
        day = at(2025, 5, 12, 9, 0)
        with self.in_alpha():
            self.make_call(day, path=[S.IN_PROGRESS, S.COMPLETED], outcome=Call.Outcome.APPOINTMENT,
                           campaign=self.campaign)
            self.make_call(day, path=[S.IN_PROGRESS, S.COMPLETED], outcome=Call.Outcome.REFUSED)
            period = self.period(day.date(), day.date())
            result = dashboard.insights(tenant=self.alpha, period=period, campaign=self.campaign)
            everything = dashboard.insights(tenant=self.alpha, period=period)
        self.assertEqual((result.totals.total, result.totals.appointment_rate), (1, 1.0))
        self.assertEqual((everything.totals.total, everything.totals.appointment_rate), (2, 0.5))
        self.assertEqual([d.calls for d in result.per_day], [1])


class PercentileTests(InsightsTestCase):
    def test_nearest_rank(self):
        values = [float(v) for v in range(1, 101)]
        self.assertEqual(dashboard.percentile(values, 50), 50.0)
        self.assertEqual(dashboard.percentile(values, 95), 95.0)
        self.assertEqual(dashboard.percentile([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0], 95), 10.0)
        self.assertEqual(dashboard.percentile([7.0], 50), 7.0)
        self.assertIsNone(dashboard.percentile([], 50))
        self.assertEqual([dashboard.nearest_rank(n, 95) for n in (1, 19, 20, 21, 100)], [1, 19, 19, 20, 95])

    def test_turn_latency_percentiles_from_the_turn_metrics(self):
        day = at(2025, 5, 12, 9, 0)
        with self.in_alpha():
            for call_index in range(4):  # e2e 1..100 ms spread over four calls, in shuffled order
                turns = [{"turn": i, "e2e_ms": float(v), "stt_final_delay_ms": 10.0, "llm_first_token_ms": None,
                          "tts_first_byte_ms": "n/a"} for i, v in enumerate(range(100 - call_index, 0, -4))]
                self.make_call(day, path=[S.IN_PROGRESS, S.COMPLETED], turn_metrics=turns)
            self.make_call(day, path=[S.RINGING, S.NO_ANSWER], turn_metrics=[{"e2e_ms": 99999}])  # not answered
            latency = dashboard.turn_latency(dashboard.period_calls(
                tenant=self.alpha, period=self.period(day.date(), day.date())))
        stages = {stage.key: stage for stage in latency.stages}
        self.assertEqual((stages["e2e_ms"].turns, stages["e2e_ms"].p50, stages["e2e_ms"].p95), (100, 50.0, 95.0))
        self.assertEqual((stages["stt_final_delay_ms"].p50, stages["stt_final_delay_ms"].p95), (10.0, 10.0))
        self.assertEqual((stages["llm_first_token_ms"].turns, stages["llm_first_token_ms"].p50), (0, None))
        self.assertEqual(stages["tts_first_byte_ms"].turns, 0)
        self.assertEqual((latency.calls_sampled, latency.capped), (4, False))

    def test_turn_latency_uses_the_newest_calls_when_capped(self):
        day = at(2025, 5, 12, 9, 0)
        with self.in_alpha():
            self.make_call(day, path=[S.IN_PROGRESS, S.COMPLETED], turn_metrics=[{"e2e_ms": 5000}])
            self.make_call(day + datetime.timedelta(hours=1), path=[S.IN_PROGRESS, S.COMPLETED],
                           turn_metrics=[{"e2e_ms": 700}])
            latency = dashboard.turn_latency(dashboard.period_calls(
                tenant=self.alpha, period=self.period(day.date(), day.date())), sample=1)
        self.assertEqual((latency.calls_sampled, latency.capped), (1, True))
        self.assertEqual(latency.stages[0].p95, 700.0)


class ProviderTests(InsightsTestCase):
    def test_error_rates_and_latency_percentiles_per_provider_and_role(self):
        with self.in_alpha():
            for ms in (1000, 300, 500, 100, 700, 200, 900, 400, 800, 600):
                self.log_ai(provider="mistral", role="llm", duration_ms=ms)
            self.log_ai(provider="mistral", role="llm", duration_ms=5, outcome="error")
            self.log_ai(provider="mistral", role="llm", duration_ms=5, outcome="error")
            self.log_ai(provider="mistral", role="llm", duration_ms=30000, outcome="timeout")
            self.log_ai(provider="mistral", role="llm", duration_ms=50, outcome="filtered")
            self.log_ai(provider="mistral", role="summary", duration_ms=2000)
            self.log_ai(provider="google-stt", role="stt", duration_ms=120)
            self.log_ai(provider="google-tts", role="tts", duration_ms=80, outcome="error")
        with self.in_beta():
            self.log_ai(provider="mistral", role="llm", duration_ms=1, outcome="error", tenant=self.beta)
        with self.in_alpha():
            stats = dashboard.provider_stats(dashboard.period_invocations(
                tenant=self.alpha, period=dashboard.period_of_last_days(self.alpha, 7)))
        rows = {(s.provider, s.role): s for s in stats}
        self.assertEqual(list(rows), [("google-stt", "stt"), ("google-tts", "tts"), ("mistral", "llm"),
                                      ("mistral", "summary")])
        llm = rows["mistral", "llm"]
        self.assertEqual((llm.requests, llm.failures), (14, 3))
        self.assertAlmostEqual(llm.error_rate, 3 / 14)
        self.assertEqual((llm.p50_ms, llm.p95_ms), (500.0, 1000.0))  # ranks 5 and 10 of the ten successful ones
        self.assertEqual((rows["google-stt", "stt"].p50_ms, rows["google-stt", "stt"].p95_ms), (120.0, 120.0))
        self.assertEqual(rows["google-stt", "stt"].error_rate, 0.0)
        tts = rows["google-tts", "tts"]
        self.assertEqual((tts.error_rate, tts.p50_ms, tts.p95_ms), (1.0, None, None))
        self.assertEqual(rows["mistral", "summary"].role_label, str(AIInvocation.Role.SUMMARY.label))

    def test_percentiles_of_twenty_requests(self):
        with self.in_alpha():
            for ms in range(20, 0, -1):
                self.log_ai(provider="p", role="llm", duration_ms=ms * 10)
            stats = dashboard.provider_stats(dashboard.period_invocations(
                tenant=self.alpha, period=dashboard.period_of_last_days(self.alpha, 7)))
        self.assertEqual((stats[0].p50_ms, stats[0].p95_ms), (100.0, 190.0))

    def test_campaign_and_period_filters_apply_to_ai_requests(self):
        with self.in_alpha():
            ours = self.make_call(timezone.now(), campaign=self.campaign)
            other = self.make_call(timezone.now())
            self.log_ai(provider="mistral", role="llm", duration_ms=100, call=ours)
            self.log_ai(provider="mistral", role="llm", duration_ms=100, call=other, outcome="error")
            self.log_ai(provider="mistral", role="llm", duration_ms=100, outcome="error",
                        started_at=timezone.now() - datetime.timedelta(days=40))
            period = dashboard.period_of_last_days(self.alpha, 30)
            campaign_stats = dashboard.provider_stats(
                dashboard.period_invocations(tenant=self.alpha, period=period, campaign=self.campaign))
            all_stats = dashboard.provider_stats(dashboard.period_invocations(tenant=self.alpha, period=period))
        self.assertEqual([(s.requests, s.failures) for s in campaign_stats], [(1, 0)])
        self.assertEqual([(s.requests, s.failures) for s in all_stats], [(2, 1)])


class QueryCountTests(InsightsTestCase):
    def fill(self, calls):
        now = timezone.now()
        with self.in_alpha():
            for index in range(calls):
                call = self.make_call(now - datetime.timedelta(days=index % 20), path=[S.IN_PROGRESS, S.COMPLETED],
                                      outcome=Call.Outcome.APPOINTMENT if index % 2 else Call.Outcome.REFUSED,
                                      campaign=self.campaign if index % 2 else None,
                                      turn_metrics=[{"e2e_ms": 100 + index, "stt_final_delay_ms": 20}])
                self.log_ai(provider=f"provider-{index % 3}", role="llm", duration_ms=50 + index, call=call,
                            outcome="ok" if index % 4 else "error")

    def test_the_number_of_queries_does_not_grow_with_the_data(self):
        counts = []
        for calls in (1, 25):
            self.fill(calls)
            with self.in_alpha(), CaptureQueriesContext(connection) as captured:
                dashboard.insights(tenant=self.alpha, period=dashboard.period_of_last_days(self.alpha, 30),
                                   campaign=self.campaign)
            counts.append(len(captured.captured_queries))
        self.assertEqual(counts, [5, 5])

    def test_the_page_costs_the_same_with_more_data(self):
        self.login(self.alice)
        url = reverse("insights", args=["alpha"]) + "?" + urlencode({"period": 90})
        self.fill(1)
        with CaptureQueriesContext(connection) as small:
            self.assertEqual(self.client.get(url).status_code, 200)
        self.fill(30)
        with self.assertNumQueries(len(small.captured_queries)):
            self.assertEqual(self.client.get(url).status_code, 200)


class InsightsPageTests(InsightsTestCase):
    def url(self, **params):
        base = reverse("insights", args=["alpha"])
        return f"{base}?{urlencode(params)}" if params else base

    def test_a_viewer_sees_the_charts_of_the_last_30_days(self):
        with self.in_alpha():
            self.make_call(timezone.now(), path=[S.IN_PROGRESS, S.COMPLETED], outcome=Call.Outcome.APPOINTMENT,
                           turn_metrics=[{"e2e_ms": 640}])
            self.log_ai(provider="mistral", role="llm", duration_ms=420)
        self.login(self.bob)
        response = self.client.get(self.url())
        self.assertEqual(response.status_code, 200)
        html = response.content.decode()
        for chart in ("chart-per-day", "chart-outcomes", "chart-turn-latency", "chart-provider-latency",
                      "chart-provider-errors"):
            self.assertIn(f'aria-labelledby="{chart}-title {chart}-desc"', html)
        self.assertEqual(html.count("<details"), 5)
        self.assertEqual(response.context["data"].period.length, 30)
        self.assertIn('<option value="30" selected>', html)
        self.assertIn("answered calls", html)  # the denominator is said on the page
        self.assertIn("100.0", html)  # one appointment out of one answered call

    def test_a_period_of_dates_and_a_campaign(self):
        with self.in_alpha():
            self.make_call(at(2025, 3, 30, 8, 0), campaign=self.campaign)
            self.make_call(at(2025, 3, 30, 9, 0))
        self.login(self.alice)
        response = self.client.get(self.url(date_from="2025-03-29", date_to="2025-03-31", campaign=self.campaign.pk))
        self.assertEqual(response.status_code, 200)
        data = response.context["data"]
        self.assertEqual([d.calls for d in data.per_day], [0, 1, 0])
        self.assertEqual(data.campaign, self.campaign)
        self.assertContains(response, "Spring")

    def test_no_data_and_no_answered_call_show_a_dash_not_an_error(self):
        self.login(self.alice)
        response = self.client.get(self.url(period=7))
        self.assertEqual(response.status_code, 200)
        self.assertIsNone(response.context["data"].totals.appointment_rate)
        self.assertContains(response, "No call in this period.")

    def test_bad_values_answer_400_with_the_form(self):
        with self.in_beta():
            beta_campaign = Campaign.objects.create(
                tenant=self.beta, name="Theirs", script=self.beta_script, legal_basis=LegalBasis.CONSENT,
                contact_list=ContactList.objects.create(tenant=self.beta, name="Their leads"))
        bad = [
            {"period": "13"}, {"period": "abc"}, {"period": "-7"}, {"date_from": "yesterday", "date_to": "2025-01-01"},
            {"date_from": "2025-02-30", "date_to": "2025-03-01"}, {"date_from": "2025-01-01"},
            {"date_to": "2025-01-01"}, {"date_from": "2025-05-02", "date_to": "2025-05-01"},
            {"date_from": "2024-01-01", "date_to": "2025-01-01"}, {"date_from": "0001-01-01", "date_to": "0001-01-02"},
            {"date_from": "9999-12-30", "date_to": "9999-12-31"}, {"campaign": "abc"}, {"campaign": "999999"},
            {"campaign": "9" * 30}, {"campaign": beta_campaign.pk}, {"period": ["7", "x"]},
        ]
        self.login(self.alice)
        for params in bad:
            response = self.client.get(self.url() + "?" + urlencode(params, doseq=True))
            self.assertEqual(response.status_code, 400, params)
            self.assertIsNone(response.context["data"], params)
            self.assertContains(response, 'class="errorlist"', status_code=400)

    def test_another_tenants_user_gets_404(self):
        self.login(self.charlie)
        self.assertEqual(self.client.get(self.url()).status_code, 404)

    def test_the_dashboard_links_to_the_insights(self):
        self.login(self.bob)
        self.assertContains(self.client.get(reverse("dashboard", args=["alpha"])), self.url())
