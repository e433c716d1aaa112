import re

from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tenants.models import Membership, Tenant
from tenants.roles import Role
from tenants.scope import all_tenants_scope
from tenants.testing import TwoTenantTestCase


def portal_routes():
    """Yield (name, route template) for every view mounted under /t/<slug>/, whichever app it comes from."""
    for entry in get_resolver().url_patterns:
        if isinstance(entry, URLResolver) and str(entry.pattern) == "t/<slug:tenant_slug>/":
            for pattern in entry.url_patterns:
                assert isinstance(pattern, URLPattern)
                yield pattern.name, "/t/{slug}/" + str(pattern.pattern)


def fill(route, slug):
    """Put the slug in and a plausible value in every other converter."""
    route = route.format(slug=slug)
    route = re.sub(r"<int:\w+>", "1", route)
    route = re.sub(r"<uuid:\w+>", "00000000-0000-0000-0000-000000000001", route)
    return re.sub(r"<(?:str|slug|path):\w+>", "x", route)


class PortalAccessTests(TwoTenantTestCase):
    def test_every_portal_view_answers_404_to_another_tenants_user(self):
        self.login(self.charlie)
        routes = list(portal_routes())
        self.assertGreater(len(routes), 5)
        for name, route in routes:
            url = fill(route, "alpha")
            for method in (self.client.get, self.client.post):
                response = method(url)
                self.assertEqual(response.status_code, 404, f"{name} {url} gave {response.status_code}")

    def test_unknown_tenant_is_404(self):
        self.login(self.alice)
        self.assertEqual(self.client.get("/t/no-such-tenant/").status_code, 404)

    def test_anonymous_is_sent_to_log_in(self):
        response = self.client.get("/t/alpha/settings/")
        self.assertRedirects(response, "/accounts/login/?next=/t/alpha/settings/", fetch_redirect_response=False)

    def test_member_sees_dashboard_with_real_counts(self):
        self.login(self.bob)
        response = self.client.get("/t/alpha/")
        self.assertContains(response, "Alpha")
        pairs = re.findall(r'stat-value">(\d+)</span><span class="stat-label">([^<]+)<', response.content.decode())
        self.assertEqual({label: int(value) for value, label in pairs}["Members"], 2)

    def test_viewer_cannot_open_api_keys(self):
        self.login(self.bob)
        self.assertEqual(self.client.get("/t/alpha/api-keys/").status_code, 403)

    def test_suspended_tenant_shows_a_clear_page_and_no_data(self):
        Tenant.objects.filter(pk=self.alpha.pk).update(status=Tenant.Status.SUSPENDED)
        self.login(self.alice)
        response = self.client.get("/t/alpha/members/")
        self.assertEqual(response.status_code, 403)
        self.assertContains(response, "suspended", status_code=403)
        self.assertNotContains(response, "bob@alpha.example", status_code=403)

    def test_switcher_lists_each_tenant_of_a_user(self):
        with all_tenants_scope("test"):
            Membership.objects.create(tenant=self.beta, user=self.alice, role=Role.VIEWER)
        self.login(self.alice)
        response = self.client.get("/t/")
        self.assertContains(response, reverse("dashboard", args=["alpha"]))
        self.assertContains(response, reverse("dashboard", args=["beta"]))

    def test_switcher_sends_a_single_tenant_user_to_the_dashboard(self):
        self.login(self.bob)
        self.assertRedirects(self.client.get("/t/"), "/t/alpha/")

    def test_login_with_email(self):
        response = self.client.post("/accounts/login/", {"username": "alice@alpha.example",
                                                          "password": "correct-horse-battery-staple"})
        self.assertRedirects(response, "/t/", fetch_redirect_response=False)
