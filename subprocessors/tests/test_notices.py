"""Change notices: the 30-day rule, the kind rules, the announcement (mailing once per recipient, webhooks), the
withdrawal, and the change taking effect on its date (the beat task)."""

import datetime
import json
from unittest import mock

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils import timezone
from django.utils.formats import date_format

from subprocessors import notices, tasks
from subprocessors.mailing import mailing_send
from subprocessors.models import ChangeNotice, Mailing, MailingRecipient, Objection, RegisterVersion, Subprocessor
from subprocessors.services import subprocessor_seed_defaults
from tenants.crypto import email_index
from tenants.roles import Role
from tenants.scope import tenant_scope
from tenants.services import membership_add, user_create
from tenants.testing import PASSWORD, TwoTenantTestCase
from webhooks.models import WebhookDelivery
from webhooks.services import endpoint_create

Kind = ChangeNotice.Kind
NS = ChangeNotice.Status
SP = Subprocessor.Status


def days(n: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=n)


@pytest.mark.clock  # notice periods, objection windows and effective dates are counted from today
class NoticeTestCase(TwoTenantTestCase):
    """Alpha (alice owner, bob viewer, a DPO address) and Beta (charlie owner) as customers; the default register;
    a planned EU speech-to-text provider; CALLKOM staff; one confirmed subscriber and one unconfirmed."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.staff = user_create(email="staff@callkom.example", password=PASSWORD, is_staff=True)
        cls.staff.is_superuser = True
        cls.staff.save()
        cls.dana = user_create(email="dana@alpha.example", password=PASSWORD)
        cls.dora = user_create(email="dora@alpha.example", password=PASSWORD)
        cls.carl = user_create(email="carl@alpha.example", password=PASSWORD)
        with tenant_scope(cls.alpha):
            membership_add(tenant=cls.alpha, user=cls.dana, role=Role.ADMIN)
            membership_add(tenant=cls.alpha, user=cls.dora, role=Role.DPO)
            membership_add(tenant=cls.alpha, user=cls.carl, role=Role.CAMPAIGN_MANAGER)
        subprocessor_seed_defaults()
        cls.planned = Subprocessor.objects.create(
            slug="deepgram-eu", name="Deepgram (EU)", role="stt", legal_entity="Deepgram, Inc.",
            processing_region="eu", country="NL", transfer_mechanism="eu", data_categories=["call_audio"])
        cls.google = Subprocessor.objects.get(slug="google-stt")
        cls.mistral = Subprocessor.objects.get(slug="mistral")
        from subprocessors.models import Subscriber
        now = timezone.now()
        cls.subscriber = Subscriber.objects.create(email="watcher@example.org",
                                                   email_index=email_index("watcher@example.org"),
                                                   language="en", confirmed_at=now)
        Subscriber.objects.create(email="pending@example.org", email_index=email_index("pending@example.org"))

    def draft(self, kind=Kind.ADDITION, subprocessor=None, effective=30, **fields) -> ChangeNotice:
        return ChangeNotice.objects.create(kind=kind, subprocessor=subprocessor or self.planned,
                                           effective_date=days(effective),
                                           summary=fields.pop("summary", "Deepgram joins as speech recognition."),
                                           **fields)

    def announce(self, notice=None, **draft) -> ChangeNotice:
        notice = notice or self.draft(**draft)
        with self.captureOnCommitCallbacks(execute=True):
            return notices.notice_announce(notice=notice, actor=self.staff)

    def make_due(self, notice, on=None) -> ChangeNotice:
        """Move the effective date to today (time passing), past the objection window."""
        ChangeNotice.objects.filter(pk=notice.pk).update(effective_date=on or timezone.localdate())
        return ChangeNotice.objects.get(pk=notice.pk)

    def object(self, notice, tenant=None, actor=None, reason="We do not want audio to leave our usual providers."):
        with self.captureOnCommitCallbacks(execute=True):
            return notices.objection_raise(notice=notice, tenant=tenant or self.alpha, actor=actor or self.alice,
                                           reason=reason)

    def refreshed(self, obj):
        return type(obj).objects.get(pk=obj.pk)


class NoticePeriodTests(NoticeTestCase):
    def test_a_notice_shorter_than_30_days_is_refused(self):
        notice = self.draft(effective=29)
        with self.assertRaises(ValidationError) as raised:
            notices.notice_announce(notice=notice, actor=self.staff)
        message = " ".join(raised.exception.message_dict["effective_date"])
        self.assertIn(date_format(days(30), "DATE_FORMAT"), message)
        self.assertIn("30", message)
        self.assertEqual(self.refreshed(notice).status, NS.DRAFT)
        self.assertFalse(Mailing.objects.exists())
        self.assertEqual(mail.outbox, [])

    def test_a_notice_of_exactly_30_days_is_announced(self):
        notice = self.announce(effective=30)
        self.assertEqual((notice.status, notice.announced_by), (NS.ANNOUNCED, self.staff))
        self.assertIsNotNone(notice.announced_at)

    @override_settings(SUBPROCESSOR_NOTICE_DAYS=45)
    def test_the_period_is_configurable(self):
        with self.assertRaises(ValidationError):
            notices.notice_announce(notice=self.draft(effective=44), actor=self.staff)
        self.assertEqual(self.announce(effective=45).status, NS.ANNOUNCED)

    def test_only_a_draft_is_announced(self):
        notice = self.announce()
        with self.assertRaises(ValidationError):
            notices.notice_announce(notice=notice, actor=self.staff)
        self.assertEqual(Mailing.objects.count(), 1)


class KindRuleTests(NoticeTestCase):
    def refused(self, notice, field):
        with self.assertRaises(ValidationError) as raised:
            notices.notice_announce(notice=notice, actor=self.staff)
        self.assertIn(field, raised.exception.message_dict)
        self.assertEqual(self.refreshed(notice).status, NS.DRAFT)

    def test_an_addition_brings_in_a_planned_provider(self):
        self.refused(self.draft(subprocessor=self.google), "subprocessor")

    def test_a_replacement_needs_an_active_provider_replaced_by_another_planned_one(self):
        self.refused(self.draft(kind=Kind.REPLACEMENT), "replaces")
        self.refused(self.draft(kind=Kind.REPLACEMENT, replaces=self.planned), "replaces")
        self.refused(self.draft(kind=Kind.REPLACEMENT, subprocessor=self.google, replaces=self.google), "replaces")
        self.refused(self.draft(kind=Kind.REPLACEMENT, subprocessor=self.mistral, replaces=self.google),
                     "subprocessor")
        self.assertEqual(self.announce(kind=Kind.REPLACEMENT, replaces=self.google).status, NS.ANNOUNCED)

    def test_a_removal_removes_an_active_provider(self):
        self.refused(self.draft(kind=Kind.REMOVAL), "subprocessor")
        self.assertEqual(self.announce(kind=Kind.REMOVAL, subprocessor=self.google).status, NS.ANNOUNCED)

    def test_a_change_lists_valid_new_values_of_changeable_fields(self):
        change = {"kind": Kind.CHANGE, "subprocessor": self.mistral}
        self.refused(self.draft(**change), "changes")
        self.refused(self.draft(**change, changes={"name": "Mistral Cloud"}), "changes")
        self.refused(self.draft(**change, changes={"processing_locations": "Sweden"}), "changes")
        self.refused(self.draft(**change, changes={"transfer_mechanism": "telepathy"}), "changes")
        self.refused(self.draft(**change, changes={"processing_region": "eu"}), "changes")  # nothing changes
        self.refused(self.draft(kind=Kind.CHANGE, changes={"processing_region": "us"}), "subprocessor")  # planned
        notice = self.announce(**change, changes={"processing_region": "us", "transfer_mechanism": "scc"})
        self.assertEqual(notice.status, NS.ANNOUNCED)
        self.assertEqual(self.refreshed(self.mistral).processing_region, "eu")  # not before its date

    def test_only_a_change_lists_new_values(self):
        self.refused(self.draft(changes={"processing_region": "us"}), "changes")

    def test_two_announced_notices_about_one_provider_are_refused(self):
        self.announce()
        with self.assertRaises(ValidationError):
            notices.notice_announce(notice=self.draft(effective=40), actor=self.staff)


class AnnouncementTests(NoticeTestCase):
    def test_every_customer_contact_and_confirmed_subscriber_is_mailed_once(self):
        notice = self.announce(kind=Kind.REPLACEMENT, replaces=self.google)
        recipients = sorted(address for message in mail.outbox for address in message.to)
        self.assertEqual(recipients, sorted(["alice@alpha.example", "dora@alpha.example", "dpo@alpha.example",
                                             "charlie@beta.example", "watcher@example.org"]))
        customer = next(m for m in mail.outbox if m.to == ["alice@alpha.example"])
        self.assertNotIn("List-Unsubscribe", customer.extra_headers)
        self.assertIn(f"n°\xa0{notice.pk}", customer.body)  # alice reads French
        self.assertIn("Sous-traitant ultérieur\xa0: Deepgram (EU)", customer.body)
        [message] = [m for m in mail.outbox if m.to == ["watcher@example.org"]]  # in English
        self.assertIn("Deepgram (EU)", message.subject)
        self.assertIn("Subprocessor replaced", message.subject)
        self.assertIn(f"#{notice.pk}", message.body)
        self.assertIn("Google Cloud Speech-to-Text", message.body)
        self.assertIn(days(30).isoformat(), message.body)
        self.assertIn("http://", message.body)
        self.assertIn("/subprocessors/", message.body)
        self.assertIn("List-Unsubscribe", message.extra_headers)
        self.assertEqual(message.extra_headers["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click")
        self.assertIn("/subprocessors/unsubscribe/", message.body)

    def test_the_mailing_context_is_plain_json_with_codes_and_no_personal_data(self):
        notice = self.announce()
        mailing = Mailing.objects.get(key=f"notice-{notice.pk}")
        self.assertEqual(mailing.template, "notice")
        self.assertEqual(json.loads(json.dumps(mailing.context)), mailing.context)
        self.assertEqual(mailing.context["kind"], "addition")
        self.assertEqual(mailing.context["effective_date"], days(30).isoformat())
        self.assertNotIn("@", json.dumps(mailing.context))

    def test_notification_is_sent_once_per_subscriber_even_when_the_task_runs_twice(self):
        with mock.patch("subprocessors.tasks.mailing_send.delay"):  # nothing sent on commit: the runs below send
            notice = self.announce()
        mailing = Mailing.objects.get(key=f"notice-{notice.pk}")
        self.assertEqual(tasks.mailing_send.delay(mailing.pk).get(), 5)
        self.assertEqual(tasks.mailing_send.delay(mailing.pk).get(), 0)
        self.assertEqual(mailing_send(mailing=mailing), 0)
        addresses = [address for message in mail.outbox for address in message.to]
        self.assertEqual(len(addresses), 5)
        self.assertEqual(len(set(addresses)), 5)
        self.assertEqual(addresses.count("watcher@example.org"), 1)
        self.assertFalse(MailingRecipient.objects.filter(mailing=mailing, sent_at__isnull=True).exists())

    def test_an_smtp_failure_is_retried_by_the_pending_task_and_still_sent_once(self):
        with mock.patch("subprocessors.tasks.mailing_send.delay"):
            notice = self.announce()
        mailing = Mailing.objects.get(key=f"notice-{notice.pk}")
        real_send = mail.EmailMessage.send

        def flaky(message, *args, **kwargs):
            if message.to == ["watcher@example.org"]:
                raise ConnectionRefusedError
            return real_send(message, *args, **kwargs)

        with mock.patch.object(mail.EmailMessage, "send", flaky):
            self.assertEqual(mailing_send(mailing=mailing), 4)
        failed = MailingRecipient.objects.get(mailing=mailing, sent_at__isnull=True)
        self.assertEqual((failed.error, failed.claimed_at), ("ConnectionRefusedError", None))
        self.assertEqual(tasks.mailings_send_pending.delay().get(), 1)
        self.assertEqual(tasks.mailings_send_pending.delay().get(), 0)
        addresses = [address for message in mail.outbox for address in message.to]
        self.assertEqual((len(addresses), addresses.count("watcher@example.org")), (5, 1))

    def test_a_subscriber_who_is_also_a_customer_contact_gets_one_email(self):
        from subprocessors.models import Subscriber

        Subscriber.objects.create(email="alice@alpha.example", email_index=email_index("alice@alpha.example"),
                                  confirmed_at=timezone.now())
        self.announce()
        self.assertEqual([m.to for m in mail.outbox].count(["alice@alpha.example"]), 1)

    @override_settings(WEBHOOKS_ALLOW_INSECURE=True, WEBHOOKS_ALLOW_PRIVATE=True)
    def test_every_active_customer_gets_the_webhook(self):
        with self.in_alpha():
            endpoint_create(tenant=self.alpha, url="http://127.0.0.1:9/hook",
                            events=["subprocessor.change_announced"])
        with self.in_beta():
            endpoint_create(tenant=self.beta, url="http://127.0.0.1:9/hook", events=["call.completed"])
        with mock.patch("webhooks.tasks.webhook_deliver.delay"):
            notice = self.announce(kind=Kind.REPLACEMENT, replaces=self.google)
        with self.in_alpha():
            [delivery] = WebhookDelivery.objects.all()
        with self.in_beta():
            self.assertFalse(WebhookDelivery.objects.exists())  # not subscribed to the event
        body = json.loads(delivery.payload)
        self.assertEqual(body["type"], "subprocessor.change_announced")
        data = body["data"]
        self.assertEqual(data["id"], notice.pk)
        self.assertEqual(data["kind"], "replacement")
        self.assertEqual(data["subprocessor"], {"slug": "deepgram-eu", "name": "Deepgram (EU)", "role": "stt",
                                                "processing_region": "eu", "country": "NL",
                                                "transfer_mechanism": "eu"})
        self.assertEqual(data["replaces"], "google-stt")
        self.assertEqual(data["effective_date"], days(30).isoformat())
        self.assertEqual(data["objection_deadline"], days(29).isoformat())
        self.assertTrue(data["portal_url"].endswith(f"/t/alpha/subprocessors/notices/{notice.pk}/"))

    def test_a_refused_announcement_emits_nothing(self):
        with mock.patch("subprocessors.notices.event_emit") as emit, self.captureOnCommitCallbacks(execute=True):
            with self.assertRaises(ValidationError):
                notices.notice_announce(notice=self.draft(effective=3), actor=self.staff)
        emit.assert_not_called()

    def test_the_announcement_is_in_the_audit_log(self):
        from auditlog.models import LogEntry

        notice = self.announce()
        changes = [entry.changes_dict for entry in LogEntry.objects.get_for_object(notice)]
        self.assertTrue(any(change.get("status") == ["draft", "announced"] for change in changes), changes)


class WithdrawalTests(NoticeTestCase):
    def test_a_draft_is_withdrawn_without_mail(self):
        notice = notices.notice_withdraw(notice=self.draft(), actor=self.staff)
        self.assertEqual(notice.status, NS.WITHDRAWN)
        self.assertIsNotNone(notice.withdrawn_at)
        self.assertFalse(Mailing.objects.exists())

    def test_withdrawing_an_announced_notice_closes_open_objections_and_tells_everyone(self):
        notice = self.announce()
        objection = self.object(notice)
        mail.outbox.clear()
        with self.captureOnCommitCallbacks(execute=True):
            notices.notice_withdraw(notice=notice, actor=self.staff)
        with self.in_alpha():
            objection = Objection.objects.get(pk=objection.pk)
        self.assertEqual(objection.status, Objection.Status.ANSWERED)
        self.assertIn("withdrew", objection.resolution)
        self.assertEqual(objection.resolved_by, self.staff)
        self.assertTrue(Mailing.objects.filter(key=f"notice-{notice.pk}-withdrawn").exists())
        subjects = {message.to[0]: message.subject for message in mail.outbox}
        self.assertIn("withdrawn", subjects["watcher@example.org"])  # an English-speaking subscriber
        self.assertIn("retiré", subjects["alice@alpha.example"])  # a French-speaking owner
        self.assertEqual(len(mail.outbox), 5)

    def test_a_notice_in_effect_or_due_cannot_be_withdrawn(self):
        notice = self.make_due(self.announce())
        with self.assertRaises(ValidationError):
            notices.notice_withdraw(notice=notice, actor=self.staff)
        notices.notice_apply(notice=notice)
        with self.assertRaises(ValidationError):
            notices.notice_withdraw(notice=notice, actor=self.staff)


class ApplyTests(NoticeTestCase):
    def test_nothing_takes_effect_before_its_date(self):
        notice = self.announce()
        with self.assertRaises(ValidationError):
            notices.notice_apply(notice=notice)
        with self.assertRaises(ValidationError):
            notices.notice_apply(notice=self.draft(subprocessor=self.planned, effective=0))
        self.assertEqual(self.refreshed(self.planned).status, SP.PLANNED)

    def test_an_addition_makes_the_provider_active_and_publishes_the_list_once(self):
        notice = self.make_due(self.announce())
        before = RegisterVersion.objects.count()
        notices.notice_apply(notice=notice)
        provider = self.refreshed(self.planned)
        self.assertEqual((provider.status, provider.effective_from), (SP.ACTIVE, notice.effective_date))
        self.assertEqual(self.refreshed(notice).status, NS.APPLIED)
        version = RegisterVersion.objects.order_by("-number").first()
        self.assertEqual(RegisterVersion.objects.count(), before + 1)
        self.assertEqual(version.notice, notice)
        self.assertEqual(version.diff["added"], [{"slug": "deepgram-eu", "name": "Deepgram (EU)"}])
        applied_at = self.refreshed(notice).applied_at
        notices.notice_apply(notice=notice)  # idempotent
        self.assertEqual(RegisterVersion.objects.count(), before + 1)
        self.assertEqual(self.refreshed(notice).applied_at, applied_at)

    def test_a_replacement_retires_the_outgoing_provider_the_day_before(self):
        notice = self.make_due(self.announce(kind=Kind.REPLACEMENT, replaces=self.google))
        notices.notice_apply(notice=notice)
        incoming, outgoing = self.refreshed(self.planned), self.refreshed(self.google)
        self.assertEqual((incoming.status, incoming.effective_from), (SP.ACTIVE, notice.effective_date))
        self.assertEqual((outgoing.status, outgoing.effective_until),
                         (SP.RETIRED, notice.effective_date - datetime.timedelta(days=1)))
        self.assertFalse(outgoing.in_service())
        diff = RegisterVersion.objects.order_by("-number").first().diff
        self.assertEqual([row["slug"] for row in diff["removed"]], ["google-stt"])

    def test_a_removal_retires_the_provider(self):
        notice = self.make_due(self.announce(kind=Kind.REMOVAL, subprocessor=self.google))
        notices.notice_apply(notice=notice)
        self.assertEqual(self.refreshed(self.google).status, SP.RETIRED)

    def test_a_change_sets_the_new_values(self):
        notice = self.make_due(self.announce(kind=Kind.CHANGE, subprocessor=self.mistral,
                                             changes={"processing_region": "us", "transfer_mechanism": "scc"}))
        notices.notice_apply(notice=notice)
        mistral = self.refreshed(self.mistral)
        self.assertEqual((mistral.processing_region, mistral.transfer_mechanism), ("us", "scc"))
        [changed] = RegisterVersion.objects.order_by("-number").first().diff["changed"]
        self.assertEqual(changed["fields"]["processing_region"], ["eu", "us"])

    def test_the_beat_task_applies_every_due_notice_once(self):
        due = self.make_due(self.announce())
        later = self.announce(kind=Kind.REMOVAL, subprocessor=self.google, effective=31)
        self.draft(subprocessor=self.planned, kind=Kind.ADDITION, effective=0)  # a draft never takes effect
        self.assertEqual(tasks.notices_apply_due.name, "subprocessors.notices_apply_due")
        self.assertEqual(tasks.notices_apply_due.delay().get(), 1)
        self.assertEqual(tasks.notices_apply_due.delay().get(), 0)
        self.assertEqual(self.refreshed(due).status, NS.APPLIED)
        self.assertEqual(self.refreshed(later).status, NS.ANNOUNCED)
