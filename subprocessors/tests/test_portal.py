"""Portal pages under /t/<slug>/subprocessors/: the list in force for the customer, the notices, and objecting."""

from django.urls import reverse

from subprocessors import notices
from subprocessors.models import ChangeNotice, Objection, Subprocessor
from subprocessors.register import current_version
from tenants.models import Tenant

from .test_notices import NoticeTestCase

Kind = ChangeNotice.Kind
REASON = "We promised our callers their voice stays with our current provider."


class PortalTestCase(NoticeTestCase):
    def register_url(self, tenant=None):
        return reverse("tenant-subprocessors", args=[(tenant or self.alpha).slug])

    def detail_url(self, notice, tenant=None):
        return reverse("tenant-notice-detail", args=[(tenant or self.alpha).slug, notice.pk])

    def object_url(self, notice, tenant=None):
        return reverse("tenant-notice-object", args=[(tenant or self.alpha).slug, notice.pk])

    def post_objection(self, notice, reason=REASON):
        with self.captureOnCommitCallbacks(execute=True):
            return self.client.post(self.object_url(notice), {"reason": reason})

    def alpha_objections(self):
        with self.in_alpha():
            return list(Objection.objects.all())


class RegisterPageTests(PortalTestCase):
    def test_any_member_reads_the_list_in_force_and_the_announced_changes(self):
        notice = self.announce()
        self.login(self.bob)  # a viewer
        response = self.client.get(self.register_url())
        self.assertEqual(response.status_code, 200)
        page = response.content.decode()
        version = current_version()
        self.assertIn(f"Version {version.number}", page)
        self.assertIn(reverse("subprocessors"), page)
        self.assertIn("Mistral AI", page)
        self.assertIn(self.detail_url(notice), page)
        self.assertIn("Deepgram (EU)", page)
        self.assertNotIn(self.object_url(notice), page)  # a viewer may not object
        self.assertIn('aria-current="page"', page)

    def test_members_who_may_object_get_the_button(self):
        notice = self.announce()
        self.login(self.alice)
        self.assertContains(self.client.get(self.register_url()), self.object_url(notice))

    def test_another_tenants_user_gets_404(self):
        self.login(self.charlie)
        self.assertEqual(self.client.get(self.register_url()).status_code, 404)
        notice = self.announce()
        self.assertEqual(self.client.get(self.detail_url(notice)).status_code, 404)
        self.assertEqual(self.client.get(self.object_url(notice)).status_code, 404)
        self.assertEqual(self.client.post(self.object_url(notice), {"reason": REASON}).status_code, 404)
        self.assertEqual(self.alpha_objections(), [])

    def test_providers_the_customer_may_not_use_say_why(self):
        Tenant.objects.filter(pk=self.alpha.pk).update(region_policy=Tenant.RegionPolicy.EU_ONLY)
        notice = self.announce(kind=notices.Kind.CHANGE, subprocessor=self.mistral, changes={"country": "US"})
        self.object(notice)
        self.google.temporarily_disabled = True
        self.google.save()
        Subprocessor.objects.filter(slug="livekit").update(processing_region="us")
        self.login(self.alice)
        page = self.client.get(self.register_url()).content.decode()
        rows = {slug: page[page.index(f'data-slug="{slug}"'):].split("</tr>")[0]
                for slug in ("mistral", "google-stt", "ovhcloud", "livekit")}
        self.assertIn("you objected", rows["mistral"])
        self.assertIn("Temporarily deactivated", rows["google-stt"])
        self.assertIn("Used", rows["ovhcloud"])
        self.assertIn("Outside the EU", rows["livekit"])
        Tenant.objects.filter(pk=self.alpha.pk).update(region_policy=Tenant.RegionPolicy.ANY)
        page = self.client.get(self.register_url()).content.decode()
        self.assertNotIn("Outside the EU", page)

    def test_own_objections_are_listed_with_the_answer_never_another_customers(self):
        notice = self.announce()
        mine = self.object(notice)
        self.object(notice, tenant=self.beta, actor=self.charlie, reason="Beta's secret reason for objecting here.")
        with self.captureOnCommitCallbacks(execute=True):
            notices.objection_resolve(objection=mine, status="exempted", resolution="Alpha stays on Google.",
                                      actor=self.staff)
        self.login(self.bob)
        page = self.client.get(self.register_url()).content.decode()
        self.assertIn("Alpha stays on Google.", page)
        self.assertIn("exempted", page)
        self.assertNotIn("Beta", page)
        page = self.client.get(self.detail_url(notice)).content.decode()
        self.assertIn("We do not want audio", page)
        self.assertNotIn("Beta&#x27;s secret", page)
        self.assertNotIn("Beta's secret", page)


class NoticePageTests(PortalTestCase):
    def test_a_draft_is_a_404_an_announced_notice_is_shown(self):
        self.login(self.bob)
        draft = self.draft()
        self.assertEqual(self.client.get(self.detail_url(draft)).status_code, 404)
        notice = self.announce(notice=draft)
        response = self.client.get(self.detail_url(notice))
        self.assertContains(response, "Deepgram joins as speech recognition.")
        self.assertNotContains(response, self.object_url(notice))

    def test_an_applied_notice_is_still_shown(self):
        notice = self.make_due(self.announce())
        notices.notice_apply(notice=notice)
        self.login(self.alice)
        response = self.client.get(self.detail_url(notice))
        self.assertContains(response, "Objections to this notice are closed.")
        self.assertNotContains(response, self.object_url(notice))


class ObjectTests(PortalTestCase):
    def setUp(self):
        self.notice = self.announce()
        self.login(self.alice)

    def test_a_member_who_may_object_objects_with_a_reason(self):
        self.assertEqual(self.client.get(self.object_url(self.notice)).status_code, 200)
        response = self.post_objection(self.notice)
        self.assertRedirects(response, self.detail_url(self.notice))
        [objection] = self.alpha_objections()
        self.assertEqual((objection.reason, objection.raised_by, objection.status), (REASON, self.alice, "open"))
        self.assertContains(self.client.get(self.detail_url(self.notice)), REASON)

    def test_a_member_who_may_not_object_gets_403(self):
        for user in (self.bob, self.carl):
            self.login(user)
            self.assertEqual(self.client.get(self.object_url(self.notice)).status_code, 403)
            self.assertEqual(self.client.post(self.object_url(self.notice), {"reason": REASON}).status_code, 403)
        self.assertEqual(self.alpha_objections(), [])

    def test_an_empty_or_short_reason_is_a_form_error(self):
        for reason in ("", "   ", "No."):
            response = self.post_objection(self.notice, reason=reason)
            self.assertEqual(response.status_code, 200)
            self.assertTrue(response.context["form"].errors["reason"])
        self.assertEqual(self.alpha_objections(), [])

    def test_a_second_objection_is_a_form_error(self):
        self.post_objection(self.notice)
        self.login(self.dora)
        response = self.post_objection(self.notice)
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "already objected")
        self.assertEqual(len(self.alpha_objections()), 1)

    def test_an_objection_after_the_window_is_a_form_error(self):
        notice = self.make_due(self.notice)
        self.assertContains(self.client.get(self.object_url(notice)), "Objections to this notice are closed.")
        response = self.post_objection(notice)
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "no longer accepts objections")
        self.assertEqual(self.alpha_objections(), [])

    def test_a_draft_cannot_be_objected_to(self):
        draft = self.draft(subprocessor=self.mistral, kind=Kind.REMOVAL, effective=40)
        self.assertEqual(self.client.get(self.object_url(draft)).status_code, 404)
        self.assertEqual(self.post_objection(draft).status_code, 404)
