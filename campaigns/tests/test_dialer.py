import json
from datetime import UTC, timedelta
from unittest import mock

import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from calls import services
from calls.donotcall import do_not_call_add, platform_do_not_call_add
from calls.models import Call, Contact, DoNotCall, DoNotCallSource
from calls.outbound import call_dial_now, call_start_outbound
from campaigns.dialer import DialContext, NumberFacts, campaign_dial_due, dialer_decide
from campaigns.models import Campaign, CampaignTarget, ContactListEntry, DialerSkip
from campaigns.services.campaigns import campaign_cancel, campaign_pause, campaign_resume
from campaigns.tasks import dialer_tick
from campaigns.tests.campaign_helpers import (
    NOW,
    NUMBERS,
    PARIS,
    consented_campaign,
    end_call,
    usable_list,
    utc,
    with_trunk,
)
from compliance.models import LegalHold
from compliance.services import legal_hold_place
from tenants.crypto import phone_index
from tenants.models import LegalBasis
from tenants.testing import TwoTenantTestCase, frozen_at
from webhooks.models import WebhookDelivery
from webhooks.services import endpoint_create

S = Call.Status
T = CampaignTarget.Status
R = DialerSkip.Reason


@frozen_at(NOW)
class DialerTestCase(TwoTenantTestCase):
    def setUp(self):
        with self.in_alpha():
            with_trunk(self.alpha)
            self.script = services.demo_scripts_ensure(tenant=self.alpha)[0]
            self.contact_list = usable_list(self.alpha)
        self.dial_task = mock.patch("calls.tasks.call_dial.delay").start()
        self.addCleanup(mock.patch.stopall)

    def start(self, contact_list=None, **fields) -> Campaign:
        return consented_campaign(self.alpha, self.script, contact_list or self.contact_list, start=True, **fields)

    def dial(self, campaign, now=NOW):
        return campaign_dial_due(campaign=campaign, now=now)

    def targets(self, campaign) -> dict[str, CampaignTarget]:
        return {t.contact.phone: t for t in CampaignTarget.objects.filter(campaign=campaign).select_related("contact")}

    def called_numbers(self, campaign) -> list[str]:
        return sorted(c.contact.phone for c in Call.objects.filter(campaign=campaign).select_related("contact"))

    def skips(self, campaign) -> list[tuple[str, str]]:
        return sorted((s.target.contact.phone, s.reason)
                      for s in DialerSkip.objects.filter(campaign=campaign).select_related("target__contact"))


class PlacingCalls(DialerTestCase):
    def test_places_calls_up_to_the_concurrency_limit_in_a_stable_order(self):
        with self.in_alpha():
            campaign = self.start(max_concurrent_calls=2)
            with self.captureOnCommitCallbacks(execute=True):
                result = self.dial(campaign)
            self.assertEqual(result.as_dict(), {"placed": 2, "skipped": {}})
            calls = list(Call.objects.filter(campaign=campaign).order_by("created_at"))
            self.assertEqual(self.called_numbers(campaign), NUMBERS[:2])
            self.assertEqual({(c.direction, c.legal_basis, c.status) for c in calls},
                             {(Call.Direction.OUTBOUND, LegalBasis.CONSENT, S.QUEUED)})
            self.dial_task.assert_any_call(self.alpha.pk, str(calls[0].pk))
            targets = self.targets(campaign)
            self.assertEqual([(targets[n].status, targets[n].attempts) for n in NUMBERS[:3]],
                             [(T.CALLING, 1), (T.CALLING, 1), (T.PENDING, 0)])

            self.assertEqual(self.dial(campaign).placed, 0)  # both lines busy
            end_call(calls[0], S.NO_ANSWER)
            self.assertEqual(self.dial(campaign).placed, 1)  # one line free: the next contact never tried
            self.assertEqual(self.called_numbers(campaign), NUMBERS[:3])
            self.assertFalse(DialerSkip.objects.exists())

    def test_pause_stops_dialling_and_resume_continues(self):
        with self.in_alpha():
            campaign = self.start(max_concurrent_calls=2)
            self.dial(campaign)
            campaign_pause(campaign=campaign)
            for call in Call.objects.filter(campaign=campaign):
                end_call(call, S.NO_ANSWER)
            self.assertEqual(self.dial(campaign).placed, 0)
            self.assertEqual(Call.objects.filter(campaign=campaign).count(), 2)
            campaign_resume(campaign=campaign)
            self.assertEqual(self.dial(campaign).placed, 2)
            self.assertEqual(self.called_numbers(campaign), sorted(NUMBERS[:4]))

    def test_cancel_cancels_the_queued_calls_and_stops_the_dialer(self):
        with self.in_alpha():
            campaign = self.start(max_concurrent_calls=2)
            self.dial(campaign)
            campaign_cancel(campaign=campaign)
            self.assertEqual({(c.status, c.end_reason) for c in Call.objects.filter(campaign=campaign)},
                             {(S.CANCELED, "campaign_canceled")})
            self.assertEqual({(t.status, t.attempts) for t in self.targets(campaign).values()}, {(T.PENDING, 0)})
            self.assertEqual(self.dial(campaign).placed, 0)
            self.assertEqual(Campaign.objects.get(pk=campaign.pk).status, Campaign.Status.CANCELED)


class CallingHours(DialerTestCase):
    def test_outside_the_window_each_contact_is_skipped_once_with_when_to_try_again(self):
        with self.in_alpha():
            campaign = self.start()
            evening = NOW.replace(hour=20, minute=0)
            result = self.dial(campaign, evening)
            self.assertEqual(result.as_dict(), {"placed": 0, "skipped": {R.OUTSIDE_WINDOW: 5}})
            tomorrow_ten = utc(2026, 12, 2, 9, 0)
            self.assertEqual({(s.reason, s.retry_at, s.detail) for s in DialerSkip.objects.all()},
                             {(R.OUTSIDE_WINDOW, tomorrow_ten, "Europe/Paris")})
            self.assertEqual({(t.next_attempt_at, t.last_skip_reason) for t in self.targets(campaign).values()},
                             {(tomorrow_ten, R.OUTSIDE_WINDOW)})
            self.dial(campaign, evening + timedelta(minutes=5))  # not reconsidered every minute
            self.assertEqual(DialerSkip.objects.count(), 5)
            self.assertEqual(self.dial(campaign, tomorrow_ten).placed, 2)

    def test_weekends_and_public_holidays_are_skipped_until_the_next_working_morning(self):
        with self.in_alpha():
            campaign = self.start()
            self.dial(campaign, NOW.replace(day=5))  # Saturday 5 December
            self.assertEqual({(s.reason, s.retry_at) for s in DialerSkip.objects.all()},
                             {(R.NOT_A_CALLING_DAY, utc(2026, 12, 7, 9, 0))})
            other = self.start(contact_list=usable_list(self.alpha, name="Second", phones=["+33612345609"]),
                               name="Christmas")
            self.dial(other, NOW.replace(day=25))  # Christmas, a Friday
            self.assertEqual({(s.reason, s.retry_at) for s in DialerSkip.objects.filter(campaign=other)},
                             {(R.PUBLIC_HOLIDAY, utc(2026, 12, 28, 9, 0))})

    def test_a_callee_overseas_is_called_in_their_own_hours(self):
        with self.in_alpha():
            campaign = self.start(contact_list=usable_list(self.alpha, name="DOM", phones=["+596696123456"]))
            self.dial(campaign)  # 10:30 in Paris is 05:30 in Martinique
            skip = DialerSkip.objects.get()
            self.assertEqual((skip.reason, skip.retry_at, skip.detail),
                             (R.OUTSIDE_WINDOW, utc(2026, 12, 1, 14, 0), "America/Martinique"))
            self.assertEqual(self.dial(campaign, utc(2026, 12, 1, 14, 0)).placed, 1)

    def test_the_contacts_own_time_zone_wins_over_the_numbers(self):
        with self.in_alpha():
            Contact.objects.filter(tenant=self.alpha).update(time_zone="America/Cayenne")  # UTC-3
            campaign = self.start()
            self.dial(campaign)
            self.assertEqual({(s.reason, s.retry_at) for s in DialerSkip.objects.all()},
                             {(R.OUTSIDE_WINDOW, utc(2026, 12, 1, 13, 0))})


class Exclusions(DialerTestCase):
    def test_do_not_call_lists_and_invalid_numbers_exclude_a_contact_for_good(self):
        with self.in_alpha():
            do_not_call_add(tenant=self.alpha, phone=NUMBERS[0])
            platform_do_not_call_add(phone=NUMBERS[1])
            broken = Contact.objects.create(tenant=self.alpha, phone="+3361", phone_index="")
            ContactListEntry.objects.create(tenant=self.alpha, contact_list=self.contact_list, contact=broken)
            campaign = self.start(max_concurrent_calls=5)
            result = self.dial(campaign)
            self.assertEqual(result.as_dict(), {"placed": 3, "skipped": {
                R.DO_NOT_CALL: 1, R.PLATFORM_DO_NOT_CALL: 1, R.INVALID_NUMBER: 1}})
            self.assertEqual(self.called_numbers(campaign), NUMBERS[2:])
            self.assertEqual(self.skips(campaign), sorted([(NUMBERS[0], R.DO_NOT_CALL),
                                                           (NUMBERS[1], R.PLATFORM_DO_NOT_CALL),
                                                           ("+3361", R.INVALID_NUMBER)]))
            excluded = CampaignTarget.objects.filter(campaign=campaign, status=T.EXCLUDED)
            self.assertEqual({(t.last_skip_reason, t.next_attempt_at) for t in excluded},
                             {(R.DO_NOT_CALL, None), (R.PLATFORM_DO_NOT_CALL, None), (R.INVALID_NUMBER, None)})
            self.assertIn("Added by hand", DialerSkip.objects.get(reason=R.DO_NOT_CALL).detail)

    def test_an_objection_added_during_the_campaign_stops_the_next_call(self):
        with self.in_alpha():
            campaign = self.start(max_concurrent_calls=1)
            self.dial(campaign)
            self.assertEqual(self.called_numbers(campaign), NUMBERS[:1])
            do_not_call_add(tenant=self.alpha, phone=NUMBERS[1], source=DoNotCallSource.OBJECTION)
            end_call(Call.objects.get(campaign=campaign), S.NO_ANSWER)
            result = self.dial(campaign)
            self.assertEqual(result.as_dict(), {"placed": 1, "skipped": {R.DO_NOT_CALL: 1}})
            self.assertEqual(self.called_numbers(campaign), [NUMBERS[0], NUMBERS[2]])
            self.assertEqual(self.targets(campaign)[NUMBERS[1]].status, T.EXCLUDED)

    def test_a_person_under_a_legal_hold_is_not_called_and_the_skip_says_why(self):
        with self.in_alpha():
            legal_hold_place(tenant=self.alpha, reason=LegalHold.Reason.RESTRICTION,
                             phone_index=phone_index(NUMBERS[0]))
            campaign = self.start(max_concurrent_calls=2)
            result = self.dial(campaign)
            self.assertEqual(result.as_dict(), {"placed": 2, "skipped": {R.RESTRICTED: 1}})
            self.assertEqual(self.called_numbers(campaign), NUMBERS[1:3])
            self.assertEqual(self.targets(campaign)[NUMBERS[0]].status, T.EXCLUDED)
            with self.assertRaisesMessage(ValidationError, "legal hold"):
                call_start_outbound(tenant=self.alpha, script=self.script,
                                    contact=services.contact_create(tenant=self.alpha, phone=NUMBERS[0]))

    def test_an_objection_after_the_call_was_queued_cancels_it_and_excludes_the_contact(self):
        with self.in_alpha():
            campaign = self.start(max_concurrent_calls=1)
            self.dial(campaign)
            call = Call.objects.get(campaign=campaign)
            do_not_call_add(tenant=self.alpha, phone=NUMBERS[0], source=DoNotCallSource.OBJECTION)
            with mock.patch("calls.livekit.room_create") as room_create:
                call = call_dial_now(call=Call.objects.get(pk=call.pk))
            room_create.assert_not_called()
            self.assertEqual((call.status, call.end_reason), (S.CANCELED, "do_not_call"))
            self.assertEqual(self.targets(campaign)[NUMBERS[0]].status, T.EXCLUDED)
            self.assertEqual(self.skips(campaign), [(NUMBERS[0], R.DO_NOT_CALL)])
            self.dial(campaign)
            self.assertEqual(self.called_numbers(campaign), NUMBERS[:2])

    def test_an_objection_said_on_the_call_lists_the_number_and_marks_a_refusal(self):
        with self.in_alpha():
            campaign = self.start(max_concurrent_calls=1)
            self.dial(campaign)
            call = end_call(Call.objects.get(campaign=campaign), S.COMPLETED)
            services.call_record_conversation(call=call, transcript=[
                {"speaker": "agent", "text": "Bonjour, je suis un assistant virtuel."},
                {"speaker": "caller", "text": "Ça ne m'intéresse pas, ne m'appelez plus."},
            ], turn_metrics=[], interruptions=0, providers_used=[])
            services.call_report_save(call=call, report={}, summary="", source="local")
            self.assertEqual(Call.objects.get(pk=call.pk).outcome, Call.Outcome.REFUSED)
            self.assertEqual(DoNotCall.objects.get().source, DoNotCallSource.OBJECTION)
            self.assertEqual(self.targets(campaign)[NUMBERS[0]].status, T.DONE)

    def test_without_prior_consent_consumers_are_not_canvassed_from_11_august_2026(self):
        with self.in_alpha():
            before = NOW.replace(year=2026, month=8, day=3)  # a Monday, before the rule
            campaign = self.start(legal_basis=LegalBasis.LEGITIMATE_INTERESTS, consent_proof="", now=before,
                                  max_concurrent_calls=1)
            self.assertEqual(self.dial(campaign, before.replace(day=10)).placed, 1)  # Monday 10 August
            end_call(Call.objects.get(campaign=campaign), S.COMPLETED)
            result = self.dial(campaign, before.replace(day=11))  # Tuesday 11 August
            self.assertEqual(result.as_dict(), {"placed": 0, "skipped": {R.NO_CONSENT: 4}})
            campaign.refresh_from_db()
            self.assertEqual(campaign.status, Campaign.Status.COMPLETED)


class Caps(DialerTestCase):
    def setUp(self):
        super().setUp()
        with self.in_alpha():
            self.campaign = self.start()
            self.target = self.targets(self.campaign)[NUMBERS[0]]
            # the same number, called by hand from another contact card: the cap is per number, not per contact
            self.elsewhere = services.contact_create(tenant=self.alpha, phone=NUMBERS[0])

    def past_call(self, at, status=S.NO_ANSWER, started=True, outcome="", direction=Call.Direction.OUTBOUND):
        call = services.call_create(tenant=self.alpha, script=self.script, direction=direction,
                                    contact=self.elsewhere)
        Call.objects.filter(pk=call.pk).update(created_at=at, started_at=at if started else None, status=status,
                                               outcome=outcome)

    def decide(self, now):
        facts = NumberFacts.load(campaign=self.campaign, indexes={self.target.contact.phone_index}, now=now)
        return dialer_decide(context=DialContext(self.campaign, now, facts), target=self.target)

    def test_the_fourth_attempt_in_30_days_is_allowed_the_fifth_waits_until_day_31(self):
        with self.in_alpha():
            now = NOW.astimezone(UTC)  # periods are counted in days of 24 hours
            first = now - timedelta(days=29)  # day 1 of the period
            for at in (first, now - timedelta(days=20), now - timedelta(days=10)):
                self.past_call(at)
            self.past_call(now - timedelta(days=2), status=S.CANCELED, started=False)  # never dialled
            self.past_call(now - timedelta(days=2), status=S.FAILED, started=False)  # never reached the network
            self.past_call(now - timedelta(days=1), direction=Call.Direction.INBOUND)  # they called us
            self.assertTrue(self.decide(now).call)  # the fourth
            self.past_call(now - timedelta(hours=1))
            day_31 = first + timedelta(days=30)
            decision = self.decide(now)
            self.assertEqual((decision.reason, decision.retry_at, decision.final), (R.ATTEMPT_CAP, day_31, ""))
            self.assertEqual(self.decide(day_31 - timedelta(seconds=1)).reason, R.ATTEMPT_CAP)
            self.assertTrue(self.decide(day_31).call)
            self.assertEqual(day_31.astimezone(PARIS).isoformat(), "2026-12-02T10:30:00+01:00")

    def test_no_call_for_60_days_after_a_refusal(self):
        with self.in_alpha():
            now = NOW.astimezone(UTC)
            refused_at = now - timedelta(days=59)  # in summer time: 60 days of 24 hours end at 09:30 in winter
            self.past_call(refused_at, status=S.COMPLETED, outcome=Call.Outcome.REFUSED)
            decision = self.decide(now)
            self.assertEqual((decision.reason, decision.retry_at), (R.REFUSAL_COOLDOWN,
                                                                    refused_at + timedelta(days=60)))
            self.assertEqual(self.decide(refused_at + timedelta(days=60) - timedelta(seconds=1)).reason,
                             R.REFUSAL_COOLDOWN)
            self.assertTrue(self.decide(refused_at + timedelta(days=60)).call)

    def test_the_dialer_records_the_cap_and_waits_for_it(self):
        with self.in_alpha():
            for days in (25, 20, 15, 10):
                self.past_call(NOW - timedelta(days=days))
            self.dial(self.campaign)
            skip = DialerSkip.objects.get()
            self.assertEqual((skip.target_id, skip.reason, skip.retry_at),
                             (self.target.pk, R.ATTEMPT_CAP, NOW + timedelta(days=5)))
            self.assertIn("4 calls", skip.detail)
            self.assertNotIn(NUMBERS[0], self.called_numbers(self.campaign))


class EndOfCalls(DialerTestCase):
    def test_reached_retried_exhausted_and_the_campaign_completes(self):
        with self.in_alpha():
            campaign = self.start(contact_list=usable_list(self.alpha, name="Two", phones=NUMBERS[3:]),
                                  max_attempts=2, retry_delay_minutes=60)
            self.dial(campaign)
            reached, missed = Call.objects.filter(campaign=campaign).order_by("contact_id")
            end_call(reached, S.COMPLETED)
            missed = end_call(missed, S.NO_ANSWER)
            targets = self.targets(campaign)
            self.assertEqual(targets[NUMBERS[3]].status, T.DONE)
            self.assertEqual((targets[NUMBERS[4]].status, targets[NUMBERS[4]].attempts,
                              targets[NUMBERS[4]].next_attempt_at),
                             (T.PENDING, 1, missed.ended_at + timedelta(minutes=60)))
            self.assertEqual(self.dial(campaign).placed, 0)  # the retry is not due yet
            later = NOW + timedelta(minutes=60)
            with time_machine.travel(later, tick=False):
                self.assertEqual(self.dial(campaign, later).placed, 1)
                end_call(Call.objects.get(campaign=campaign, status=S.QUEUED), S.NO_ANSWER)
            self.assertEqual(self.targets(campaign)[NUMBERS[4]].status, T.EXHAUSTED)
            campaign.refresh_from_db()
            self.assertEqual(campaign.status, Campaign.Status.COMPLETED)
            self.assertIsNotNone(campaign.finished_at)

    def test_the_customer_s_systems_hear_when_a_campaign_completes(self):
        with self.in_alpha(), self.settings(WEBHOOKS_ALLOW_INSECURE=True, WEBHOOKS_ALLOW_PRIVATE=True):
            endpoint_create(tenant=self.alpha, url="http://127.0.0.1:9/hook", events=["campaign.completed"])
            campaign = self.start(contact_list=usable_list(self.alpha, name="One", phones=NUMBERS[3:4]))
            self.dial(campaign)
            with mock.patch("webhooks.tasks.webhook_deliver.delay"), \
                    self.captureOnCommitCallbacks(execute=True):
                end_call(Call.objects.get(campaign=campaign), S.COMPLETED)
            [delivery] = WebhookDelivery.objects.all()
        body = json.loads(delivery.payload)
        self.assertEqual((body["type"], body["data"]["campaign_id"], body["data"]["status"]),
                         ("campaign.completed", campaign.pk, "completed"))
        self.assertEqual((body["data"]["targets"]["total"], body["data"]["targets"]["done"], body["data"]["calls"]),
                         (1, 1, 1))

    def test_a_call_that_could_not_be_placed_is_recorded_and_not_counted_as_an_attempt(self):
        with self.in_alpha():
            campaign = self.start(max_concurrent_calls=1)
            self.dial(campaign)
            end_call(Call.objects.get(campaign=campaign), S.FAILED, reason="no_outbound_trunk")
            target = self.targets(campaign)[NUMBERS[0]]
            skip = DialerSkip.objects.get()
            self.assertEqual((target.status, target.attempts, target.last_skip_reason),
                             (T.PENDING, 0, R.CALL_FAILED))
            self.assertEqual((skip.reason, skip.detail, skip.retry_at), (R.CALL_FAILED, "no_outbound_trunk",
                                                                        target.next_attempt_at))


class Efficiency(DialerTestCase):
    def test_a_batch_costs_the_same_number_of_queries_whatever_its_size(self):
        with self.in_alpha():
            small = self.start()
            large = self.start(contact_list=usable_list(self.alpha, name="Large",
                                                        phones=[f"+336123457{i:02d}" for i in range(40)]),
                               name="Large")
            evening = NOW.replace(hour=21)
            counts = []
            for campaign in (small, large):
                with CaptureQueriesContext(connection) as queries:
                    self.dial(campaign, evening)
                counts.append(len(queries))
            self.assertEqual(DialerSkip.objects.count(), 45)
            self.assertEqual(counts[0], counts[1])
            self.assertLessEqual(counts[0], 13)


class Tick(DialerTestCase):
    def test_the_beat_task_dials_every_running_campaign_in_its_own_tenant(self):
        with self.in_alpha():
            running = self.start()
            draft = consented_campaign(self.alpha, self.script, usable_list(self.alpha, name="Draft"),
                                       name="Draft")
        with self.in_beta():
            with_trunk(self.beta)
            script = services.demo_scripts_ensure(tenant=self.beta)[0]
            theirs = consented_campaign(self.beta, script, usable_list(self.beta, phones=NUMBERS[:2]), start=True)
        with time_machine.travel(NOW.replace(day=5), tick=False):  # a Saturday
            self.assertEqual(dialer_tick(), 2)
        with self.in_alpha():
            self.assertEqual(DialerSkip.objects.filter(campaign=running).count(), 5)
            self.assertFalse(DialerSkip.objects.filter(campaign=draft).exists())
            self.assertEqual(DialerSkip.objects.count(), 5)
        with self.in_beta():
            self.assertEqual({(s.campaign_id, s.reason) for s in DialerSkip.objects.all()},
                             {(theirs.pk, R.NOT_A_CALLING_DAY)})
