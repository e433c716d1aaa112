"""The versioned DPA and AI policy: drafts, sequential publication, immutability, mailings, acceptance, the PDF."""

import datetime
from pathlib import Path
from unittest import mock

import pytest
from auditlog.models import LogEntry
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from compliance import policies
from compliance.models import AiPolicyVersion, DpaAcceptance, DpaVersion
from subprocessors.models import Mailing, Subprocessor, Subscriber
from subprocessors.register import register_publish
from subprocessors.services import subprocessor_seed_defaults
from tenants.crypto import email_index
from tenants.roles import Role
from tenants.services import membership_add, user_create
from tenants.testing import TwoTenantTestCase

POLICY_DIR = Path(policies.__file__).resolve().parent / "policy"
SEED = Path(__file__).resolve().parents[3] / "shared" / "seed" / "callkom-ai-policy.txt"

pytestmark = pytest.mark.clock  # versions are published and accepted now; which one is in force depends on when


def uncompressed():
    """PDFs drawn without stream compression, so that their text can be searched in the bytes."""
    return mock.patch("reportlab.rl_config.pageCompression", 0)


def new_dpa(**overrides):
    fields = {"title": "Data Processing Agreement", "body": "1. Subject\n\n{controller} and {processor} agree.",
              "changes": "New clause on audits.", **overrides}
    return policies.dpa_draft_create(**fields)


def new_ai_policy(**overrides):
    return policies.ai_policy_draft_create(**{"title": "AI Policy", "body": "We use AI.", **overrides})


def recipients():
    return sorted(address for message in mail.outbox for address in message.to)


class VersionOneTests(TwoTenantTestCase):
    """The data migration publishes version 1 of both documents from the files in compliance/policy/."""

    def test_version_one_is_published_from_the_files(self):
        policy = policies.ai_policy_current()
        self.assertEqual((policy.number, policy.published), (1, True))
        self.assertEqual(policy.body, (POLICY_DIR / "ai-policy-v1.en.txt").read_text(encoding="utf-8").strip())
        self.assertIn("politique d’utilisation des technologies d’intelligence artificielle", policy.body_fr)
        self.assertIn("sous-traitants ultérieurs", policy.body_fr)
        self.assertTrue(policy.title_fr)
        dpa = policies.dpa_current()
        self.assertEqual((dpa.number, dpa.published), (1, True))
        self.assertIn("Article 28(3)", dpa.body)
        self.assertIn("clauses contractuelles types (CCT)", dpa.body_fr)
        self.assertEqual((dpa.changes_fr, dpa.title_fr[:6]), ("Première version publiée.", "Accord"))

    def test_the_english_policy_is_the_seed_text_verbatim(self):
        if not SEED.exists():
            self.skipTest("the shared seed is not next to this checkout")
        self.assertEqual((POLICY_DIR / "ai-policy-v1.en.txt").read_bytes(), SEED.read_bytes())

    def test_the_french_policy_has_the_same_structure(self):
        english = (POLICY_DIR / "ai-policy-v1.en.txt").read_text(encoding="utf-8").splitlines()
        french = (POLICY_DIR / "ai-policy-v1.fr.txt").read_text(encoding="utf-8").splitlines()
        self.assertEqual(len(english), len(french))
        self.assertEqual([policies._is_heading(line) for line in english],
                         [policies._is_heading(line) for line in french])

    def test_the_dpa_covers_article_28(self):
        body = policies.dpa_current().body
        for clause in ("Subject matter and duration", "Nature and purpose", "categories of data subjects",
                       "Documented instructions", "Confidentiality", "Annex II", "general written authorisation",
                       "at least 30 days", "object", "Assistance with data subjects’ rights", "Articles 32 to 36",
                       "without undue delay", "Deletion or return", "Audits", "standard contractual clauses",
                       "governing law", "{controller}", "{processor}"):
            self.assertIn(clause, body)


class PublicationTests(TwoTenantTestCase):
    def test_numbers_follow_each_other_and_one_draft_at_a_time(self):
        draft = new_dpa()
        self.assertEqual((draft.number, draft.published), (2, False))
        with self.assertRaises(ValidationError):
            new_dpa()
        policies.dpa_publish(version=draft, actor=self.alice)
        self.assertEqual(new_dpa().number, 3)
        self.assertEqual(new_ai_policy().number, 2)

    def test_a_published_version_cannot_be_changed_or_deleted(self):
        draft = new_dpa()
        edited = policies.dpa_draft_update(version=draft, title="DPA", body="Edited text.")
        self.assertEqual(DpaVersion.objects.get(pk=draft.pk).body, "Edited text.")
        published = policies.dpa_publish(version=edited, actor=None)
        with self.assertRaises(ValidationError):
            policies.dpa_draft_update(version=published, title="DPA", body="Changed after publication.")
        with self.assertRaises(ValidationError):
            policies.dpa_publish(version=published, actor=None)
        stored = DpaVersion.objects.get(pk=published.pk)
        stored.body = "Changed through the model."
        with self.assertRaises(ValidationError):
            stored.save()
        with self.assertRaises(ValidationError), transaction.atomic():  # a refused delete breaks its transaction
            stored.delete()
        version_one = AiPolicyVersion.objects.get(number=1)
        version_one.title = "Another title"
        with self.assertRaises(ValidationError):
            version_one.save()
        self.assertEqual(DpaVersion.objects.get(pk=published.pk).body, "Edited text.")

    def test_versions_are_published_in_order(self):
        draft = new_ai_policy()
        AiPolicyVersion.objects.filter(pk=draft.pk).update(number=5)
        draft.refresh_from_db()
        with self.assertRaisesMessage(ValidationError, "next version to publish is 2"):
            policies.ai_policy_publish(version=draft, actor=None)

    def test_publication_is_audited(self):
        version = policies.dpa_publish(version=new_dpa(), actor=self.alice)
        entry = LogEntry.objects.get_for_object(version).get()
        self.assertEqual((entry.actor, list(entry.changes_dict)), (self.alice, ["published_at"]))
        self.assertEqual(version.published_by, self.alice)


class MailingTests(TwoTenantTestCase):
    """Customers are alpha (owner alice, DPO address dpo@alpha.example; bob is a viewer) and beta (owner charlie)."""

    CUSTOMERS = ["alice@alpha.example", "charlie@beta.example", "dpo@alpha.example"]

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        Subscriber.objects.create(email="watcher@example.org", email_index=email_index("watcher@example.org"),
                                  confirmed_at=timezone.now(), language="en")

    def test_a_substantial_ai_policy_change_mails_each_customer_contact_and_subscriber_once(self):
        draft = new_ai_policy(substantial=AiPolicyVersion.Substantial.PROVIDER_OUTSIDE_EU, changes="A US provider.")
        with self.captureOnCommitCallbacks(execute=True):
            policies.ai_policy_publish(version=draft, actor=None)
        self.assertEqual(recipients(), sorted([*self.CUSTOMERS, "watcher@example.org"]))
        message = next(message for message in mail.outbox if message.to == ["charlie@beta.example"])
        self.assertIn("version 2", message.subject)
        self.assertIn("A US provider.", message.body)
        self.assertIn("/ai-policy/versions/2/", message.body)
        self.assertNotIn("unsubscribe", message.body)
        subscriber = next(message for message in mail.outbox if message.to == ["watcher@example.org"])
        self.assertIn("/subprocessors/unsubscribe/", subscriber.body)
        self.assertEqual(Mailing.objects.get().key, "ai-policy-2")

    def test_an_editorial_change_mails_nobody(self):
        with self.captureOnCommitCallbacks(execute=True):
            policies.ai_policy_publish(version=new_ai_policy(), actor=None)
        self.assertEqual(mail.outbox, [])
        self.assertFalse(Mailing.objects.exists())
        self.assertEqual(policies.ai_policy_current().number, 2)

    def test_a_new_dpa_mails_the_customers_not_the_subscribers(self):
        with self.captureOnCommitCallbacks(execute=True):
            policies.dpa_publish(version=new_dpa(), actor=None)
        self.assertEqual(recipients(), self.CUSTOMERS)
        self.assertIn("version 2", mail.outbox[0].subject)
        self.assertIn("New clause on audits.", mail.outbox[0].body)
        mailing = Mailing.objects.get()
        self.assertEqual((mailing.key, mailing.template), ("dpa-2", "dpa_new_version"))
        self.assertNotIn("alpha", str(mailing.context))  # no personal data, no customer in the shared context


class AcceptanceTests(TwoTenantTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        subprocessor_seed_defaults()
        cls.dpo = user_create(email="dpo@alpha.example", password="x" * 12)
        with cls.in_alpha(cls):
            membership_add(tenant=cls.alpha, user=cls.dpo, role=Role.DPO)

    def accept(self, version=None, user=None, ip="203.0.113.7"):
        return policies.dpa_accept(tenant=self.alpha, version=version or policies.dpa_current(),
                                   actor=user or self.alice, ip_address=ip)

    def test_acceptance_records_who_when_where_and_the_list_version(self):
        self.assertEqual(policies.dpa_pending(self.alpha).number, 1)
        acceptance = self.accept()
        with self.in_alpha():
            stored = DpaAcceptance.objects.get()
        self.assertEqual((stored.version.number, stored.accepted_by, stored.accepted_by_email, stored.ip_address),
                         (1, self.alice, "alice@alpha.example", "203.0.113.7"))
        self.assertLess(timezone.now() - stored.accepted_at, datetime.timedelta(minutes=1))
        self.assertEqual(stored.register_version, 1)
        self.assertIsNone(policies.dpa_pending(self.alpha))
        self.assertEqual(policies.dpa_pending(self.beta).number, 1)
        entry = LogEntry.objects.get_for_object(acceptance).get()
        self.assertEqual((entry.actor, entry.additional_data), (self.alice, {"tenant": self.alpha.pk}))

    def test_only_an_owner_accepts(self):
        for user in (self.bob, self.dpo, self.charlie):
            with self.assertRaises(PermissionDenied):
                self.accept(user=user)
        self.assertTrue(policies.may_accept_dpa(Role.OWNER))
        self.assertFalse(any(policies.may_accept_dpa(role) for role in Role if role != Role.OWNER))

    def test_twice_an_old_version_or_a_draft_is_refused(self):
        self.accept()
        with self.assertRaisesMessage(ValidationError, "already accepted"):
            self.accept()
        draft = new_dpa()
        with self.assertRaisesMessage(ValidationError, "latest published version"):
            self.accept(version=draft)
        policies.dpa_publish(version=draft, actor=None)
        with self.assertRaisesMessage(ValidationError, "latest published version"):
            self.accept(version=DpaVersion.objects.get(number=1))

    def test_a_new_version_is_asked_again_and_the_old_one_stays_in_force_until_accepted(self):
        first = self.accept()
        version = policies.dpa_publish(version=new_dpa(), actor=None)
        self.assertEqual(policies.dpa_pending(self.alpha), version)
        now = timezone.now()
        self.assertEqual(policies.dpa_in_force(self.alpha, now).number, 1)
        second = self.accept(version=version)
        self.assertIsNone(policies.dpa_pending(self.alpha))
        self.assertEqual(policies.dpa_in_force(self.alpha, timezone.now()).number, 2)
        self.assertEqual(policies.dpa_in_force(self.alpha, now).number, 1)
        self.assertIsNone(policies.dpa_in_force(self.alpha, first.accepted_at - datetime.timedelta(seconds=1)))
        self.assertEqual(policies.dpa_acceptance_in_force(self.alpha, second.accepted_at), second)
        self.assertIsNone(policies.dpa_in_force(self.beta, timezone.now()))

    def test_client_ip_trusts_remote_addr_only(self):
        self.assertEqual(policies.client_ip({"REMOTE_ADDR": "198.51.100.4",
                                             "HTTP_X_FORWARDED_FOR": "10.0.0.1"}), "198.51.100.4")
        self.assertIsNone(policies.client_ip({"REMOTE_ADDR": "not an address"}))
        self.assertIsNone(policies.client_ip({}))


class DpaPdfTests(TwoTenantTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        subprocessor_seed_defaults()  # list version 1

    def pdf(self, tenant=None, version=None):
        with uncompressed():
            return policies.dpa_pdf(tenant or self.alpha, version or policies.dpa_current())

    def retire_a_subprocessor(self):
        Subprocessor.objects.filter(slug="mistral").update(status=Subprocessor.Status.RETIRED)
        return register_publish(note="Mistral retired")

    def test_the_pdf_names_the_parties_the_clauses_and_the_list_in_force_before_acceptance(self):
        self.assertEqual(self.retire_a_subprocessor().number, 2)
        content = self.pdf()
        self.assertTrue(content.startswith(b"%PDF"))
        self.assertIn(b"Alpha SAS", content)
        self.assertIn(b"CALLKOM", content)
        self.assertNotIn(b"{controller}", content)
        self.assertIn(b"Annex I: subprocessors, list version 2", content)
        self.assertIn(b"Annex II", content)
        self.assertIn(b"Encryption at rest", content)
        self.assertIn(b"Not accepted yet", content)
        self.assertNotIn(b"Mistral AI SAS", content)

    def test_once_accepted_annex_one_is_the_list_in_force_at_acceptance(self):
        policies.dpa_accept(tenant=self.alpha, version=policies.dpa_current(), actor=self.alice,
                            ip_address="203.0.113.7")
        self.retire_a_subprocessor()
        content = self.pdf()
        self.assertIn(b"Annex I: subprocessors, list version 1", content)
        self.assertIn(b"Mistral AI SAS", content)
        self.assertIn(b"alice@alpha.example", content)
        self.assertIn(b"203.0.113.7", content)
        self.assertNotIn(b"Not accepted yet", content)
        self.assertIn(b"Not accepted yet", self.pdf(self.beta))

    def test_the_pdf_follows_the_language(self):
        from django.utils import translation

        with translation.override("fr"):
            content = self.pdf()
        self.assertIn(b"Le pr", content)  # "Le présent accord de sous-traitance", in the French text


class PolicyAdminTests(TwoTenantTestCase):
    def setUp(self):
        staff = user_create(email="staff@callkom.example", password="x" * 12, is_staff=True)
        staff.is_superuser = True
        staff.save()
        self.client.force_login(staff)
        self.staff = staff

    def test_staff_write_a_draft_then_publish_it_with_one_button(self):
        data = {"title": "AI Policy", "title_fr": "", "body": "We use AI.", "body_fr": "", "changes": "New purpose.",
                "changes_fr": "", "substantial": "new_purpose"}
        response = self.client.post(reverse("admin:compliance_aipolicyversion_add"), data)
        self.assertEqual(response.status_code, 302)
        draft = AiPolicyVersion.objects.get(published_at__isnull=True)
        self.assertEqual((draft.number, draft.substantial), (2, "new_purpose"))
        again = self.client.post(reverse("admin:compliance_aipolicyversion_add"), data)
        self.assertContains(again, "A draft exists already")
        change = self.client.get(reverse("admin:compliance_aipolicyversion_change", args=[draft.pk]))
        publish_url = reverse("admin:compliance_aipolicyversion_publish", args=[draft.pk])
        self.assertContains(change, publish_url)
        confirm = self.client.get(publish_url)
        self.assertContains(confirm, "every subscriber are e-mailed")
        self.assertEqual(self.client.post(publish_url, {}).status_code, 200)  # not confirmed
        self.assertFalse(AiPolicyVersion.objects.get(pk=draft.pk).published)
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(publish_url, {"confirm": "on"})
        self.assertEqual(response.status_code, 302)
        draft.refresh_from_db()
        self.assertEqual((draft.published, draft.published_by), (True, self.staff))
        self.assertTrue(Mailing.objects.filter(key="ai-policy-2").exists())

    def test_a_published_version_is_read_only_in_the_admin(self):
        for name in ("dpaversion", "aipolicyversion"):
            self.assertContains(self.client.get(reverse(f"admin:compliance_{name}_changelist")), "published")
            self.assertEqual(self.client.get(reverse(f"admin:compliance_{name}_add")).status_code, 200)
        version = DpaVersion.objects.get(number=1)
        url = reverse("admin:compliance_dpaversion_change", args=[version.pk])
        page = self.client.get(url)
        self.assertEqual(page.status_code, 200)
        self.assertNotContains(page, 'name="_save"')
        self.assertNotContains(page, "/publish/")
        response = self.client.post(url, {"title": "Changed", "body": "Changed"})
        self.assertEqual(response.status_code, 403)
        self.assertNotEqual(DpaVersion.objects.get(pk=version.pk).title, "Changed")
        self.assertEqual(self.client.post(reverse("admin:compliance_dpaversion_delete", args=[version.pk]),
                                          {"post": "yes"}).status_code, 403)

    def test_acceptances_are_listed_read_only(self):
        policies.dpa_accept(tenant=self.alpha, version=policies.dpa_current(), actor=self.alice, ip_address=None)
        response = self.client.get(reverse("admin:compliance_dpaacceptance_changelist"))
        self.assertContains(response, "alice@alpha.example")
        self.assertEqual(self.client.get(reverse("admin:compliance_dpaacceptance_add")).status_code, 403)
