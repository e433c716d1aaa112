"""Staff screens: the register (a public edit publishes a version; a material change needs a notice), the published
versions (read-only), change notices with their buttons, objections (tenant data) resolved per outcome, subscribers
and mailings (read-only)."""

from django.core import mail
from django.urls import reverse
from django.utils.formats import date_format

from subprocessors import notices
from subprocessors.models import ChangeNotice, Mailing, Objection, RegisterVersion, Subprocessor, Subscriber
from subprocessors.register import current_version
from tenants.models import StaffAccess

from .test_notices import NoticeTestCase, days

NS = ChangeNotice.Status
OS = Objection.Status


def subprocessor_data(subprocessor, **overrides):
    data = {
        "name": subprocessor.name, "slug": subprocessor.slug, "role": subprocessor.role,
        "legal_entity": subprocessor.legal_entity, "contact": subprocessor.contact, "dpa_url": subprocessor.dpa_url,
        "certifications": _json(subprocessor.certifications), "processing_region": subprocessor.processing_region,
        "country": subprocessor.country, "processing_locations": _json(subprocessor.processing_locations),
        "transfer_mechanism": subprocessor.transfer_mechanism,
        "supplementary_measures": subprocessor.supplementary_measures,
        "supplementary_measures_fr": subprocessor.supplementary_measures_fr, "services": subprocessor.services,
        "services_fr": subprocessor.services_fr, "purpose": subprocessor.purpose,
        "purpose_fr": subprocessor.purpose_fr, "data_categories": _json(subprocessor.data_categories),
    }
    for name in ("no_training_offered", "no_training_enabled", "zero_retention_offered", "zero_retention_enabled"):
        if getattr(subprocessor, name):
            data[name] = "on"
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def _json(value):
    import json

    return json.dumps(value)


class AdminTestCase(NoticeTestCase):
    def setUp(self):
        self.client.force_login(self.staff)

    def change_url(self, obj):
        return reverse(f"admin:subprocessors_{obj._meta.model_name}_change", args=[obj.pk])


class SubprocessorAdminTests(AdminTestCase):
    def test_a_public_edit_publishes_a_new_version(self):
        before = current_version().number
        url = self.change_url(self.mistral)
        self.assertEqual(self.client.get(url).status_code, 200)
        response = self.client.post(url, subprocessor_data(self.mistral, contact="dpo@mistral.ai"))
        self.assertEqual(response.status_code, 302, response.content.decode()[:2000])
        version = current_version()
        self.assertEqual((version.number, version.note), (before + 1, "Edited by staff"))
        self.assertEqual(version.diff["changed"][0]["fields"]["contact"], ["privacy@mistral.ai", "dpo@mistral.ai"])
        self.client.post(url, subprocessor_data(Subprocessor.objects.get(pk=self.mistral.pk)))
        self.assertEqual(current_version().number, before + 1)  # nothing public changed: no version

    def test_a_material_change_of_an_active_provider_needs_a_notice_or_a_correction(self):
        before = current_version().number
        url = self.change_url(self.mistral)
        response = self.client.post(url, subprocessor_data(self.mistral, processing_region="us"))
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "change notice")
        self.assertEqual(Subprocessor.objects.get(pk=self.mistral.pk).processing_region, "eu")
        response = self.client.post(url, subprocessor_data(self.mistral, country="SE", correction="on"))
        self.assertEqual(response.status_code, 302)
        self.assertEqual(current_version().number, before + 1)

    def test_a_new_provider_starts_planned_and_is_not_listed(self):
        before = current_version().number
        data = subprocessor_data(self.planned, slug="assembly", name="AssemblyAI")
        response = self.client.post(reverse("admin:subprocessors_subprocessor_add"), data)
        self.assertEqual(response.status_code, 302, response.content.decode()[:2000])
        self.assertEqual(Subprocessor.objects.get(slug="assembly").status, Subprocessor.Status.PLANNED)
        self.assertEqual(current_version().number, before)


class RegisterVersionAdminTests(AdminTestCase):
    def test_versions_are_read_only_with_their_snapshot(self):
        version = current_version()
        response = self.client.get(reverse("admin:subprocessors_registerversion_changelist"))
        self.assertContains(response, "Default register")
        response = self.client.get(self.change_url(version))
        self.assertContains(response, "google-stt")
        self.assertNotContains(response, 'name="_save"')
        self.assertEqual(self.client.get(reverse("admin:subprocessors_registerversion_add")).status_code, 403)
        self.client.post(reverse("admin:subprocessors_registerversion_delete", args=[version.pk]), {"post": "yes"})
        self.assertTrue(RegisterVersion.objects.filter(pk=version.pk).exists())


class ChangeNoticeAdminTests(AdminTestCase):
    def action_url(self, notice, action):
        return reverse(f"admin:subprocessors_changenotice_{action}", args=[notice.pk])

    def test_staff_write_a_draft_then_announce_it_with_the_button(self):
        data = {"kind": "addition", "subprocessor": self.planned.pk, "changes": "{}",
                "summary": "Deepgram joins.", "summary_fr": "", "effective_date": days(31).isoformat(),
                "objections-TOTAL_FORMS": "0", "objections-INITIAL_FORMS": "0"}
        response = self.client.post(reverse("admin:subprocessors_changenotice_add"), data)
        self.assertEqual(response.status_code, 302, response.content.decode()[:3000])
        notice = ChangeNotice.objects.get()
        self.assertEqual(notice.status, NS.DRAFT)
        page = self.client.get(self.change_url(notice)).content.decode()
        self.assertIn(f'href="{self.action_url(notice, "announce")}"', page)
        self.assertIn(f'href="{self.action_url(notice, "withdraw")}"', page)
        self.assertNotIn(self.action_url(notice, "apply"), page)
        self.assertEqual(self.client.get(self.action_url(notice, "announce")).status_code, 200)
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(self.action_url(notice, "announce"), {"confirm": "on"})
        self.assertRedirects(response, self.change_url(notice))
        self.assertEqual(ChangeNotice.objects.get().status, NS.ANNOUNCED)
        self.assertEqual(len(mail.outbox), 5)
        page = self.client.get(self.change_url(notice)).content.decode()
        self.assertNotIn(self.action_url(notice, "announce"), page)
        self.assertNotIn('name="_save"', page)  # read-only once announced

    def test_a_draft_that_breaks_the_kind_rules_is_refused_on_save(self):
        data = {"kind": "removal", "subprocessor": self.planned.pk, "changes": "{}", "summary": "x",
                "effective_date": days(31).isoformat()}
        response = self.client.post(reverse("admin:subprocessors_changenotice_add"), data)
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "must be active")
        self.assertFalse(ChangeNotice.objects.exists())

    def test_an_announcement_too_soon_is_a_form_error_naming_the_earliest_date(self):
        notice = self.draft(effective=10)
        response = self.client.post(self.action_url(notice, "announce"), {"confirm": "on"})
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, date_format(days(30), "DATE_FORMAT"))
        self.assertEqual(ChangeNotice.objects.get().status, NS.DRAFT)

    def test_an_announced_notice_cannot_be_edited(self):
        notice = self.announce()
        data = {"kind": "addition", "subprocessor": self.planned.pk, "changes": "{}", "summary": "Changed!",
                "effective_date": days(31).isoformat()}
        self.client.post(self.change_url(notice), data)
        self.assertEqual(ChangeNotice.objects.get().summary, "Deepgram joins as speech recognition.")

    def test_apply_now_once_due_and_objections_shown_with_counts(self):
        notice = self.announce()
        self.object(notice)
        self.object(notice, tenant=self.beta, actor=self.charlie)
        StaffAccess.objects.all().delete()
        page = self.client.get(self.change_url(notice)).content.decode()
        self.assertNotIn(self.action_url(notice, "apply"), page)
        self.assertIn("2 (2 open)", page)
        self.assertIn("Beta", page)
        self.assertTrue(StaffAccess.objects.exists())  # which customers objected is tenant data
        notice = self.make_due(notice)
        page = self.client.get(self.change_url(notice)).content.decode()
        self.assertIn(self.action_url(notice, "apply"), page)
        self.assertNotIn(self.action_url(notice, "withdraw"), page)
        response = self.client.post(self.action_url(notice, "apply"), {"confirm": "on"})
        self.assertRedirects(response, self.change_url(notice))
        self.assertEqual(ChangeNotice.objects.get().status, NS.APPLIED)
        self.assertEqual(Subprocessor.objects.get(pk=self.planned.pk).status, Subprocessor.Status.ACTIVE)

    def test_an_action_not_open_is_refused(self):
        notice = self.announce()
        response = self.client.post(self.action_url(notice, "apply"), {"confirm": "on"})
        self.assertRedirects(response, self.change_url(notice))
        self.assertEqual(ChangeNotice.objects.get().status, NS.ANNOUNCED)

    def test_withdraw_with_the_button(self):
        notice = self.announce()
        with self.captureOnCommitCallbacks(execute=True):
            self.client.post(self.action_url(notice, "withdraw"), {"confirm": "on"})
        self.assertEqual(ChangeNotice.objects.get().status, NS.WITHDRAWN)


class ObjectionAdminTests(AdminTestCase):
    def setUp(self):
        super().setUp()
        self.notice = self.announce()
        self.objection = self.object(self.notice)
        mail.outbox.clear()
        StaffAccess.objects.all().delete()

    def resolve_url(self, status):
        return reverse("admin:subprocessors_objection_resolve", args=[self.objection.pk, status])

    def test_the_list_and_the_page_are_recorded_staff_accesses(self):
        response = self.client.get(reverse("admin:subprocessors_objection_changelist"))
        self.assertContains(response, "Alpha")
        page = self.client.get(self.change_url(self.objection)).content.decode()
        self.assertIn("We do not want audio", page)
        for status in (OS.ANSWERED, OS.EXEMPTED, OS.CONTRACT_ENDED):
            self.assertIn(f'href="{self.resolve_url(status)}"', page)
        self.assertEqual(set(StaffAccess.objects.values_list("action", flat=True)), {"list", "view"})
        self.assertEqual(set(StaffAccess.objects.values_list("tenant_id", flat=True)), {self.alpha.pk})

    def test_staff_resolve_with_an_answer(self):
        response = self.client.post(self.resolve_url(OS.EXEMPTED), {"resolution": ""})
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.context["form"].errors)
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(self.resolve_url(OS.EXEMPTED), {"resolution": "You stay on Google."})
        self.assertRedirects(response, self.change_url(self.objection))
        with self.in_alpha():
            objection = Objection.objects.get()
        self.assertEqual((objection.status, objection.resolution, objection.resolved_by),
                         (OS.EXEMPTED, "You stay on Google.", self.staff))
        self.assertTrue(mail.outbox)
        self.assertTrue(StaffAccess.objects.filter(action="change").exists())
        page = self.client.get(self.change_url(self.objection)).content.decode()
        self.assertNotIn(self.resolve_url(OS.ANSWERED), page)
        response = self.client.post(self.resolve_url(OS.ANSWERED), {"resolution": "Again"})
        self.assertRedirects(response, self.change_url(self.objection))


class SubscriberAndMailingAdminTests(AdminTestCase):
    def test_subscribers_are_listed_without_their_address_and_can_be_unsubscribed(self):
        url = reverse("admin:subprocessors_subscriber_changelist")
        response = self.client.get(url)
        self.assertEqual(response.status_code, 200)
        self.assertNotContains(response, "watcher@example.org")
        self.assertContains(response, "Awaiting confirmation")
        found = self.client.get(url, {"q": "Watcher@Example.org"})
        self.assertEqual(list(found.context["cl"].result_list), [self.subscriber])
        self.client.post(url, {"action": "unsubscribe", "_selected_action": [self.subscriber.pk]})
        self.assertIsNotNone(Subscriber.objects.get(pk=self.subscriber.pk).unsubscribed_at)
        self.assertEqual(self.client.get(reverse("admin:subprocessors_subscriber_add")).status_code, 403)

    def test_mailings_are_read_only_with_their_counts(self):
        notice = self.announce()
        mailing = Mailing.objects.get(key=f"notice-{notice.pk}")
        response = self.client.get(reverse("admin:subprocessors_mailing_changelist"))
        self.assertContains(response, f"notice-{notice.pk}")
        self.assertEqual([(m.total, m.sent) for m in response.context["cl"].result_list], [(5, 5)])
        response = self.client.get(self.change_url(mailing))
        self.assertEqual(response.status_code, 200)
        self.assertNotContains(response, "watcher@example.org")
        self.assertNotContains(response, 'name="_save"')

    def test_notices_helpers_list_actions_in_order(self):
        self.assertEqual(notices.allowed_actions(self.draft()), ["announce", "withdraw"])


class AdminPagesTests(AdminTestCase):
    def test_every_page_renders(self):
        notice = self.announce()
        self.object(notice)
        for model in ("subprocessor", "registerversion", "changenotice", "objection", "subscriber", "mailing"):
            with self.subTest(model=model):
                self.assertEqual(self.client.get(reverse(f"admin:subprocessors_{model}_changelist")).status_code, 200)
        for name in ("subprocessor_add", "changenotice_add"):
            self.assertEqual(self.client.get(reverse(f"admin:subprocessors_{name}")).status_code, 200)
        for obj in (self.mistral, self.subscriber):
            self.assertEqual(self.client.get(self.change_url(obj)).status_code, 200)
