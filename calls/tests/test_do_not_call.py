from unittest import mock

from django.core.exceptions import ValidationError

from calls import services
from calls.donotcall import do_not_call_add, do_not_call_reason, platform_do_not_call_add
from calls.models import Call, DoNotCall, DoNotCallSource
from calls.outbound import call_dial_now, call_start_outbound
from tenants.models import TenantSettings
from tenants.testing import TwoTenantTestCase


class DoNotCallTests(TwoTenantTestCase):
    def setUp(self):
        with self.in_alpha():
            self.script = services.demo_scripts_ensure(tenant=self.alpha)[0]

    def test_numbers_match_whatever_their_spelling_and_stay_per_tenant(self):
        with self.in_alpha():
            do_not_call_add(tenant=self.alpha, phone="06 12 34 56 78", reason="asked us")
            self.assertTrue(do_not_call_reason(tenant=self.alpha, phone_e164="+33612345678"))
            do_not_call_add(tenant=self.alpha, phone="+33 6 12 34 56 78")
            self.assertEqual(DoNotCall.objects.count(), 1)
        with self.in_beta():
            self.assertEqual(do_not_call_reason(tenant=self.beta, phone_e164="+33612345678"), "")

    def test_a_platform_wide_objection_protects_from_every_tenant(self):
        platform_do_not_call_add(phone="0612345678")
        for tenant, scope in ((self.alpha, self.in_alpha), (self.beta, self.in_beta)):
            with scope():
                self.assertIn("every call", do_not_call_reason(tenant=tenant, phone_e164="+33612345678"))

    def test_outbound_calls_refuse_a_listed_number(self):
        with self.in_alpha():
            do_not_call_add(tenant=self.alpha, phone="0612345678")
            contact = services.contact_create(tenant=self.alpha, phone="0612345678")
            with self.assertRaisesMessage(ValidationError, "do-not-call"):
                call_start_outbound(tenant=self.alpha, script=self.script, contact=contact)
            self.assertFalse(Call.objects.exists())

    def test_an_objection_added_after_queueing_cancels_the_call_before_dialling(self):
        with self.in_alpha():
            TenantSettings.objects.filter(tenant=self.alpha).update(sip_outbound_trunk_id="ST_x")
            contact = services.contact_create(tenant=self.alpha, phone="0612345678")
            with mock.patch("calls.tasks.call_dial.delay"):
                call = call_start_outbound(tenant=self.alpha, script=self.script, contact=contact)
            do_not_call_add(tenant=self.alpha, phone="0612345678", source=DoNotCallSource.OBJECTION)
            with mock.patch("calls.livekit.room_create") as room_create:
                call = call_dial_now(call=Call.objects.get(pk=call.pk))
            room_create.assert_not_called()
        self.assertEqual((call.status, call.end_reason), (Call.Status.CANCELED, "do_not_call"))

    def test_the_portal_list_add_remove_and_refusals(self):
        self.login(self.alice)
        response = self.client.post("/t/alpha/do-not-call/", {"phone": "06 12 34 56 78", "reason": "rude"})
        self.assertRedirects(response, "/t/alpha/do-not-call/")
        self.assertContains(self.client.get("/t/alpha/do-not-call/"), "+33612345678")
        self.assertContains(self.client.post("/t/alpha/do-not-call/", {"phone": "12"}), "errorlist")
        response = self.client.post("/t/alpha/calls/outbound/", {"script": self.script.pk, "phone": "0612345678"})
        self.assertContains(response, "do-not-call", status_code=400)
        with self.in_alpha():
            entry = DoNotCall.objects.get()
        self.client.post(f"/t/alpha/do-not-call/{entry.pk}/remove/")
        with self.in_alpha():
            self.assertFalse(DoNotCall.objects.exists())

    def test_an_objection_cannot_be_removed_and_others_cannot_touch_the_list(self):
        with self.in_alpha():
            entry = do_not_call_add(tenant=self.alpha, phone="0612345678", source=DoNotCallSource.OBJECTION)
        self.login(self.alice)
        self.client.post(f"/t/alpha/do-not-call/{entry.pk}/remove/")
        self.login(self.charlie)
        self.assertEqual(self.client.post(f"/t/beta/do-not-call/{entry.pk}/remove/").status_code, 404)
        self.login(self.bob)  # a viewer reads the list but cannot change it
        self.assertEqual(self.client.get("/t/alpha/do-not-call/").status_code, 200)
        self.assertEqual(self.client.post("/t/alpha/do-not-call/", {"phone": "0611111111"}).status_code, 403)
        with self.in_alpha():
            self.assertEqual(DoNotCall.objects.count(), 1)


class PlatformListAdminTests(TwoTenantTestCase):
    def test_staff_add_a_number_that_is_stored_only_as_its_blind_index(self):
        from calls.models import PlatformDoNotCall
        from tenants.crypto import phone_index
        from tenants.services import user_create

        staff = user_create(email="staff@callkom.example", password="x" * 12, is_staff=True)
        staff.is_superuser = True
        staff.save()
        self.client.force_login(staff)
        response = self.client.post("/admin/calls/platformdonotcall/add/", {"phone": "06 12 34 56 78",
                                                                            "source": "objection"})
        self.assertEqual(response.status_code, 302)
        entry = PlatformDoNotCall.objects.get()
        self.assertEqual(entry.phone_index, phone_index("+33612345678"))
        bad = self.client.post("/admin/calls/platformdonotcall/add/", {"phone": "12", "source": "objection"})
        self.assertContains(bad, "errorlist")
