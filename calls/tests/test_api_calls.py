"""The calls API: list (filters, cursor, constant queries), detail, transcript, report, outbound start, hang-up."""

import datetime
import uuid
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.test.utils import CaptureQueriesContext

from calls import services
from calls.donotcall import do_not_call_add, platform_do_not_call_add
from calls.models import Call, CallReport, Contact, SupervisorAction
from calls.runner import call_group
from calls.tests.livekit_standin import livekit_server_fixture  # noqa: F401 - fixture
from campaigns.tests.campaign_helpers import consented_campaign, usable_list
from compliance.models import LegalHold
from compliance.services import legal_hold_place
from tenants.api_support import problem_type_url
from tenants.crypto import phone_index
from tenants.models import IdempotencyRecord, TenantSettings
from tenants.scope import tenant_scope
from tenants.testing import ApiTestCase, drain_channel

S = Call.Status
LIVEKIT = {"LIVEKIT_URL": "wss://lk.test", "LIVEKIT_API_KEY": "k", "LIVEKIT_API_SECRET": "s" * 32}
T0 = datetime.datetime(2025, 3, 4, 9, 0, tzinfo=datetime.UTC)


class CallApiBase(ApiTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        with tenant_scope(cls.alpha):
            cls.script = services.demo_scripts_ensure(tenant=cls.alpha)[0]
            cls.contact = services.contact_create(tenant=cls.alpha, phone="06 12 34 56 78", name="Jeanne Martin")
        with tenant_scope(cls.beta):
            cls.beta_script = services.demo_scripts_ensure(tenant=cls.beta)[0]

    def setUp(self):
        super().setUp()
        self.read = self.key(self.alpha, "calls:read")
        self.reports = self.key(self.alpha, "reports:read")
        self.write = self.key(self.alpha, "calls:read", "calls:write")

    def make_call(self, *, tenant=None, script=None, contact=None, status=S.QUEUED, created_at=None, **fields):
        tenant = tenant or self.alpha
        with tenant_scope(tenant):
            call = services.call_create(tenant=tenant, script=script or self.script, contact=contact,
                                        direction=fields.pop("direction", Call.Direction.OUTBOUND),
                                        channel=fields.pop("channel", Call.Channel.PHONE),
                                        legal_basis=fields.pop("legal_basis", "consent"),
                                        campaign=fields.pop("campaign", None))
            changes = {"status": status, **fields}
            if created_at is not None:
                changes["created_at"] = created_at
            Call.objects.filter(pk=call.pk).update(**changes)
            call.refresh_from_db()
        return call


@pytest.mark.clock  # filters by creation time
class CallListTests(CallApiBase):
    def test_newest_first_one_page_at_a_time(self):
        made = [self.make_call(created_at=T0 + datetime.timedelta(minutes=index)) for index in range(5)]
        made.append(self.make_call(created_at=made[-1].created_at))  # a tie: the id decides
        seen, url, pages = [], "/api/v1/calls/?page_size=2", 0
        while url:
            response = self.api("GET", url, self.read)
            self.assertEqual(response.status_code, 200, response.content)
            body = response.json()
            seen += [row["id"] for row in body["results"]]
            url, pages = body["next"], pages + 1
        self.assertEqual(pages, 3)
        expected = sorted(made, key=lambda call: (call.created_at, call.pk), reverse=True)
        self.assertEqual(seen, [str(call.pk) for call in expected])

    def test_a_row_says_what_the_call_was(self):
        call = self.make_call(contact=self.contact, status=S.COMPLETED, outcome=Call.Outcome.APPOINTMENT,
                              started_at=T0, answered_at=T0 + datetime.timedelta(seconds=5),
                              ended_at=T0 + datetime.timedelta(seconds=65), end_reason="hangup")
        [row] = self.api("GET", "/api/v1/calls/", self.read).json()["results"]
        self.assertEqual(row["id"], str(call.pk))
        self.assertEqual((row["direction"], row["channel"], row["status"], row["outcome"]),
                         ("outbound", "phone", "completed", "appointment"))
        self.assertEqual(row["script"], {"id": self.script.pk, "name": self.script.name})
        self.assertEqual((row["contact_id"], row["campaign_id"], row["duration_s"], row["end_reason"]),
                         (self.contact.pk, None, 65, "hangup"))
        self.assertTrue(row["links"]["report"].endswith(f"/api/v1/calls/{call.pk}/report/"))
        self.assertNotIn("contact", row)  # the number and name: on the detail only

    def test_another_tenants_key_sees_none_and_the_scope_is_needed(self):
        self.make_call()
        beta = self.key(self.beta, "calls:read")
        self.assertEqual(self.api("GET", "/api/v1/calls/", beta).json()["results"], [])
        body = self.assert_problem(self.api("GET", "/api/v1/calls/", self.reports), 403)
        self.assertEqual(body["missing_scopes"], ["calls:read"])

    def test_filters(self):
        with tenant_scope(self.alpha):
            other_script = services.script_create(
                tenant=self.alpha, name="Other", language="fr", greeting="Bonjour, je suis une IA de test.",
                goal="Tester.", steps=[])
            campaign = consented_campaign(self.alpha, self.script, usable_list(self.alpha))
            other_contact = services.contact_create(tenant=self.alpha, phone="+33698765432")
        pending = self.make_call(contact=self.contact, created_at=T0)
        booked = self.make_call(status=S.COMPLETED, outcome=Call.Outcome.APPOINTMENT, contact=other_contact,
                                created_at=T0 + datetime.timedelta(days=1), campaign=campaign)
        inbound = self.make_call(direction=Call.Direction.INBOUND, status=S.IN_PROGRESS, script=other_script,
                                 contact=self.contact, created_at=T0 + datetime.timedelta(days=2))
        self.make_call(tenant=self.beta, script=self.beta_script, status=S.COMPLETED)

        def listed(**params):
            response = self.api("GET", "/api/v1/calls/", self.read, params)
            self.assertEqual(response.status_code, 200, response.content)
            return {row["id"] for row in response.json()["results"]}

        def ids(*calls):
            return {str(call.pk) for call in calls}

        self.assertEqual(listed(), ids(pending, booked, inbound))
        self.assertEqual(listed(status="completed"), ids(booked))
        self.assertEqual(listed(direction="inbound"), ids(inbound))
        self.assertEqual(listed(outcome="pending"), ids(pending, inbound))
        self.assertEqual(listed(outcome="appointment"), ids(booked))
        self.assertEqual(listed(campaign=campaign.pk), ids(booked))
        self.assertEqual(listed(script=other_script.pk), ids(inbound))
        self.assertEqual(listed(script=self.beta_script.pk), set())
        self.assertEqual(listed(created_after="2025-03-05T09:00:00Z"), ids(booked, inbound))
        self.assertEqual(listed(created_before="2025-03-05T10:00:00+01:00"), ids(pending))  # strictly before
        self.assertEqual(listed(created_after="2025-03-05T00:00:00Z", created_before="2025-03-06T00:00:00Z"),
                         ids(booked))
        self.assertEqual(listed(phone="+33612345678"), ids(pending, inbound))
        self.assertEqual(listed(phone="06 98 76 54 32"), ids(booked))  # a French national number
        self.assertEqual(listed(phone="+33611223344", status="completed"), set())
        self.assertEqual(listed(status="completed", direction="inbound"), set())

    def test_bad_filters_are_400_problems_naming_the_parameter(self):
        for params, field in [({"status": "done"}, "status"), ({"direction": "sideways"}, "direction"),
                              ({"outcome": ""}, None), ({"outcome": "maybe"}, "outcome"),
                              ({"campaign": "abc"}, "campaign"), ({"script": "0"}, "script"),
                              ({"campaign": str(2**70)}, "campaign"),
                              ({"created_after": "yesterday"}, "created_after"),
                              ({"created_before": "0001-01-01T00:00:00+01:00"}, "created_before"),
                              ({"phone": "12"}, "phone"), ({"phone": "x" * 40}, "phone"),
                              ({"cursor": "garbage"}, "cursor")]:
            response = self.api("GET", "/api/v1/calls/", self.read, params)
            if field is None:  # an empty value is no filter
                self.assertEqual(response.status_code, 200)
                continue
            body = self.assert_problem(response, 400)
            self.assertEqual(body["type"], problem_type_url("validation-error"))
            self.assertIn(field, [error["field"] for error in body["errors"]], params)
            self.assertTrue(all(isinstance(error["code"], str) for error in body["errors"]), body)

    def test_a_page_costs_the_same_queries_whatever_its_size(self):
        with tenant_scope(self.alpha):
            campaign = consented_campaign(self.alpha, self.script, usable_list(self.alpha))

        def count():
            with CaptureQueriesContext(connection) as queries:
                response = self.api("GET", "/api/v1/calls/", self.read, {"phone": "+33612345678"})
            self.assertEqual(response.status_code, 200)
            return len(response.json()["results"]), len(queries)

        self.api("GET", "/api/v1/calls/", self.read)  # the key's first use of the minute records it
        for _ in range(2):
            self.make_call(contact=self.contact, campaign=campaign, status=S.COMPLETED)
        rows_2, queries_2 = count()
        for _ in range(10):
            self.make_call(contact=self.contact, campaign=campaign, status=S.COMPLETED)
        rows_12, queries_12 = count()
        self.assertEqual((rows_2, rows_12), (2, 12))
        self.assertEqual(queries_2, queries_12)


class CallDetailTests(CallApiBase):
    def test_the_detail_gives_the_contact_the_basis_and_the_latency(self):
        call = self.make_call(contact=self.contact, status=S.COMPLETED, started_at=T0, answered_at=T0,
                              ended_at=T0 + datetime.timedelta(seconds=30), interruptions=2,
                              turn_metrics=[{"turn": 1, "e2e_ms": 700, "llm_first_token_ms": 300},
                                            {"turn": 2, "e2e_ms": 500, "stt_final_delay_ms": "nan"}, "junk"])
        response = self.api("GET", f"/api/v1/calls/{call.pk}/", self.read)
        self.assertEqual(response.status_code, 200, response.content)
        body = response.json()
        self.assertEqual(body["contact"], {"id": self.contact.pk, "name": "Jeanne Martin", "phone": "+33612345678"})
        self.assertEqual((body["legal_basis"], body["outcome"], body["has_report"], body["interruptions"]),
                         ("consent", None, False, 2))
        latency = body["turn_latency"]
        self.assertEqual(latency["turns"], 2)
        self.assertEqual(latency["e2e_ms"], {"p50_ms": 500.0, "p95_ms": 700.0, "max_ms": 700.0})
        self.assertEqual(latency["stt_final_delay_ms"], {"p50_ms": None, "p95_ms": None, "max_ms": None})
        self.assertEqual(body["duration_s"], 30)

    def test_a_call_without_contact_and_isolation(self):
        call = self.make_call()
        body = self.api("GET", f"/api/v1/calls/{call.pk}/", self.read).json()
        self.assertIsNone(body["contact"])
        self.assert_isolated("GET", f"/api/v1/calls/{call.pk}/", ["calls:read"])

    def test_an_unknown_or_malformed_id_is_a_404_problem(self):
        self.assert_problem(self.api("GET", f"/api/v1/calls/{uuid.uuid4()}/", self.read), 404)
        self.assert_problem(self.api("GET", "/api/v1/calls/12/", self.read), 404)


class TranscriptAndReportTests(CallApiBase):
    def setUp(self):
        super().setUp()
        self.call = self.make_call(contact=self.contact, status=S.COMPLETED)
        with tenant_scope(self.alpha):
            services.call_record_conversation(call=self.call, transcript=[
                {"speaker": "agent", "text": "Bonjour, je suis une IA.", "started_ms": 0, "ended_ms": 2000},
                {"speaker": "caller", "text": "Ma carte est 4111 1111 1111 1111.", "started_ms": 2500},
                {"speaker": "agent", "text": "Je ne peux pas noter cela.", "interrupted": True},
            ], turn_metrics=[], interruptions=1, providers_used=[])

    def test_the_transcript_in_order_redacted(self):
        response = self.api("GET", f"/api/v1/calls/{self.call.pk}/transcript/", self.reports)
        self.assertEqual(response.status_code, 200, response.content)
        body = response.json()
        self.assertEqual(body["call_id"], str(self.call.pk))
        lines = body["utterances"]
        self.assertEqual([(line["seq"], line["speaker"]) for line in lines],
                         [(0, "agent"), (1, "caller"), (2, "agent")])
        self.assertNotIn("4111", lines[1]["text"])
        self.assertEqual((lines[0]["started_ms"], lines[0]["ended_ms"], lines[1]["ended_ms"]), (0, 2000, None))
        self.assertTrue(lines[2]["interrupted"])

    def test_transcript_isolation(self):
        self.assert_isolated("GET", f"/api/v1/calls/{self.call.pk}/transcript/", ["reports:read"])
        self.assert_problem(self.api("GET", f"/api/v1/calls/{self.call.pk}/transcript/", self.read), 403)

    def test_the_report_is_a_404_problem_until_written(self):
        body = self.assert_problem(self.api("GET", f"/api/v1/calls/{self.call.pk}/report/", self.reports), 404)
        self.assertEqual(body["type"], problem_type_url("not-found"))
        self.assertIn("not written yet", body["detail"])
        with tenant_scope(self.alpha):
            services.call_report_save(call=self.call, summary="Rendez-vous pris.", source=CallReport.Source.LLM,
                                      report={"name": "Jeanne Martin", "phone": "06 12 34 56 78",
                                              "email": "Jeanne@Example.fr", "need": "Un devis",
                                              "appointment": "2025-03-12T14:30:00+01:00"})
        response = self.api("GET", f"/api/v1/calls/{self.call.pk}/report/", self.reports)
        self.assertEqual(response.status_code, 200, response.content)
        report = response.json()
        self.assertEqual((report["call_id"], report["summary"], report["name"], report["phone"], report["need"],
                          report["source"]),
                         (str(self.call.pk), "Rendez-vous pris.", "Jeanne Martin", "+33612345678", "Un devis", "llm"))
        self.assertEqual(report["email"], "jeanne@example.fr")
        self.assertEqual(datetime.datetime.fromisoformat(report["appointment"]),
                         datetime.datetime(2025, 3, 12, 13, 30, tzinfo=datetime.UTC))
        self.assertIn(report["outcome"], [value for value, _label in Call.Outcome.choices if value])
        detail = self.api("GET", f"/api/v1/calls/{self.call.pk}/", self.read).json()
        self.assertTrue(detail["has_report"])

    def test_report_isolation(self):
        with tenant_scope(self.alpha):
            services.call_report_save(call=self.call, summary="", source=CallReport.Source.LOCAL, report={})
        self.assert_isolated("GET", f"/api/v1/calls/{self.call.pk}/report/", ["reports:read"])


@pytest.mark.clock  # idempotency records last 24 hours
class OutboundStartTests(CallApiBase):
    def start(self, data, key=None, **headers):
        return self.api("POST", "/api/v1/calls/", key or self.write, data, **headers)

    def calls(self):
        with tenant_scope(self.alpha):
            return list(Call.objects.select_related("contact"))

    def test_without_livekit_it_is_a_409_problem_and_nothing_is_created(self):
        body = self.assert_problem(self.start({"script": self.script.pk, "phone": "0612345678"}), 409)
        self.assertEqual(body["type"], problem_type_url("conflict"))
        self.assertIn("LIVEKIT_URL", body["detail"])
        self.assertEqual(self.calls(), [])
        with tenant_scope(self.alpha):
            self.assertEqual(Contact.objects.count(), 1)

    def test_to_a_number_the_call_is_queued_for_a_new_contact_and_dialled(self):
        with self.settings(**LIVEKIT), mock.patch("calls.tasks.call_dial.delay") as dial, \
                self.captureOnCommitCallbacks(execute=True):
            response = self.start({"script": self.script.pk, "phone": "06 98 76 54 32", "name": "Paul",
                                   "legal_basis": "contract"})
        self.assertEqual(response.status_code, 201, response.content)
        [call] = self.calls()
        body = response.json()
        self.assertEqual(body["id"], str(call.pk))
        self.assertEqual(response["Location"], body["links"]["self"])
        self.assertEqual((body["status"], body["direction"], body["channel"], body["legal_basis"]),
                         ("queued", "outbound", "phone", "contract"))
        self.assertEqual((body["contact"]["phone"], body["contact"]["name"]), ("+33698765432", "Paul"))
        self.assertEqual((call.contact.phone, call.legal_basis), ("+33698765432", "contract"))
        dial.assert_called_once_with(self.alpha.pk, str(call.pk))

    def test_to_a_contact_with_the_tenants_default_basis(self):
        with self.settings(**LIVEKIT), mock.patch("calls.tasks.call_dial.delay"):
            response = self.start({"script": self.script.pk, "contact": self.contact.pk})
        self.assertEqual(response.status_code, 201, response.content)
        self.assertEqual(response.json()["contact"]["id"], self.contact.pk)
        with tenant_scope(self.alpha):
            default = TenantSettings.objects.get(tenant=self.alpha).default_legal_basis
            self.assertEqual(Contact.objects.count(), 1)
        self.assertEqual(response.json()["legal_basis"], default)

    def test_refused_numbers_are_400_problems_naming_the_field(self):
        with tenant_scope(self.alpha):
            do_not_call_add(tenant=self.alpha, phone="+33612345678")
            legal_hold_place(tenant=self.alpha, reason=LegalHold.Reason.LITIGATION,
                             phone_index=phone_index("+33611111111"))
        platform_do_not_call_add(phone="+33622222222")
        with self.settings(**LIVEKIT), mock.patch("calls.tasks.call_dial.delay") as dial:
            cases = [({"contact": self.contact.pk}, "contact", "do-not-call list"),
                     ({"phone": "06 12 34 56 78"}, "phone", "do-not-call list"),
                     ({"phone": "+33611111111"}, "phone", "legal hold"),
                     ({"phone": "+33622222222"}, "phone", "every call")]
            for data, field, words in cases:
                body = self.assert_problem(self.start({"script": self.script.pk, **data}), 400)
                [error] = body["errors"]
                self.assertEqual((error["field"], error["code"]), (field, "do_not_call"))
                self.assertIn(words, error["detail"])
        dial.assert_not_called()
        self.assertEqual(self.calls(), [])

    def test_bad_input_is_a_400_problem_naming_the_field(self):
        with self.settings(**LIVEKIT), mock.patch("calls.tasks.call_dial.delay"):
            for data, field in [({"phone": "0612345678"}, "script"),
                                ({"script": "x", "phone": "0612345678"}, "script"),
                                ({"script": self.script.pk}, ""),
                                ({"script": self.script.pk, "phone": "0612345678", "contact": self.contact.pk}, ""),
                                ({"script": self.script.pk, "phone": "12"}, "phone"),
                                ({"script": self.script.pk, "phone": "0612345678", "name": "x" * 201}, "name"),
                                ({"script": self.script.pk, "contact": self.contact.pk, "name": "Jo"}, "name"),
                                ({"script": self.script.pk, "phone": "0612345678", "legal_basis": "whim"},
                                 "legal_basis"),
                                ({"script": 2**70, "phone": "0612345678"}, "script")]:
                body = self.assert_problem(self.start(data), 400)
                self.assertIn(field, [error["field"] for error in body["errors"]], data)
        self.assertEqual(self.calls(), [])

    def test_another_tenants_script_or_contact_is_a_404_problem(self):
        with tenant_scope(self.beta):
            beta_contact = services.contact_create(tenant=self.beta, phone="+33633333333")
        with self.settings(**LIVEKIT):
            body = self.assert_problem(self.start({"script": self.beta_script.pk, "phone": "0612345678"}), 404)
            self.assertIn("script", body["detail"])
            body = self.assert_problem(self.start({"script": self.script.pk, "contact": beta_contact.pk}), 404)
            self.assertIn("contact", body["detail"])
        self.assertEqual(self.calls(), [])

    def test_isolation(self):
        with self.settings(**LIVEKIT), mock.patch("calls.tasks.call_dial.delay"):
            self.assert_isolated("POST", "/api/v1/calls/", ["calls:write"],
                                 data={"script": self.script.pk, "contact": self.contact.pk})
        self.assertEqual(self.calls(), [])

    def test_the_same_idempotency_key_places_one_call(self):
        data = {"script": self.script.pk, "phone": "0612345678"}
        with self.settings(**LIVEKIT), mock.patch("calls.tasks.call_dial.delay") as dial, \
                self.captureOnCommitCallbacks(execute=True):
            first = self.start(data, HTTP_IDEMPOTENCY_KEY="order-42")
            again = self.start(data, HTTP_IDEMPOTENCY_KEY="order-42")
        self.assertEqual((first.status_code, again.status_code), (201, 201))
        self.assertEqual(again["Idempotent-Replayed"], "true")
        self.assertEqual(first.json()["id"], again.json()["id"])
        self.assertEqual(len(self.calls()), 1)
        dial.assert_called_once()
        with tenant_scope(self.alpha):
            self.assertEqual(IdempotencyRecord.objects.filter(key="order-42").count(), 1)

    def test_a_refused_request_can_be_retried_with_the_same_key(self):
        first = self.start({"script": self.script.pk, "phone": "0612345678"}, HTTP_IDEMPOTENCY_KEY="k")
        with self.settings(**LIVEKIT), mock.patch("calls.tasks.call_dial.delay"):
            again = self.start({"script": self.script.pk, "phone": "0612345678"}, HTTP_IDEMPOTENCY_KEY="k")
        self.assertEqual((first.status_code, again.status_code), (409, 201))
        self.assertNotIn("Idempotent-Replayed", again)
        self.assertEqual(len(self.calls()), 1)


@pytest.fixture
def _livekit(request, livekit_server):  # noqa: F811 - the stand-in's fixture
    request.instance.livekit = livekit_server


@pytest.mark.usefixtures("_livekit")
class OutboundThroughLiveKitTests(CallApiBase):
    def test_the_call_is_dialled_through_livekit(self):
        with tenant_scope(self.alpha):
            TenantSettings.objects.filter(tenant=self.alpha).update(sip_outbound_trunk_id="ST_outbound")
        with self.captureOnCommitCallbacks(execute=True):
            response = self.api("POST", "/api/v1/calls/", self.write, {"script": self.script.pk,
                                                                       "contact": self.contact.pk})
        self.assertEqual(response.status_code, 201, response.content)
        self.assertEqual(response.json()["status"], "queued")
        [dial] = self.livekit.calls("CreateSIPParticipant")
        self.assertEqual(dial.body["sip_call_to"], "+33612345678")
        detail = self.api("GET", response.json()["links"]["self"], self.read).json()
        self.assertEqual(detail["status"], "in_progress")
        drain_channel("livekit-bridge")


class HangUpTests(CallApiBase):
    def hang_up(self, call, key=None):
        return self.api("POST", f"/api/v1/calls/{call.pk}/hangup/", key or self.write)

    def test_a_queued_call_is_canceled_at_once(self):
        call = self.make_call(contact=self.contact)
        response = self.hang_up(call)
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual((response.json()["status"], response.json()["end_reason"]), ("canceled", "hangup_api"))
        with tenant_scope(self.alpha):
            call.refresh_from_db()
            action = SupervisorAction.objects.get(call=call)
        self.assertEqual((call.status, action.action, action.user), (S.CANCELED, "hang_up", None))
        self.assertIn("api-key:", action.note)

    def test_a_call_in_progress_receives_the_hang_up(self):
        call = self.make_call(contact=self.contact, status=S.IN_PROGRESS, started_at=T0, answered_at=T0)
        layer = get_channel_layer()
        async_to_sync(layer.group_add)(call_group(call.pk), "api-test-transport")
        with self.captureOnCommitCallbacks(execute=True):  # the command goes out once the action is recorded
            response = self.hang_up(call)
        self.assertEqual(response.status_code, 202, response.content)
        self.assertEqual(response.json()["status"], "in_progress")
        messages = drain_channel("api-test-transport")
        self.assertIn({"type": "call.command", "command": "hang_up"}, messages)
        with tenant_scope(self.alpha):
            self.assertEqual(SupervisorAction.objects.get(call=call).action, "hang_up")

    def test_an_ended_call_is_a_409_problem(self):
        call = self.make_call(status=S.COMPLETED, started_at=T0, ended_at=T0)
        body = self.assert_problem(self.hang_up(call), 409)
        self.assertEqual(body["type"], problem_type_url("conflict"))
        self.assertIn("has ended", body["detail"])
        with tenant_scope(self.alpha):
            self.assertFalse(SupervisorAction.objects.exists())

    def test_isolation(self):
        call = self.make_call(status=S.IN_PROGRESS)
        self.assert_isolated("POST", f"/api/v1/calls/{call.pk}/hangup/", ["calls:write"])
        with tenant_scope(self.alpha):
            call.refresh_from_db()
            self.assertFalse(SupervisorAction.objects.exists())
        self.assertEqual(call.status, S.IN_PROGRESS)


class PhoneFilterInputTests(ApiTestCase):
    def test_a_phone_filter_with_format_characters_is_a_400_naming_it(self):
        key = self.key(self.alpha, "calls:read")
        for value in ("%s", "%", "%(x)s", "abc"):
            body = self.assert_problem(self.api("GET", "/api/v1/calls/", key, {"phone": value}), 400)
            self.assertEqual(body["errors"][0]["field"], "phone")
