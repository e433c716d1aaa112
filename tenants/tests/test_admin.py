from tenants.models import ApiKey, Membership, StaffAccess
from tenants.scope import all_tenants_scope
from tenants.services import api_key_create, user_create
from tenants.testing import TwoTenantTestCase


class StaffAdminTests(TwoTenantTestCase):
    def setUp(self):
        self.staff = user_create(email="staff@callkom.example", password="x" * 12, is_staff=True)
        self.staff.is_superuser = True
        self.staff.save()

    def test_staff_list_view_is_recorded_per_tenant(self):
        self.client.force_login(self.staff)
        response = self.client.get("/admin/tenants/membership/")
        self.assertContains(response, "bob@alpha.example")
        tenants = set(StaffAccess.objects.filter(action="list").values_list("tenant__slug", flat=True))
        self.assertEqual(tenants, {"alpha", "beta"})

    def test_staff_object_view_is_recorded_and_shown_to_the_tenant(self):
        with all_tenants_scope("test"):
            membership = Membership.objects.get(user=self.bob)
        self.client.force_login(self.staff)
        self.assertEqual(self.client.get(f"/admin/tenants/membership/{membership.pk}/change/").status_code, 200)
        access = StaffAccess.objects.get(action="view")
        self.assertEqual((access.tenant, access.object_id), (self.alpha, str(membership.pk)))
        self.client.force_login(self.alice)
        self.assertContains(self.client.get("/t/alpha/activity/"), "staff@callkom.example")
        self.client.force_login(self.charlie)
        self.assertNotContains(self.client.get("/t/beta/activity/"), "staff@callkom.example")

    def test_api_key_admin_never_shows_the_hash(self):
        key, _raw = api_key_create(tenant=self.alpha, name="CRM", scopes=["calls:read"])
        self.client.force_login(self.staff)
        response = self.client.get(f"/admin/tenants/apikey/{key.pk}/change/")
        self.assertEqual(response.status_code, 200)
        with all_tenants_scope("test"):
            self.assertNotContains(response, ApiKey.objects.get(pk=key.pk).key_hash)

    def test_customer_cannot_reach_the_admin(self):
        self.client.force_login(self.alice)
        response = self.client.get("/admin/tenants/membership/")
        self.assertEqual(response.status_code, 302)
        self.assertFalse(StaffAccess.objects.exists())

    def test_suspend_action_goes_through_the_service(self):
        self.client.force_login(self.staff)
        self.client.post("/admin/tenants/tenant/", {"action": "suspend", "_selected_action": [self.beta.pk]})
        self.beta.refresh_from_db()
        self.assertEqual(self.beta.status, "suspended")


class CallAdminTests(TwoTenantTestCase):
    def test_a_call_page_in_the_admin_shows_supervisor_actions_and_is_recorded(self):
        from calls import services
        from calls.models import Call, SupervisorAction

        staff = user_create(email="staff@callkom.example", password="x" * 12, is_staff=True)
        staff.is_superuser = True
        staff.save()
        with self.in_alpha():
            script = services.demo_scripts_ensure(tenant=self.alpha)[0]
            call = services.call_create(tenant=self.alpha, script=script, direction=Call.Direction.INBOUND)
            SupervisorAction.objects.create(tenant=self.alpha, call=call, user=self.alice, action="note",
                                            note="call back Monday")
        self.client.force_login(staff)
        response = self.client.get(f"/admin/calls/call/{call.pk}/change/")
        self.assertContains(response, "call back Monday")
        self.assertTrue(StaffAccess.objects.filter(tenant=self.alpha, model="calls.Call").exists())
