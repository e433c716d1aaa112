"""/api/v1/campaigns/: list, create, change, start/pause/resume/cancel, statistics; scopes and tenant isolation."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from calls import services
from calls.models import Call
from campaigns.models import Campaign, CampaignTarget, DialerSkip, RiskFinding
from campaigns.services.campaigns import campaign_cancel, campaign_create, campaign_pause, campaign_start
from campaigns.tests.campaign_helpers import usable_list, with_trunk
from tenants.models import LegalBasis, TenantSettings
from tenants.testing import ApiTestCase

pytestmark = pytest.mark.clock  # campaigns: the consent rule from a date, start and end times

URL = "/api/v1/campaigns/"
READ, WRITE = ["calls:read"], ["calls:write"]


class CampaignApiTestCase(ApiTestCase):
    def setUp(self):
        super().setUp()
        with self.in_alpha():
            with_trunk(self.alpha)
            self.script = services.demo_scripts_ensure(tenant=self.alpha)[0]
            self.contact_list = usable_list(self.alpha)
        with self.in_beta():
            self.beta_script = services.demo_scripts_ensure(tenant=self.beta)[0]
            self.beta_list = usable_list(self.beta, phones=["+33612345699"])
        self.reader = self.key(self.alpha, "calls:read")
        self.writer = self.key(self.alpha, "calls:read", "calls:write")

    def campaign(self, name="Winter offer", start=False, **fields) -> Campaign:
        fields = {"legal_basis": LegalBasis.CONSENT, "consent_proof": "CRM consent log", **fields}
        with self.in_alpha():
            campaign = campaign_create(tenant=self.alpha, name=name, script=self.script,
                                       contact_list=self.contact_list, **fields)
            return campaign_start(campaign=campaign) if start else campaign

    def body(self, **overrides) -> dict:
        return {"name": "Spring offer", "script": self.script.pk, "contact_list": self.contact_list.pk,
                "legal_basis": "consent", "consent_proof": "CRM consent log", **overrides}

    def fields_of(self, problem: dict) -> set[str]:
        return {item["field"] for item in problem["errors"]}


class CampaignReadTests(CampaignApiTestCase):
    def test_the_list_shows_the_tenants_campaigns_newest_first_and_filters_by_status(self):
        old = self.campaign("Old")
        running = self.campaign("Running", start=True)
        body = self.api("get", URL, self.reader).json()
        self.assertEqual([row["id"] for row in body["results"]], [running.pk, old.pk])
        row = body["results"][0]
        self.assertEqual((row["status"], row["script"], row["contact_list"], row["calling_windows"]),
                         ("running", self.script.pk, self.contact_list.pk, [["10:00", "13:00"], ["14:00", "20:00"]]))
        drafts = self.api("get", URL, self.reader, {"status": "draft"}).json()["results"]
        self.assertEqual([row["id"] for row in drafts], [old.pk])
        self.assert_problem(self.api("get", URL, self.reader, {"status": "nonsense"}), 400)

    def test_another_tenants_key_sees_none_and_a_key_without_calls_read_is_refused(self):
        self.campaign()
        beta = self.key(self.beta, "calls:read")
        self.assertEqual(self.api("get", URL, beta).json()["results"], [])
        body = self.assert_problem(self.api("get", URL, self.key(self.alpha, "contacts:read")), 403)
        self.assertEqual(body["missing_scopes"], ["calls:read"])

    def test_the_list_costs_the_same_number_of_queries_for_2_and_12_campaigns(self):
        def count_queries(n):
            with self.in_alpha():
                Campaign.objects.all().delete()
                for i in range(n):
                    Campaign.objects.create(tenant=self.alpha, name=f"C{i}", script=self.script,
                                            contact_list=self.contact_list, legal_basis=LegalBasis.CONSENT)
            self.api("get", URL, self.reader)  # the key's first use is recorded once: not part of the count
            with CaptureQueriesContext(connection) as queries:
                response = self.api("get", URL, self.reader)
            self.assertEqual(len(response.json()["results"]), n)
            return len(queries)

        self.assertEqual(count_queries(2), count_queries(12))

    def test_retrieve_and_isolation(self):
        campaign = self.campaign()
        response = self.api("get", f"{URL}{campaign.pk}/", self.reader)
        self.assertEqual((response.status_code, response.json()["name"]), (200, "Winter offer"))
        self.assert_isolated("get", f"{URL}{campaign.pk}/", READ)
        self.assert_problem(self.api("get", f"{URL}abc/", self.reader), 404)
        self.assert_problem(self.api("get", f"{URL}99999999999999999999999/", self.reader), 404)


class CampaignCreateTests(CampaignApiTestCase):
    def test_create_a_draft_with_the_french_rules_by_default(self):
        response = self.api("post", URL, self.writer, self.body(max_concurrent_calls=3))
        self.assertEqual(response.status_code, 201, response.content)
        body = response.json()
        self.assertEqual((body["status"], body["calling_days"], body["max_attempts"], body["max_concurrent_calls"],
                          body["default_timezone"], body["refusal_cooldown_days"]),
                         ("draft", [0, 1, 2, 3, 4], 4, 3, "Europe/Paris", 60))
        with self.in_alpha():
            campaign = Campaign.objects.get(pk=body["id"])
        self.assertEqual((campaign.script, campaign.contact_list, campaign.created_by), (self.script,
                                                                                       self.contact_list, None))

    def test_the_services_refusals_are_400_problems_naming_the_field(self):
        cases = [
            ({"consent_proof": ""}, "consent_proof"),
            ({"legal_basis": "legitimate_interests", "consent_proof": ""}, "legal_basis"),  # consumers, after 2026-08
            ({"calling_days": [0, 1, 2, 3, 4, 5]}, "calling_days"),
            ({"calling_windows": [["09:00", "13:00"]]}, "calling_windows"),
            ({"calling_windows": [["25:00", "26:00"]]}, "calling_windows"),
            ({"calling_windows": [["10:00"]]}, "calling_windows"),
            ({"default_timezone": "Mars/Olympus"}, "default_timezone"),
            ({"max_attempts": 6}, "max_attempts"),
            ({"max_attempts": 0}, "max_attempts"),
            ({"max_concurrent_calls": 10**6}, "max_concurrent_calls"),
            ({"legal_basis": "whim"}, "legal_basis"),
            ({"script": self.beta_script.pk}, "script"),
            ({"contact_list": self.beta_list.pk}, "contact_list"),
            ({"script": 2**70}, "script"),
            ({"name": ""}, "name"),
            ({"calling_days": "monday"}, "calling_days"),
        ]
        for overrides, field in cases:
            with self.subTest(overrides=overrides):
                body = self.assert_problem(self.api("post", URL, self.writer, self.body(**overrides)), 400)
                self.assertTrue(any(name.split(".")[0] == field for name in self.fields_of(body)), body)
        with self.in_alpha():
            self.assertFalse(Campaign.objects.exists())

    def test_a_list_with_open_risk_findings_is_refused_with_the_services_message(self):
        with self.in_alpha():
            RiskFinding.objects.create(tenant=self.alpha, contact_list=self.contact_list,
                                       kind=RiskFinding.Kind.choices[0][0])
        body = self.assert_problem(self.api("post", URL, self.writer, self.body()), 400)
        [error] = [item for item in body["errors"] if item["field"] == "contact_list"]
        self.assertIn("risk finding", error["detail"])

    def test_businesses_may_have_their_own_rules_and_the_name_is_unique(self):
        body = self.body(audience="businesses", legal_basis="legitimate_interests", consent_proof="",
                         calling_days=[0, 1, 2, 3, 4, 5], calling_windows=[["08:00", "19:00"]])
        self.assertEqual(self.api("post", URL, self.writer, body).status_code, 201)
        self.assert_problem(self.api("post", URL, self.writer, body), 400)

    def test_a_key_without_calls_write_is_refused(self):
        body = self.assert_problem(self.api("post", URL, self.reader, self.body()), 403)
        self.assertEqual(body["missing_scopes"], ["calls:write"])
        self.assert_problem(self.api("post", URL, self.key(self.beta, "calls:write"), self.body()), 400)  # not theirs


class CampaignChangeTests(CampaignApiTestCase):
    def test_a_draft_changes_and_is_checked_again(self):
        campaign = self.campaign()
        url = f"{URL}{campaign.pk}/"
        response = self.api("patch", url, self.writer, {"max_concurrent_calls": 5, "name": "Renamed"})
        self.assertEqual((response.status_code, response.json()["max_concurrent_calls"], response.json()["name"]),
                         (200, 5, "Renamed"))
        body = self.assert_problem(self.api("patch", url, self.writer, {"consent_proof": ""}), 400)
        self.assertEqual(self.fields_of(body), {"consent_proof"})
        self.assert_isolated("patch", url, WRITE, {"name": "Nope"})
        with self.in_alpha():
            self.assertEqual(Campaign.objects.get().name, "Renamed")

    def test_a_paused_campaign_keeps_its_script_and_list_and_a_running_one_cannot_change(self):
        campaign = self.campaign(start=True)
        url = f"{URL}{campaign.pk}/"
        body = self.assert_problem(self.api("patch", url, self.writer, {"max_concurrent_calls": 1}), 409)
        self.assertIn("Pause the campaign", body["detail"])
        with self.in_alpha():
            campaign_pause(campaign=campaign)
            other = usable_list(self.alpha, phones=["+33612345688"], name="Other")
        self.assertEqual(self.api("patch", url, self.writer, {"max_concurrent_calls": 1}).status_code, 200)
        body = self.assert_problem(self.api("patch", url, self.writer, {"contact_list": other.pk}), 400)
        self.assertEqual(self.fields_of(body), {"contact_list"})

    def test_put_is_not_offered(self):
        campaign = self.campaign()
        self.assert_problem(self.api("put", f"{URL}{campaign.pk}/", self.writer, self.body()), 405)


class CampaignActionTests(CampaignApiTestCase):
    def act(self, campaign, name, key=None):
        return self.api("post", f"{URL}{campaign.pk}/{name}/", key or self.writer)

    def test_start_pause_resume_cancel(self):
        campaign = self.campaign()
        response = self.act(campaign, "start")
        self.assertEqual((response.status_code, response.json()["status"]), (200, "running"))
        self.assertIsNotNone(response.json()["started_at"])
        with self.in_alpha():
            self.assertEqual(CampaignTarget.objects.filter(campaign=campaign).count(), 5)
        self.assertEqual(self.act(campaign, "pause").json()["status"], "paused")
        self.assertEqual(self.act(campaign, "resume").json()["status"], "running")
        response = self.act(campaign, "cancel")
        self.assertEqual((response.json()["status"], response.json()["finished_at"] is not None), ("canceled", True))

    def test_an_action_the_state_does_not_allow_is_a_409_problem(self):
        campaign = self.campaign()
        for name, message in (("pause", "Only a running campaign"), ("resume", "Only a paused campaign")):
            body = self.assert_problem(self.act(campaign, name), 409)
            self.assertIn(message, body["detail"])
            self.assertIn("/conflict/", body["type"])
        with self.in_alpha():
            campaign_cancel(campaign=campaign)
        self.assert_problem(self.act(campaign, "start"), 409)
        self.assert_problem(self.act(campaign, "cancel"), 409)
        with self.in_alpha():
            self.assertEqual(Campaign.objects.get().status, Campaign.Status.CANCELED)

    def test_start_without_a_trunk_or_with_an_empty_list_is_refused(self):
        campaign = self.campaign()
        with self.in_alpha():
            TenantSettings.objects.filter(tenant=self.alpha).update(sip_outbound_trunk_id="")
        self.assertIn("SIP trunk", self.assert_problem(self.act(campaign, "start"), 409)["detail"])
        with self.in_alpha():
            with_trunk(self.alpha)
            empty = usable_list(self.alpha, phones=[], name="Empty")
            campaign.contact_list = empty
            campaign.save()
        self.assertIn("empty", self.assert_problem(self.act(campaign, "start"), 409)["detail"])
        with self.in_alpha():
            self.assertEqual(Campaign.objects.get().status, Campaign.Status.DRAFT)

    def test_resume_checks_the_list_again(self):
        campaign = self.campaign(start=True)
        with self.in_alpha():
            campaign_pause(campaign=campaign)
            RiskFinding.objects.create(tenant=self.alpha, contact_list=self.contact_list,
                                       kind=RiskFinding.Kind.choices[0][0])
        body = self.assert_problem(self.act(campaign, "resume"), 400)
        self.assertEqual(self.fields_of(body), {"contact_list"})
        with self.in_alpha():
            self.assertEqual(Campaign.objects.get().status, Campaign.Status.PAUSED)

    def test_every_action_is_isolated_and_needs_calls_write(self):
        campaign = self.campaign()
        for name in ("start", "pause", "resume", "cancel"):
            with self.subTest(name):
                self.assert_isolated("post", f"{URL}{campaign.pk}/{name}/", WRITE)
        with self.in_alpha():
            self.assertEqual(Campaign.objects.get().status, Campaign.Status.DRAFT)


class CampaignStatisticsTests(CampaignApiTestCase):
    def test_the_figures_of_a_campaign(self):
        campaign = self.campaign(start=True)
        now = timezone.now()
        with self.in_alpha():
            targets = list(CampaignTarget.objects.filter(campaign=campaign).order_by("pk"))
            CampaignTarget.objects.filter(pk=targets[0].pk).update(status=CampaignTarget.Status.DONE, attempts=2)
            CampaignTarget.objects.filter(pk=targets[1].pk).update(status=CampaignTarget.Status.EXCLUDED)
            CampaignTarget.objects.filter(pk=targets[2].pk).update(attempts=1)
            common = {"tenant": self.alpha, "direction": Call.Direction.OUTBOUND, "script": self.script,
                      "legal_basis": LegalBasis.CONSENT, "campaign": campaign}
            Call.objects.create(status=Call.Status.COMPLETED, outcome=Call.Outcome.APPOINTMENT, answered_at=now,
                                **common)
            Call.objects.create(status=Call.Status.COMPLETED, outcome=Call.Outcome.REFUSED, answered_at=now, **common)
            Call.objects.create(status=Call.Status.NO_ANSWER, **common)
            for reason in (DialerSkip.Reason.OUTSIDE_WINDOW, DialerSkip.Reason.OUTSIDE_WINDOW,
                           DialerSkip.Reason.DO_NOT_CALL):
                DialerSkip.objects.create(tenant=self.alpha, campaign=campaign, target=targets[1], reason=reason)
        response = self.api("get", f"{URL}{campaign.pk}/statistics/", self.reader)
        self.assertEqual(response.status_code, 200, response.content)
        body = response.json()
        self.assertEqual(body["targets"], {"total": 5, "finished": 2, "by_status": {
            "pending": 3, "calling": 0, "done": 1, "excluded": 1, "exhausted": 0}})
        self.assertEqual(body["attempts"], 3)
        self.assertEqual(body["calls"], {"total": 3, "answered": 2, "answered_rate": 0.667, "by_outcome": {
            "pending": 1, "appointment": 1, "information": 0, "transferred": 0, "refused": 1, "no_result": 0}})
        self.assertEqual((body["appointments"], body["appointment_rate"]), (1, 0.5))
        self.assertEqual(body["skips"]["total"], 3)
        self.assertEqual((body["skips"]["by_reason"]["outside_window"], body["skips"]["by_reason"]["do_not_call"]),
                         (2, 1))
        self.assertEqual(set(body["skips"]["by_reason"]), set(DialerSkip.Reason.values))

    def test_a_draft_has_empty_figures_and_the_figures_are_isolated(self):
        campaign = self.campaign()
        body = self.api("get", f"{URL}{campaign.pk}/statistics/", self.reader).json()
        self.assertEqual((body["targets"]["total"], body["calls"]["answered_rate"], body["appointment_rate"]),
                         (0, None, None))
        self.assert_isolated("get", f"{URL}{campaign.pk}/statistics/", READ)
