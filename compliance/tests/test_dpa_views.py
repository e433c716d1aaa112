"""The portal's DPA page: the version in force, acceptance by an owner, the PDFs, the banner, and who may see what."""

from unittest import mock

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse

from compliance import policies
from compliance.models import DpaAcceptance
from subprocessors.services import subprocessor_seed_defaults
from tenants.models import Membership
from tenants.roles import Role
from tenants.services import membership_add, user_create
from tenants.testing import TwoTenantTestCase

pytestmark = pytest.mark.clock  # the version in force is the one accepted before now; pages show the dates


def uncompressed():
    return mock.patch("reportlab.rl_config.pageCompression", 0)


class DpaPageTestCase(TwoTenantTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        subprocessor_seed_defaults()
        cls.dpo = user_create(email="dpo@alpha.example", password="x" * 12)
        with cls.in_alpha(cls):
            membership_add(tenant=cls.alpha, user=cls.dpo, role=Role.DPO)

    def url(self, name="tenant-dpa", slug="alpha", *args):
        return reverse(name, args=[slug, *args])

    def accept(self, number=None, authority=True, ip="203.0.113.9"):
        number = number or policies.dpa_current().number
        data = {"version": str(number), **({"authority": "on"} if authority else {})}
        return self.client.post(self.url("tenant-dpa-accept"), data, REMOTE_ADDR=ip,
                                HTTP_X_FORWARDED_FOR="10.9.9.9")

    def acceptances(self, tenant=None):
        with self.in_alpha() if (tenant or self.alpha) == self.alpha else self.in_beta():
            return list(DpaAcceptance.objects.select_related("version"))

    def publish_v2(self):
        draft = policies.dpa_draft_create(title="DPA", body="1. Subject\n\n{controller} agrees.")
        return policies.dpa_publish(version=draft, actor=None)


class DpaPageTests(DpaPageTestCase):
    def test_the_page_shows_the_version_awaiting_acceptance_and_the_form_to_an_owner(self):
        self.login(self.alice)
        response = self.client.get(self.url())
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Awaiting acceptance")
        self.assertContains(response, "I have authority to accept this agreement on behalf of Alpha SAS.")
        self.assertContains(response, self.url("tenant-dpa-pdf", "alpha", 1))
        self.assertContains(response, "entered into between Alpha SAS (the")  # the text, with the parties put in
        self.assertNotContains(response, "{controller}")

    def test_an_owner_accepts_and_the_page_shows_who_when_where(self):
        self.login(self.alice)
        response = self.accept()
        self.assertRedirects(response, self.url(), fetch_redirect_response=False)
        [acceptance] = self.acceptances()
        self.assertEqual((acceptance.version.number, acceptance.accepted_by, acceptance.ip_address,
                          acceptance.register_version), (1, self.alice, "203.0.113.9", 1))
        page = self.client.get(self.url())
        self.assertContains(page, "is accepted. Thank you.")
        self.assertContains(page, "alice@alpha.example")
        self.assertContains(page, "203.0.113.9")
        self.assertNotContains(page, "10.9.9.9")
        self.assertNotContains(page, 'id="dpa-accept"')
        self.assertEqual(self.acceptances(self.beta), [])

    def test_the_checkbox_is_required(self):
        self.login(self.alice)
        response = self.accept(authority=False)
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "Tick the box", status_code=400)
        self.assertEqual(self.acceptances(), [])

    def test_accepting_twice_or_an_old_version_is_a_clear_error(self):
        self.login(self.alice)
        self.accept()
        twice = self.accept()
        self.assertContains(twice, "already accepted", status_code=400)
        self.publish_v2()
        old = self.accept(number=1)
        self.assertContains(old, "Only the latest published version", status_code=400)
        unknown = self.accept(number=99)
        self.assertContains(unknown, "No published version", status_code=400)
        self.assertEqual(len(self.acceptances()), 1)

    def test_a_new_version_is_asked_again_and_accepting_it_works(self):
        self.login(self.alice)
        self.accept()
        self.publish_v2()
        page = self.client.get(self.url())
        self.assertContains(page, "Awaiting acceptance")
        self.assertContains(page, "version 1, accepted on")  # still in force until accepted
        self.assertEqual(self.accept(number=2).status_code, 302)
        self.assertEqual(sorted(a.version.number for a in self.acceptances()), [1, 2])
        self.assertContains(self.client.get(self.url()), self.url("tenant-dpa-pdf", "alpha", 2))

    def test_the_pdf_of_a_version(self):
        self.login(self.alice)
        self.accept()
        with uncompressed():
            response = self.client.get(self.url("tenant-dpa-pdf", "alpha", 1))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "application/pdf")
        self.assertIn('filename="dpa-v1-alpha.pdf"', response["Content-Disposition"])
        self.assertTrue(response.content.startswith(b"%PDF"))
        self.assertIn(b"Annex I: subprocessors, list version 1", response.content)
        self.assertIn(b"203.0.113.9", response.content)

    def test_a_draft_or_unknown_version_has_no_pdf(self):
        policies.dpa_draft_create(title="DPA", body="Draft.")
        self.login(self.alice)
        self.assertEqual(self.client.get(self.url("tenant-dpa-pdf", "alpha", 2)).status_code, 404)
        self.assertEqual(self.client.get(self.url("tenant-dpa-pdf", "alpha", 9)).status_code, 404)


class DpaAccessTests(DpaPageTestCase):
    def test_another_tenants_user_gets_404(self):
        self.login(self.charlie)
        self.assertEqual(self.client.get(self.url()).status_code, 404)
        self.assertEqual(self.client.get(self.url("tenant-dpa-pdf", "alpha", 1)).status_code, 404)
        self.assertEqual(self.accept().status_code, 404)
        self.assertEqual(self.acceptances(), [])
        self.assertEqual(self.client.get(self.url(slug="beta")).status_code, 200)

    def test_a_viewer_can_neither_read_nor_accept(self):
        self.login(self.bob)
        self.assertEqual(self.client.get(self.url()).status_code, 403)
        self.assertEqual(self.client.get(self.url("tenant-dpa-pdf", "alpha", 1)).status_code, 403)
        self.assertEqual(self.accept().status_code, 403)
        self.assertEqual(self.acceptances(), [])

    def test_a_dpo_reads_but_only_an_owner_accepts(self):
        self.login(self.dpo)
        page = self.client.get(self.url())
        self.assertEqual(page.status_code, 200)
        self.assertNotContains(page, 'id="dpa-accept"')
        self.assertContains(page, "An owner of your company accepts the agreement")
        self.assertEqual(self.accept().status_code, 403)
        self.assertEqual(self.acceptances(), [])

    def test_logged_out_goes_to_the_login_page(self):
        response = self.client.get(self.url())
        self.assertEqual(response.status_code, 302)
        self.assertIn(reverse("login"), response["Location"])


class DpaBannerTests(DpaPageTestCase):
    def banner(self, user, tenant=None):
        """The banner as the portal renders it for ``user`` on a page of ``tenant``."""
        tenant = tenant or self.alpha
        request = RequestFactory().get(reverse("dashboard", args=[tenant.slug]))
        request.user, request.tenant = user, tenant
        with self.in_alpha() if tenant == self.alpha else self.in_beta():
            request.membership = Membership.objects.get(user=user)
        return render_to_string("compliance/_dpa_banner.html", request=request)

    def test_owners_see_the_banner_until_they_accept_and_again_for_a_new_version(self):
        self.assertIn("awaits your acceptance", self.banner(self.alice))
        self.assertIn(self.url(), self.banner(self.alice))
        self.login(self.alice)
        self.assertEqual(self.client.get(reverse("dashboard", args=["alpha"])).context["dpa_pending"].number, 1)
        self.accept()
        self.assertNotIn("awaits your acceptance", self.banner(self.alice))
        self.assertIn("awaits your acceptance", self.banner(self.charlie, self.beta))
        self.publish_v2()
        self.assertIn("Read and accept version 2", self.banner(self.alice))

    def test_members_who_cannot_accept_get_no_banner(self):
        self.assertNotIn("awaits your acceptance", self.banner(self.bob))
        self.assertNotIn("awaits your acceptance", self.banner(self.dpo))
