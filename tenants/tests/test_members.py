from django.core import mail

from tenants.models import Membership
from tenants.roles import Role
from tenants.testing import TwoTenantTestCase


class MembersTests(TwoTenantTestCase):
    def membership(self, user, tenant=None):
        with self.in_alpha() if tenant is None else self.in_beta():
            return Membership.objects.get(user=user)

    def test_owner_adds_a_new_person_who_gets_a_password_link(self):
        self.login(self.alice)
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post("/t/alpha/members/", {"email": "Dan@Alpha.example", "role": "campaign_manager"})
        self.assertRedirects(response, "/t/alpha/members/")
        with self.in_alpha():
            membership = Membership.objects.get(user__email="dan@alpha.example")
        self.assertEqual(membership.role, Role.CAMPAIGN_MANAGER)
        self.assertEqual(len(mail.outbox), 1)
        self.assertIn("/accounts/reset/", mail.outbox[0].body)

    def test_adding_an_existing_member_is_a_form_error(self):
        self.login(self.alice)
        response = self.client.post("/t/alpha/members/", {"email": "bob@alpha.example", "role": "viewer"})
        self.assertContains(response, "already a member")

    def test_the_last_owner_cannot_leave_or_be_demoted(self):
        self.login(self.alice)
        alice = self.membership(self.alice)
        self.client.post(f"/t/alpha/members/{alice.pk}/role/", {"role": "viewer"})
        self.client.post(f"/t/alpha/members/{alice.pk}/remove/")
        self.assertEqual(self.membership(self.alice).role, Role.OWNER)

    def test_role_change_is_audited(self):
        self.login(self.alice)
        bob = self.membership(self.bob)
        self.client.post(f"/t/alpha/members/{bob.pk}/role/", {"role": "admin"})
        self.assertEqual(self.membership(self.bob).role, Role.ADMIN)
        response = self.client.get("/t/alpha/activity/")
        self.assertContains(response, "admin")

    def test_an_admin_cannot_make_an_owner(self):
        bob = self.membership(self.bob)
        with self.in_alpha():
            Membership.objects.filter(pk=bob.pk).update(role=Role.ADMIN)
        self.login(self.bob)
        self.client.post("/t/alpha/members/", {"email": "eve@alpha.example", "role": "owner"})
        self.client.post(f"/t/alpha/members/{bob.pk}/role/", {"role": "owner"})
        with self.in_alpha():
            self.assertEqual(Membership.objects.filter(role=Role.OWNER).count(), 1)

    def test_a_membership_of_another_tenant_is_404(self):
        self.login(self.alice)
        charlie = self.membership(self.charlie, tenant="beta")
        self.assertEqual(self.client.post(f"/t/alpha/members/{charlie.pk}/remove/").status_code, 404)
        self.assertEqual(self.client.post(f"/t/alpha/members/{charlie.pk}/role/", {"role": "viewer"}).status_code, 404)
        self.assertEqual(self.membership(self.charlie, tenant="beta").role, Role.OWNER)

    def test_viewer_cannot_manage_members(self):
        self.login(self.bob)
        self.assertEqual(self.client.post("/t/alpha/members/", {"email": "x@y.example", "role": "viewer"}).status_code,
                         403)
