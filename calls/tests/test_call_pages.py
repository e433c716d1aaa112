"""The portal's call pages: the list (filters, cursor pages), one call, the live board and its JSON."""

import base64
import datetime
import re
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from calls import services
from calls.models import Call, Utterance
from calls.selectors import calls_filtered, calls_page, cursor_decode, cursor_encode
from calls.services import call_create, call_record_conversation, call_report_save, call_transition, demo_scripts_ensure
from calls.templatetags.calls_tags import call_waterfall
from compliance.services import ai_invocation_append
from tenants.scope import tenant_scope
from tenants.testing import TwoTenantTestCase

S = Call.Status
TURNS = [
    {"turn": 1, "source": "audio", "stt_final_delay_ms": 180.4, "llm_first_token_ms": 420.0,
     "tts_first_byte_ms": 150.0, "e2e_ms": 910.0, "interruptions": 0},
    {"turn": 2, "source": "audio", "stt_final_delay_ms": 210.0, "llm_first_token_ms": None,
     "tts_first_byte_ms": 130.0, "e2e_ms": 640.0, "interruptions": 1},
]


def ids_in(html):
    return re.findall(r"/calls/([0-9a-f-]{36})/", html)


class CallPagesTestCase(TwoTenantTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        with tenant_scope(cls.alpha):
            cls.fr_script, cls.en_script = demo_scripts_ensure(tenant=cls.alpha)
        with tenant_scope(cls.beta):
            cls.beta_script = demo_scripts_ensure(tenant=cls.beta)[0]

    def make_call(self, tenant=None, *, script=None, direction=Call.Direction.OUTBOUND, path=(), created_at=None):
        """Create a call in tenant (alpha by default) and move it along ``path``; run inside its scope."""
        tenant = tenant or self.alpha
        script = script or (self.fr_script if tenant == self.alpha else self.beta_script)
        call = call_create(tenant=tenant, script=script, direction=direction)
        for status in path:
            call = call_transition(call=call, to=status, reason="hangup")
        if created_at is not None:
            Call.objects.filter(pk=call.pk).update(created_at=created_at)
            call.refresh_from_db()
        return call

    def list_url(self, **params):
        url = reverse("call-list", args=["alpha"])
        return f"{url}?{urlencode(params)}" if params else url


@pytest.mark.clock  # filters by date, pages of calls created relative to now
class CallListTests(CallPagesTestCase):
    def test_lists_the_tenants_calls_newest_first(self):
        base = timezone.now() - datetime.timedelta(hours=3)
        with self.in_alpha():
            older = self.make_call(created_at=base)
            newer = self.make_call(created_at=base + datetime.timedelta(minutes=5))
        with self.in_beta():
            theirs = self.make_call(self.beta)
        self.login(self.alice)
        response = self.client.get(self.list_url())
        self.assertEqual(response.status_code, 200)
        self.assertEqual(ids_in(response.content.decode()), [str(newer.pk), str(older.pk)])
        self.assertNotContains(response, str(theirs.pk))

    def test_filters_by_status_outcome_direction_script_and_dates(self):
        now = timezone.now()
        with self.in_alpha():
            done = self.make_call(path=[S.IN_PROGRESS, S.COMPLETED])
            call_report_save(call=done, report={"name": "Jean", "appointment": "2031-03-10T14:30:00+00:00"},
                             summary="RDV", source="local")
            ringing = self.make_call(path=[S.RINGING], direction=Call.Direction.INBOUND)
            english = self.make_call(script=self.en_script)
            old = self.make_call(created_at=now - datetime.timedelta(days=40))
        self.login(self.alice)

        def listed(**params):
            response = self.client.get(self.list_url(**params))
            self.assertEqual(response.status_code, 200, params)
            return set(ids_in(response.content.decode()))

        self.assertEqual(listed(status="completed"), {str(done.pk)})
        self.assertEqual(listed(outcome="appointment"), {str(done.pk)})
        self.assertEqual(listed(outcome="pending"), {str(ringing.pk), str(english.pk), str(old.pk)})
        self.assertEqual(listed(direction="inbound"), {str(ringing.pk)})
        self.assertEqual(listed(script=self.en_script.pk), {str(english.pk)})
        today = timezone.localdate()
        self.assertNotIn(str(old.pk), listed(date_from=(today - datetime.timedelta(days=7)).isoformat()))
        self.assertEqual(listed(date_to=(today - datetime.timedelta(days=30)).isoformat()), {str(old.pk)})
        self.assertEqual(listed(status="ringing", direction="outbound"), set())

    def test_pages_cover_every_call_once_even_with_equal_timestamps(self):
        base = timezone.now() - datetime.timedelta(days=1)
        with self.in_alpha():
            calls = [self.make_call(created_at=base + datetime.timedelta(seconds=i // 3)) for i in range(23)]
        expected = [str(c.pk) for c in sorted(calls, key=lambda c: (c.created_at, c.pk.hex), reverse=True)]
        self.login(self.bob)
        seen, url, pages = [], self.list_url(per_page=5), 0
        while url:
            response = self.client.get(url)
            self.assertEqual(response.status_code, 200)
            html = response.content.decode()
            seen += ids_in(html)
            pages += 1
            match = re.search(r'href="([^"]+)" rel="next"', html)
            url = match and match.group(1).replace("&amp;", "&")
            if url:
                self.assertIn("per_page=5", url)
        self.assertEqual(pages, 5)
        self.assertEqual(seen, expected)

    def test_cursor_pages_keep_the_filters(self):
        with self.in_alpha():
            for _ in range(4):
                self.make_call(direction=Call.Direction.INBOUND)
                self.make_call()
        self.login(self.alice)
        first = self.client.get(self.list_url(direction="inbound", per_page=3)).content.decode()
        next_url = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
        self.assertIn("direction=inbound", next_url)
        second = self.client.get(next_url).content.decode()
        self.assertEqual(len(ids_in(first)) + len(ids_in(second)), 4)
        self.assertNotIn('rel="next"', second)
        self.assertIn("First page", second)

    def test_bad_filters_and_cursors_answer_400_with_a_message(self):
        with self.in_alpha():
            self.make_call()
        naive = base64.urlsafe_b64encode(f"2024-01-01T00:00:00|{uuid.uuid4().hex}".encode()).decode()
        bad = [
            {"date_from": "yesterday"}, {"date_to": "2024-02-30"}, {"status": "exploded"}, {"outcome": "x"},
            {"direction": "sideways"}, {"script": "abc"}, {"script": "999999"}, {"per_page": "0"},
            {"per_page": "100000"}, {"per_page": "many"}, {"date_from": "2024-05-02", "date_to": "2024-05-01"},
            {"cursor": "garbage"}, {"cursor": "!!!"}, {"cursor": base64.urlsafe_b64encode(b"a|b").decode()},
            {"cursor": naive}, {"cursor": "x" * 500}, {"cursor": "é"}, {"script": "9" * 30}, {"script": "1.5"},
            {"cursor": base64.urlsafe_b64encode(f"0001-01-01T00:00:00+14:00|{uuid.uuid4().hex}".encode()).decode()},
            {"date_from": "0001-01-01"}, {"date_to": "9999-12-31"}, {"status": ["completed", "queued"]},
        ]
        self.login(self.alice)
        for params in bad:
            response = self.client.get(self.list_url(**params))
            self.assertEqual(response.status_code, 400, params)
            self.assertContains(response, 'class="errorlist"', status_code=400)
        response = self.client.get(self.list_url(cursor="garbage"))
        self.assertContains(response, "This page link is not valid", status_code=400)

    def test_pages_render_in_french(self):
        with self.in_alpha():
            self.make_call(path=[S.RINGING])
        self.login(self.alice)
        for name in ("call-list", "call-live"):
            response = self.client.get(reverse(name, args=["alpha"]), HTTP_ACCEPT_LANGUAGE="fr")
            self.assertEqual(response.status_code, 200)
            self.assertContains(response, 'lang="fr"')

    def test_script_of_another_tenant_is_not_a_valid_filter(self):
        self.login(self.alice)
        response = self.client.get(self.list_url(script=self.beta_script.pk))
        self.assertEqual(response.status_code, 400)

    def test_query_count_does_not_grow_with_the_page_and_nothing_is_counted(self):
        with self.in_alpha():
            calls = [self.make_call(path=[S.IN_PROGRESS, S.COMPLETED]) for _ in range(5)]
            for call in calls:
                call_report_save(call=call, report={"name": "Jean"}, summary="", source="local")
        self.login(self.alice)
        url = self.list_url(per_page=50)
        self.client.get(url)
        with CaptureQueriesContext(connection) as five:
            self.assertEqual(len(ids_in(self.client.get(url).content.decode())), 5)
        with self.in_alpha():
            for _ in range(45):
                self.make_call()
        with self.assertNumQueries(len(five.captured_queries)):
            self.assertEqual(len(ids_in(self.client.get(url).content.decode())), 50)
        self.assertFalse([q for q in five.captured_queries if "COUNT(" in q["sql"].upper()])

    def test_page_query_uses_the_tenant_created_index(self):
        if connection.vendor != "sqlite":
            self.skipTest("plan text checked on SQLite; PostgreSQL picks a seq scan on a tiny table")
        with self.in_alpha():
            self.make_call()
            queryset = calls_filtered(tenant=self.alpha)
            with CaptureQueriesContext(connection) as ctx:
                page = calls_page(queryset, per_page=10)
            after = cursor_decode(cursor_encode(page.calls[0]))
            with CaptureQueriesContext(connection) as ctx2:
                calls_page(queryset, after=after, per_page=10)
        for captured in (ctx, ctx2):
            sql = captured.captured_queries[-1]["sql"]
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN QUERY PLAN " + sql)
                plan = " ".join(str(row) for row in cursor.fetchall())
            self.assertIn("call_tenant_created", plan)
            self.assertIn("LIMIT", sql.upper())

    def test_cursor_round_trips(self):
        with self.in_alpha():
            call = self.make_call()
        cursor = cursor_decode(cursor_encode(call))
        self.assertEqual((cursor.created_at, cursor.id), (call.created_at, call.pk))


class CallDetailTests(CallPagesTestCase):
    def full_call(self):
        with self.in_alpha():
            settings = self.alpha.settings
            settings.calling_timezone = "America/New_York"
            settings.save()
            call = self.make_call(path=[S.IN_PROGRESS, S.COMPLETED])
            call_record_conversation(call=call, transcript=[], turn_metrics=TURNS, interruptions=1,
                                     providers_used=["mistral", "google-tts"])
            Utterance.objects.create(tenant=self.alpha, call=call, seq=0, speaker="agent",
                                     text="Bonjour, je suis l'assistant virtuel.", interrupted=True)
            Utterance.objects.create(tenant=self.alpha, call=call, seq=1, speaker="caller",
                                     text="Je m'appelle Jean Dupont")
            call_report_save(call=call, summary="Jean veut une cuisine.", source="llm", report={
                "name": "Jean Dupont", "email": "jean@exemple.fr", "company": "Dupont SARL", "need": "Cuisine",
                "appointment": "2031-03-10T14:30:00+00:00", "next_step": "Confirmer", "confidence": 0.85,
                "special_category": True,
            })
            ai_invocation_append(tenant=self.alpha, call_id=call.pk, provider="mistral", role="llm",
                                 model="mistral-small-latest", region="eu", started_at=timezone.now(),
                                 duration_ms=321, outcome="ok", request_sha256="0" * 64, request_bytes=4321,
                                 no_training=True)
            ai_invocation_append(tenant=self.alpha, call_id=uuid.uuid4(), provider="elsewhere-ai", role="llm",
                                 model="other", region="eu", started_at=timezone.now(), duration_ms=1, outcome="ok",
                                 request_sha256="1" * 64, request_bytes=1)
        return call

    def test_shows_metadata_transcript_report_waterfall_ai_requests_and_audit(self):
        call = self.full_call()
        self.login(self.alice)
        response = self.client.get(reverse("call-detail", args=["alpha", call.pk]))
        self.assertEqual(response.status_code, 200)
        for text in ["Outbound", "Completed", "Legitimate interests", "google-tts, mistral", "Je m&#x27;appelle Jean",
                     "interrupted", "Jean veut une cuisine.", "jean@exemple.fr", "Dupont SARL", "Confirmer", "85 %",
                     "Special-category data", "10:30 a.m.", "America/New_York", "<svg", 'class="bar-stt"',
                     'class="bar-llm"', 'class="bar-tts"', 'class="bar-total"', "910 ms", "mistral-small-latest",
                     "4321", "321 ms", "Audit trail", "In progress → Completed", "Status"]:
            self.assertContains(response, text, msg_prefix=text)
        self.assertNotContains(response, "elsewhere-ai")
        self.assertNotContains(response, "<audio")
        html = response.content.decode()
        self.assertEqual(html.count('class="bar-llm"'), 1)  # turn 2 has no LLM measure

    def test_no_player_while_there_is_no_recording_storage(self):
        with self.in_alpha():
            settings = self.alpha.settings
            settings.recording_enabled = True
            settings.save()
            call = self.make_call()
        self.login(self.alice)
        response = self.client.get(reverse("call-detail", args=["alpha", call.pk]))
        self.assertNotContains(response, "<audio")
        self.assertContains(response, "No turn was measured")

    def test_viewer_can_read(self):
        call = self.full_call()
        self.login(self.bob)
        self.assertContains(self.client.get(reverse("call-detail", args=["alpha", call.pk])), "Jean Dupont")

    def test_another_tenants_user_gets_404(self):
        call = self.full_call()
        self.login(self.charlie)
        self.assertEqual(self.client.get(reverse("call-detail", args=["alpha", call.pk])).status_code, 404)
        self.assertEqual(self.client.get(reverse("call-detail", args=["beta", call.pk])).status_code, 404)

    def test_a_beta_call_through_alphas_url_is_404(self):
        with self.in_beta():
            theirs = self.make_call(self.beta)
        self.login(self.alice)
        self.assertEqual(self.client.get(reverse("call-detail", args=["alpha", theirs.pk])).status_code, 404)

    def test_query_count_does_not_grow_with_the_transcript(self):
        call = self.full_call()
        url = reverse("call-detail", args=["alpha", call.pk])
        self.login(self.alice)
        self.client.get(url)
        with CaptureQueriesContext(connection) as before:
            self.client.get(url)
        with self.in_alpha():
            for seq in range(2, 30):
                Utterance.objects.create(tenant=self.alpha, call=call, seq=seq, speaker="caller", text="Oui")
        with self.assertNumQueries(len(before.captured_queries)):
            self.client.get(url)


class LiveBoardTests(CallPagesTestCase):
    def test_json_lists_only_the_tenants_calls_in_progress(self):
        with self.in_alpha():
            ringing = self.make_call(path=[S.RINGING])
            talking = self.make_call(path=[S.IN_PROGRESS])
            self.make_call(path=[S.IN_PROGRESS, S.COMPLETED])
            self.make_call()
        with self.in_beta():
            self.make_call(self.beta, path=[S.IN_PROGRESS])
        self.login(self.bob)
        data = self.client.get(reverse("call-live-json", args=["alpha"])).json()
        self.assertEqual({row["id"] for row in data["calls"]}, {str(ringing.pk), str(talking.pk)})
        self.assertEqual(data["count"], 2)
        self.assertEqual(data["count_label"], "2 calls in progress.")
        row = next(r for r in data["calls"] if r["id"] == str(talking.pk))
        self.assertEqual(row["url"], reverse("call-detail", args=["alpha", talking.pk]))
        self.assertEqual(row["status_label"], "In progress")

    def test_board_links_each_call_and_refreshes_from_the_json(self):
        with self.in_alpha():
            talking = self.make_call(path=[S.IN_PROGRESS])
        self.login(self.alice)
        response = self.client.get(reverse("call-live", args=["alpha"]))
        self.assertContains(response, reverse("call-detail", args=["alpha", talking.pk]))
        self.assertContains(response, reverse("call-live-json", args=["alpha"]))
        self.assertNotContains(response, "<script src=")

    def test_another_tenants_user_gets_404(self):
        self.login(self.charlie)
        for name in ("call-list", "call-live", "call-live-json"):
            self.assertEqual(self.client.get(reverse(name, args=["alpha"])).status_code, 404, name)

    def test_anonymous_is_sent_to_log_in(self):
        response = self.client.get(reverse("call-live-json", args=["alpha"]))
        self.assertEqual(response.status_code, 302)


class DashboardAndWaterfallTests(CallPagesTestCase):
    @pytest.mark.clock
    def test_dashboard_counts_this_months_calls(self):
        with self.in_alpha():
            done = self.make_call(path=[S.IN_PROGRESS, S.COMPLETED])
            call_report_save(call=done, report={"appointment": "2031-03-10T14:30:00+00:00"}, summary="",
                             source="local")
            self.make_call()
        self.login(self.bob)
        html = self.client.get(reverse("dashboard", args=["alpha"])).content.decode()
        pairs = re.findall(r'stat-value">(\d+)</span><span class="stat-label">([^<]+)<', html)
        counts = {label: int(value) for value, label in pairs}
        self.assertEqual(counts["Calls this month"], 2)
        self.assertEqual(counts["Completed this month"], 1)
        self.assertEqual(counts["Appointments this month"], 1)

    def test_waterfall_copes_with_missing_and_odd_values(self):
        context = call_waterfall([{"turn": 1, "e2e_ms": "nan"}, "junk", {"stt_final_delay_ms": -5}, {}])
        self.assertEqual(len(context["rows"]), 3)
        self.assertEqual(call_waterfall(None)["rows"], [])
        bars = call_waterfall(TURNS)["rows"][0]["bars"]
        tts = next(bar for bar in bars if bar["stage"] == "tts")
        total = next(bar for bar in bars if bar["stage"] == "total")
        self.assertAlmostEqual(tts["x"] + tts["width"], total["x"] + total["width"], delta=0.2)


class OutboundFromThePortalTests(TwoTenantTestCase):
    def setUp(self):
        with self.in_alpha():
            self.script = services.demo_scripts_ensure(tenant=self.alpha)[0]

    def test_without_livekit_the_form_says_why_and_nothing_is_dialled(self):
        self.login(self.alice)
        response = self.client.post("/t/alpha/calls/outbound/", {"script": self.script.pk, "phone": "06 12 34 56 78"})
        self.assertContains(response, "LIVEKIT_URL", status_code=400)
        with self.in_alpha():
            self.assertFalse(Call.objects.exists())

    def test_with_livekit_the_call_is_queued_for_the_contact(self):
        from unittest import mock

        self.login(self.alice)
        with self.settings(LIVEKIT_URL="wss://lk.test", LIVEKIT_API_KEY="k", LIVEKIT_API_SECRET="s" * 32), \
                mock.patch("calls.tasks.call_dial.delay") as dial, self.captureOnCommitCallbacks(execute=True):
            response = self.client.post("/t/alpha/calls/outbound/", {"script": self.script.pk,
                                                                     "phone": "06 12 34 56 78", "name": "Jean"})
        with self.in_alpha():
            call = Call.objects.get()
        self.assertRedirects(response, f"/t/alpha/calls/{call.pk}/")
        self.assertEqual((call.direction, call.status, call.contact.phone), ("outbound", "queued", "+33612345678"))
        dial.assert_called_once_with(self.alpha.pk, str(call.pk))

    def test_bad_number_or_another_tenants_script_is_a_form_error(self):
        with self.in_beta():
            beta_script = services.demo_scripts_ensure(tenant=self.beta)[0]
        self.login(self.alice)
        for data in ({"script": self.script.pk, "phone": "12"}, {"script": beta_script.pk, "phone": "0612345678"}):
            response = self.client.post("/t/alpha/calls/outbound/", data)
            self.assertContains(response, "errorlist", status_code=400)

    def test_a_viewer_cannot_place_calls(self):
        self.login(self.bob)
        response = self.client.post("/t/alpha/calls/outbound/", {"script": self.script.pk, "phone": "0612345678"})
        self.assertEqual(response.status_code, 403)


class SimulatorStartTests(TwoTenantTestCase):
    def test_another_tenants_script_or_garbage_is_refused_with_a_message(self):
        with self.in_beta():
            beta_script = services.demo_scripts_ensure(tenant=self.beta)[0]
        self.login(self.alice)
        for value in (beta_script.pk, "x", ""):
            response = self.client.post("/t/alpha/calls/try/start/", {"script": value})
            self.assertEqual(response.status_code, 400)
            self.assertIn("scripts", response.json()["detail"])
        with self.in_alpha():
            self.assertFalse(Call.objects.exists())

    @pytest.mark.clock  # the token expires
    def test_a_member_gets_a_call_and_a_token_bound_to_its_media_path(self):
        from tenants.ws import ws_token_payload

        with self.in_alpha():
            script = services.demo_scripts_ensure(tenant=self.alpha)[0]
        self.login(self.bob)
        data = self.client.post("/t/alpha/calls/try/start/", {"script": script.pk}).json()
        path, token = data["media_url"].split("?token=")
        self.assertEqual(path, f"/ws/calls/{data['call_id']}/media/")
        self.assertEqual(ws_token_payload(token, path=path)["t"], self.alpha.pk)
        self.assertIsNone(ws_token_payload(token, path="/ws/calls/other/media/"))
