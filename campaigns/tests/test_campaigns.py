from datetime import timedelta
from unittest import mock

import time_machine
from auditlog.models import LogEntry
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from calls import services
from calls.models import Call
from campaigns.dialer import campaign_dial_due
from campaigns.models import Campaign, CampaignTarget, ContactList, DialerSkip, RiskFinding
from campaigns.services.campaigns import (
    campaign_cancel,
    campaign_create,
    campaign_pause,
    campaign_resume,
    campaign_start,
    campaign_update,
)
from campaigns.tests.campaign_helpers import (
    NOW,
    NUMBERS,
    consented_campaign,
    end_call,
    usable_list,
    with_trunk,
)
from tenants.models import LegalBasis, TenantSettings
from tenants.services import user_create
from tenants.testing import TwoTenantTestCase, frozen_at

AUGUST_10 = NOW.replace(month=8, day=10)


@frozen_at(NOW)
class CampaignServiceTests(TwoTenantTestCase):
    def setUp(self):
        with self.in_alpha():
            with_trunk(self.alpha)
            self.script = services.demo_scripts_ensure(tenant=self.alpha)[0]
            self.contact_list = usable_list(self.alpha)

    def create(self, now=NOW, **fields):
        fields = {"name": "Winter offer", "legal_basis": LegalBasis.CONSENT, "consent_proof": "CRM consent log",
                  **fields}
        return campaign_create(tenant=self.alpha, script=self.script, contact_list=self.contact_list, now=now,
                               **fields)

    def refused(self, field, now=NOW, **fields) -> list[str]:
        with self.assertRaises(ValidationError) as caught:
            self.create(now=now, **fields)
        return caught.exception.message_dict[field]

    def test_a_new_campaign_follows_the_french_consumer_rules_by_default(self):
        with self.in_alpha():
            campaign = self.create()
        self.assertEqual(
            (campaign.status, campaign.audience, campaign.calling_days, campaign.calling_windows,
             campaign.skip_public_holidays, campaign.max_attempts, campaign.attempts_period_days,
             campaign.refusal_cooldown_days, campaign.default_timezone),
            (Campaign.Status.DRAFT, Campaign.Audience.CONSUMERS, [0, 1, 2, 3, 4],
             [["10:00", "13:00"], ["14:00", "20:00"]], True, 4, 30, 60, "Europe/Paris"))

    def test_consent_needs_a_proof_reference(self):
        with self.in_alpha():
            self.assertIn("consent is kept", self.refused("consent_proof", consent_proof=" ")[0])

    def test_consumer_canvassing_needs_consent_from_11_august_2026_unless_about_an_ongoing_contract(self):
        interests = {"legal_basis": LegalBasis.LEGITIMATE_INTERESTS, "consent_proof": ""}
        with self.in_alpha():
            self.assertIn("prior consent", self.refused("legal_basis", **interests)[0])
            with time_machine.travel(AUGUST_10 + timedelta(days=1), tick=False):
                self.assertIn("prior consent", self.refused("legal_basis", now=AUGUST_10 + timedelta(days=1),
                                                            **interests)[0])
            with time_machine.travel(AUGUST_10, tick=False):
                self.create(name="Before the rule", now=AUGUST_10, **interests)
            self.create(name="Customers", ongoing_contract=True, **interests)
            self.create(name="Businesses", audience=Campaign.Audience.BUSINESSES, **interests)

    def test_consumers_get_rules_no_looser_than_d223_9_businesses_their_own(self):
        looser = {"calling_days": [0, 1, 2, 3, 4, 5], "calling_windows": [["09:00", "13:00"]],
                  "skip_public_holidays": False, "max_attempts": 6, "refusal_cooldown_days": 30}
        with self.in_alpha():
            with self.assertRaises(ValidationError) as caught:
                self.create(**looser)
            self.assertEqual(set(caught.exception.message_dict), {
                "calling_days", "calling_windows", "skip_public_holidays", "max_attempts", "refusal_cooldown_days"})
            self.create(audience=Campaign.Audience.BUSINESSES, **looser)
            stricter = self.create(name="Stricter", calling_days=[1, 3], calling_windows=[["10:30", "12:00"]],
                                   max_attempts=2)
        self.assertEqual(stricter.calling_windows, [["10:30", "12:00"]])

    def test_bad_rules_are_refused_by_field(self):
        with self.in_alpha():
            self.assertTrue(self.refused("calling_windows", calling_windows=[["13:00", "10:00"]]))
            self.assertTrue(self.refused("calling_days", calling_days=[]))
            self.assertTrue(self.refused("default_timezone", default_timezone="Mars/Olympus"))
            self.assertTrue(self.refused("max_concurrent_calls", max_concurrent_calls=0))
            self.create()
            self.assertIn("already exists", self.refused("__all__")[0])

    def test_a_list_with_open_risks_or_unchecked_cannot_be_used(self):
        with self.in_alpha():
            RiskFinding.objects.create(tenant=self.alpha, contact_list=self.contact_list,
                                       kind=RiskFinding.Kind.UNNEEDED_DATA, column="notes")
            self.assertIn("must be fixed", self.refused("contact_list")[0])
            self.contact_list = ContactList.objects.create(tenant=self.alpha, name="Unchecked")
            self.assertIn("not been checked", self.refused("contact_list", name="Other")[0])

    def test_the_script_must_disclose_the_ai_and_belong_to_the_tenant(self):
        with self.in_alpha():
            type(self.script).objects.filter(pk=self.script.pk).update(greeting="Bonjour, ici Julie. Je suis IA.")
            self.script.refresh_from_db()
            self.assertIn("AI", self.refused("script")[0])
        with self.in_beta():
            theirs = services.demo_scripts_ensure(tenant=self.beta)[0]
        with self.in_alpha():
            self.script = theirs
            with self.assertRaisesMessage(ValidationError, "must belong to this tenant"):
                self.create()

    def test_start_adds_every_contact_once_and_needs_a_trunk_and_a_draft(self):
        with self.in_alpha():
            campaign = self.create()
            TenantSettings.objects.filter(tenant=self.alpha).update(sip_outbound_trunk_id="")
            with self.assertRaisesMessage(ValidationError, "SIP trunk"):
                campaign_start(campaign=campaign, now=NOW)
            with_trunk(self.alpha)
            campaign = campaign_start(campaign=campaign, now=NOW)
            self.assertEqual((campaign.status, campaign.started_at), (Campaign.Status.RUNNING, NOW))
            self.assertEqual(CampaignTarget.objects.filter(campaign=campaign, status="pending").count(), 5)
            with self.assertRaisesMessage(ValidationError, "Only a draft"):
                campaign_start(campaign=campaign, now=NOW)
            empty = campaign_create(tenant=self.alpha, script=self.script, name="Empty", now=NOW,
                                    contact_list=usable_list(self.alpha, phones=[], name="Empty"),
                                    legal_basis=LegalBasis.CONSENT, consent_proof="log")
            with self.assertRaisesMessage(ValidationError, "empty"):
                campaign_start(campaign=empty, now=NOW)

    def test_pause_resume_cancel_and_what_can_be_changed_when(self):
        with self.in_alpha():
            campaign = consented_campaign(self.alpha, self.script, self.contact_list, start=True)
            with self.assertRaisesMessage(ValidationError, "Pause the campaign"):
                campaign_update(campaign=campaign, max_concurrent_calls=3, now=NOW)
            campaign = campaign_pause(campaign=campaign)
            campaign = campaign_update(campaign=campaign, max_concurrent_calls=3, now=NOW)
            self.assertEqual(campaign.max_concurrent_calls, 3)
            other_list = usable_list(self.alpha, phones=NUMBERS[:1], name="Other")
            with self.assertRaisesMessage(ValidationError, "cannot change"):
                campaign_update(campaign=campaign, contact_list=other_list, now=NOW)
            with self.assertRaisesMessage(ValidationError, "Only a paused"):
                campaign_resume(campaign=campaign_resume(campaign=campaign, now=NOW), now=NOW)
            campaign = campaign_cancel(campaign=campaign, now=NOW)
            self.assertEqual((campaign.status, campaign.finished_at), (Campaign.Status.CANCELED, NOW))
            with self.assertRaisesMessage(ValidationError, "already ended"):
                campaign_cancel(campaign=campaign)
            with self.assertRaises(TypeError):
                campaign_update(campaign=campaign, status="running")

    def test_resuming_rechecks_the_consent_rule(self):
        with self.in_alpha():
            with time_machine.travel(AUGUST_10, tick=False):
                campaign = consented_campaign(self.alpha, self.script, self.contact_list, start=True,
                                              now=AUGUST_10, legal_basis=LegalBasis.LEGITIMATE_INTERESTS,
                                              consent_proof="")
                campaign_pause(campaign=campaign)
            with time_machine.travel(AUGUST_10 + timedelta(days=1), tick=False), \
                    self.assertRaisesMessage(ValidationError, "prior consent"):
                campaign_resume(campaign=campaign, now=AUGUST_10 + timedelta(days=1))
            self.assertEqual(Campaign.objects.get(pk=campaign.pk).status, Campaign.Status.PAUSED)

    def test_changes_are_audited(self):
        with self.in_alpha():
            campaign = consented_campaign(self.alpha, self.script, self.contact_list, start=True)
            campaign_pause(campaign=campaign)
        changes = [entry.changes_dict.get("status") for entry in LogEntry.objects.get_for_object(campaign)]
        self.assertIn(["running", "paused"], changes)


@frozen_at(NOW)  # a Tuesday morning: the pages start, dial and end calls on the same clock
class CampaignPageTests(TwoTenantTestCase):
    def setUp(self):
        with self.in_alpha():
            with_trunk(self.alpha)
            self.script = services.demo_scripts_ensure(tenant=self.alpha)[0]
            self.contact_list = usable_list(self.alpha)
            self.campaign = consented_campaign(self.alpha, self.script, self.contact_list)
        self.base = f"/t/alpha/campaigns/{self.campaign.pk}/"

    def form_data(self, **changes):
        data = {"name": "Spring offer", "script": self.script.pk, "contact_list": self.contact_list.pk,
                "legal_basis": LegalBasis.CONSENT, "consent_proof": "CRM consent log", "audience": "consumers",
                "calling_days": ["0", "1", "2", "3", "4"], "calling_windows": "10:00-13:00, 14:00-20:00",
                "skip_public_holidays": "on", "default_timezone": "Europe/Paris", "max_attempts": "4",
                "attempts_period_days": "30", "refusal_cooldown_days": "60", "retry_delay_minutes": "240",
                "max_concurrent_calls": "2"}
        return {**data, **changes}

    def test_the_create_form_shows_and_explains_the_french_profile(self):
        self.login(self.alice)
        response = self.client.get("/t/alpha/campaigns/new/")
        self.assertContains(response, 'value="10:00-13:00, 14:00-20:00"')
        self.assertContains(response, "D.223-9")
        self.assertContains(response, "Alsace-Moselle")

    def test_create_with_bad_hours_says_how_to_write_them_then_create(self):
        self.login(self.alice)
        response = self.client.post("/t/alpha/campaigns/new/", self.form_data(calling_windows="10h-13h"))
        self.assertContains(response, "is not a window like 10:00-13:00", status_code=400)
        response = self.client.post("/t/alpha/campaigns/new/", self.form_data(calling_windows="09:00-12:00"))
        self.assertContains(response, "between 10:00 and 13:00", status_code=400)
        response = self.client.post("/t/alpha/campaigns/new/", self.form_data(legal_basis="legitimate_interests"))
        self.assertContains(response, "prior consent", status_code=400)
        response = self.client.post("/t/alpha/campaigns/new/", self.form_data())
        with self.in_alpha():
            created = Campaign.objects.get(name="Spring offer")
        self.assertRedirects(response, f"/t/alpha/campaigns/{created.pk}/")
        self.assertEqual(created.created_by, self.alice)

    def test_edit_then_start_pause_resume_cancel_from_the_detail_page(self):
        self.login(self.alice)
        self.assertContains(self.client.get(f"{self.base}edit/"), 'value="10:00-13:00, 14:00-20:00"')
        response = self.client.post(f"{self.base}edit/", self.form_data(name="Renamed",
                                                                         calling_windows="10:00-12:00"))
        self.assertRedirects(response, self.base)
        with mock.patch("calls.tasks.call_dial.delay"):
            for action, status in (("start", "running"), ("pause", "paused"), ("resume", "running"),
                                   ("cancel", "canceled")):
                self.assertRedirects(self.client.post(f"{self.base}{action}/"), self.base)
                with self.in_alpha():
                    self.assertEqual(Campaign.objects.get(pk=self.campaign.pk).status, status)
        response = self.client.post(f"{self.base}resume/", follow=True)
        self.assertContains(response, "Only a paused campaign")

    def test_a_draft_tells_how_many_contacts_it_will_call_and_on_which_days(self):
        self.login(self.bob)
        response = self.client.get(self.base)
        self.assertContains(response, "The list has 5 contacts: they become the campaign")
        self.assertContains(response, "Monday, Tuesday, Wednesday, Thursday, Friday")

    def test_the_detail_page_shows_progress_outcomes_skips_and_calls(self):
        with self.in_alpha():
            campaign_start(campaign=self.campaign, now=NOW)
            with mock.patch("calls.tasks.call_dial.delay"):
                campaign_dial_due(campaign=self.campaign, now=NOW)
            call = Call.objects.filter(campaign=self.campaign).order_by("contact_id").first()
            end_call(call, Call.Status.COMPLETED)
            Call.objects.filter(pk=call.pk).update(outcome=Call.Outcome.APPOINTMENT)
            campaign_dial_due(campaign=self.campaign, now=NOW.replace(hour=21))
        self.login(self.bob)  # a viewer sees everything, without the controls
        response = self.client.get(self.base)
        self.assertContains(response, "1 of 5 contacts finished (20 %)")
        self.assertContains(response, "100.0 % of the people reached")
        self.assertContains(response, "Outside the calling hours: 3")
        self.assertContains(response, f"/t/alpha/calls/{call.pk}/")
        self.assertNotContains(response, f"{self.base}pause/")
        listing = self.client.get("/t/alpha/campaigns/")
        self.assertContains(listing, "Winter offer")
        self.assertContains(listing, 'value="1" max="5"')
        self.assertContains(listing, "Appointment: 1")

    def test_the_list_costs_as_many_queries_for_one_campaign_as_for_several(self):
        self.login(self.alice)
        with CaptureQueriesContext(connection) as one:
            self.client.get("/t/alpha/campaigns/")
        with self.in_alpha():
            for name in ("Spring", "Summer", "Autumn"):
                campaign_start(campaign=consented_campaign(self.alpha, self.script, self.contact_list, name=name),
                               now=NOW)
        with CaptureQueriesContext(connection) as several:
            response = self.client.get("/t/alpha/campaigns/")
        self.assertContains(response, "Autumn")
        self.assertEqual(len(one), len(several))

    def test_the_skips_page_is_paged(self):
        with self.in_alpha():
            campaign_start(campaign=self.campaign, now=NOW)
            target = CampaignTarget.objects.filter(campaign=self.campaign).first()
            DialerSkip.objects.bulk_create(DialerSkip(tenant=self.alpha, campaign=self.campaign, target=target,
                                                      reason=DialerSkip.Reason.OUTSIDE_WINDOW, detail=f"skip {i}")
                                           for i in range(60))
        self.login(self.bob)
        first = self.client.get(f"{self.base}skips/")
        self.assertContains(first, "Page 1 of 2")
        self.assertContains(first, "Outside the calling hours", count=50)
        self.assertContains(self.client.get(f"{self.base}skips/?page=2"), "Outside the calling hours", count=10)
        self.assertContains(self.client.get(f"{self.base}skips/?page=x"), "Page 1 of 2")

    def test_another_tenants_user_gets_404_on_every_page(self):
        self.login(self.charlie)
        pages = ["/t/alpha/campaigns/", "/t/alpha/campaigns/new/", self.base, f"{self.base}edit/",
                 f"{self.base}skips/"]
        for url in pages:
            self.assertEqual(self.client.get(url).status_code, 404, url)
        for url in (f"/t/beta{self.base[8:]}", f"/t/beta{self.base[8:]}edit/", f"/t/beta{self.base[8:]}skips/"):
            self.assertEqual(self.client.get(url).status_code, 404, url)
        for action in ("start", "pause", "resume", "cancel"):
            self.assertEqual(self.client.post(f"{self.base}{action}/").status_code, 404)
            self.assertEqual(self.client.post(f"/t/beta{self.base[8:]}{action}/").status_code, 404)
        self.assertEqual(self.client.get("/t/beta/campaigns/").status_code, 200)

    def test_a_viewer_reads_but_cannot_change(self):
        self.login(self.bob)
        self.assertEqual(self.client.get("/t/alpha/campaigns/").status_code, 200)
        self.assertNotContains(self.client.get("/t/alpha/campaigns/"), "/t/alpha/campaigns/new/")
        self.assertEqual(self.client.get("/t/alpha/campaigns/new/").status_code, 403)
        self.assertEqual(self.client.post("/t/alpha/campaigns/new/", self.form_data()).status_code, 403)
        self.assertEqual(self.client.get(f"{self.base}edit/").status_code, 403)
        for action in ("start", "pause", "resume", "cancel"):
            self.assertEqual(self.client.post(f"{self.base}{action}/").status_code, 403)
        with self.in_alpha():
            self.assertEqual(Campaign.objects.get(pk=self.campaign.pk).status, Campaign.Status.DRAFT)

    def test_the_pages_are_in_french_too(self):
        self.login(self.alice)
        response = self.client.get("/t/alpha/campaigns/new/", HTTP_ACCEPT_LANGUAGE="fr")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, 'lang="fr"')

    def test_staff_see_campaigns_and_skips_in_the_admin_and_can_pause(self):
        staff = user_create(email="staff@callkom.example", password="x" * 12, is_staff=True)
        staff.is_superuser = True
        staff.save()
        with self.in_alpha():
            campaign_start(campaign=self.campaign, now=NOW)
            campaign_dial_due(campaign=self.campaign, now=NOW.replace(hour=21))
        self.client.force_login(staff)
        self.assertContains(self.client.get(f"/admin/campaigns/campaign/{self.campaign.pk}/change/"), "To call: 5")
        self.assertEqual(self.client.get("/admin/campaigns/dialerskip/").status_code, 200)
        self.assertContains(self.client.get("/admin/campaigns/campaigntarget/?status=pending"), "5 campaign targets")
        self.client.post("/admin/campaigns/campaign/", {"action": "pause_campaigns",
                                                    "_selected_action": [self.campaign.pk]})
        with self.in_alpha():
            self.assertEqual(Campaign.objects.get(pk=self.campaign.pk).status, Campaign.Status.PAUSED)
