"""Portal pages: endpoints, deliveries, failed deliveries and e-mail addresses; MANAGE_SETTINGS only; another
tenant's user gets 404 everywhere."""

import datetime
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from tenants.scope import all_tenants_scope
from tenants.services import user_create
from tenants.testing import TwoTenantTestCase
from webhooks import transport
from webhooks.models import EmailNotification, WebhookDelivery, WebhookEndpoint
from webhooks.services import email_notification_create, endpoint_create, event_emit

Status = WebhookDelivery.Status
PUBLIC = "https://93.184.216.34/hooks"


class WebhookPortalTests(TwoTenantTestCase):
    def setUp(self):
        with self.in_alpha():
            self.endpoint = endpoint_create(tenant=self.alpha, url=PUBLIC, events=["call.completed"],
                                            description="CRM")
            [self.delivery] = event_emit(tenant=self.alpha, event="call.completed",
                                         data={"call_id": "c1", "name": "Jean Martin"})
            WebhookDelivery.objects.filter(pk=self.delivery.pk).update(status=Status.DEAD, attempts=9,
                                                                       last_status_code=502)
            self.notification = email_notification_create(tenant=self.alpha, email="ops@alpha.example",
                                                          events=["report.ready"])

    def url(self, name, *args, slug="alpha"):
        return reverse(name, args=[slug, *args])

    def all_urls(self):
        e, d, n = self.endpoint.pk, self.delivery.pk, self.notification.pk
        return [self.url("webhook-list"), self.url("webhook-dead-letters"), self.url("webhook-emails"),
                self.url("webhook-email-edit", n), self.url("webhook-email-delete", n),
                self.url("webhook-delivery", d), self.url("webhook-redeliver", d), self.url("webhook-detail", e),
                self.url("webhook-edit", e), self.url("webhook-delete", e), self.url("webhook-rotate", e),
                self.url("webhook-ping", e)]

    def test_another_tenants_user_gets_404_on_every_page(self):
        self.login(self.charlie)
        for url in self.all_urls():
            for method in (self.client.get, self.client.post):
                self.assertEqual(method(url).status_code, 404, url)
        with self.in_alpha():
            self.assertTrue(WebhookEndpoint.objects.filter(pk=self.endpoint.pk).exists())
            self.assertEqual(WebhookDelivery.objects.get().status, Status.DEAD)

    def test_alphas_objects_are_404_under_betas_slug_too(self):
        self.login(self.charlie)
        for url in self.all_urls():
            url = url.replace("/t/alpha/", "/t/beta/")
            if "/webhooks/failed/" in url or url.endswith(("/webhooks/", "/webhooks/emails/")):
                continue
            self.assertEqual(self.client.post(url).status_code, 404, url)

    def test_a_viewer_is_refused_everywhere(self):
        self.login(self.bob)
        post_only = ("/delete/", "/rotate-secret/", "/ping/", "/redeliver/")
        for url in self.all_urls():
            self.assertEqual(self.client.get(url).status_code, 405 if url.endswith(post_only) else 403, url)
            self.assertEqual(self.client.post(url).status_code, 403, url)
        with self.in_alpha():
            self.assertEqual(WebhookDelivery.objects.get().status, Status.DEAD)

    def test_creating_an_endpoint_shows_its_secret_once(self):
        self.login(self.alice)
        response = self.client.post(self.url("webhook-list"), {
            "url": "https://93.184.216.35/in", "events": ["call.completed", "report.ready"], "active": "on"})
        created = response.context["created"]
        self.assertContains(response, created.secret)
        self.assertTrue(created.secret.startswith("whsec_"))
        self.assertEqual((created.created_by, created.events), (self.alice, ["call.completed", "report.ready"]))
        self.assertNotContains(self.client.get(self.url("webhook-list")), created.secret)
        self.assertNotContains(self.client.get(self.url("webhook-detail", created.pk)), created.secret)

    def test_bad_input_gives_form_errors(self):
        self.login(self.alice)
        cases = [
            ({"url": "not a url", "events": ["call.completed"]}, "url"),
            ({"url": "http://93.184.216.35/in", "events": ["call.completed"]}, "url"),
            ({"url": "https://10.1.2.3/in", "events": ["call.completed"]}, "url"),
            ({"url": "https://93.184.216.35/in", "events": []}, "events"),
            ({"url": "https://93.184.216.35/in", "events": ["ping"]}, "events"),
            ({"url": "https://93.184.216.35/" + "x" * 600, "events": ["call.completed"]}, "url"),
        ]
        for data, field in cases:
            with self.subTest(data=data):
                response = self.client.post(self.url("webhook-list"), data)
                self.assertEqual(response.status_code, 200)
                self.assertTrue(response.context["form"].errors.get(field), response.context["form"].errors)
        with mock.patch.object(transport, "resolve", return_value=["192.168.0.10"]):
            response = self.client.post(self.url("webhook-edit", self.endpoint.pk),
                                        {"url": "https://intranet.alpha.example/", "events": ["call.completed"]})
        self.assertIn("private network", str(response.context["form"].errors["url"]))
        self.assertEqual(self.client.get(self.url("webhook-detail", self.endpoint.pk) + "?status=bogus").status_code,
                         200)

    @pytest.mark.clock  # the old secret's day of grace is counted from now
    def test_edit_delete_rotate_and_ping(self):
        self.login(self.alice)
        response = self.client.post(self.url("webhook-edit", self.endpoint.pk), {
            "url": "https://93.184.216.36/new", "events": ["report.ready"], "description": "ERP"})
        self.assertRedirects(response, self.url("webhook-detail", self.endpoint.pk))
        with self.in_alpha():
            self.endpoint.refresh_from_db()
        self.assertEqual((self.endpoint.url, self.endpoint.events, self.endpoint.active),
                         ("https://93.184.216.36/new", ["report.ready"], False))

        old = self.endpoint.secret
        response = self.client.post(self.url("webhook-rotate", self.endpoint.pk))
        with self.in_alpha():
            self.endpoint.refresh_from_db()
        self.assertNotEqual(self.endpoint.secret, old)
        self.assertContains(response, self.endpoint.secret)
        self.assertEqual(self.endpoint.previous_secret, old)
        self.assertGreater(self.endpoint.previous_secret_until, timezone.now() + datetime.timedelta(hours=23))

        with mock.patch.object(transport, "post", return_value=200) as post, \
                self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(self.url("webhook-ping", self.endpoint.pk), follow=True)
        self.assertEqual(post.call_count, 1, "a ping goes out even to an inactive endpoint")
        with self.in_alpha():
            ping = WebhookDelivery.objects.get(event="ping")
        self.assertEqual(ping.status, Status.SUCCEEDED)
        self.assertContains(response, "ping")

        response = self.client.post(self.url("webhook-delete", self.endpoint.pk))
        self.assertRedirects(response, self.url("webhook-list"))
        with self.in_alpha():
            self.assertFalse(WebhookEndpoint.objects.exists())
            self.assertFalse(WebhookDelivery.objects.exists())

    def test_deliveries_filter_by_status_and_show_their_body(self):
        self.login(self.alice)
        detail = self.url("webhook-detail", self.endpoint.pk)
        self.assertContains(self.client.get(detail + "?status=dead"), str(self.delivery.pk)[:8])
        self.assertNotContains(self.client.get(detail + "?status=succeeded"), self.url("webhook-delivery",
                                                                                        self.delivery.pk))
        page = self.client.get(self.url("webhook-delivery", self.delivery.pk))
        self.assertContains(page, "Jean Martin")
        self.assertContains(page, str(self.delivery.pk))

    def test_redeliver_from_the_dead_letter_list_twice_sends_once(self):
        self.login(self.alice)
        dead = self.client.get(self.url("webhook-dead-letters"))
        self.assertContains(dead, self.url("webhook-redeliver", self.delivery.pk))
        with mock.patch.object(transport, "post", return_value=200) as post:
            with self.captureOnCommitCallbacks(execute=True):
                first = self.client.post(self.url("webhook-redeliver", self.delivery.pk), {"back": "dead-letters"},
                                         follow=True)
            with self.captureOnCommitCallbacks(execute=True):
                second = self.client.post(self.url("webhook-redeliver", self.delivery.pk), follow=True)
        self.assertEqual(post.call_count, 1)
        self.assertEqual(first.redirect_chain[-1][0], self.url("webhook-dead-letters"))
        self.assertContains(first, "same delivery id")
        self.assertContains(second, "already succeeded")
        self.assertNotContains(self.client.get(self.url("webhook-dead-letters")),
                               self.url("webhook-redeliver", self.delivery.pk))

    def test_email_addresses_are_added_edited_and_removed(self):
        self.login(self.alice)
        response = self.client.post(self.url("webhook-emails"), {"email": "Sales@Alpha.example",
                                                                 "events": ["report.ready"]}, follow=True)
        self.assertContains(response, "sales@alpha.example")
        duplicate = self.client.post(self.url("webhook-emails"), {"email": "sales@alpha.example",
                                                                  "events": ["report.ready"]})
        self.assertTrue(duplicate.context["form"].errors["email"])
        self.assertTrue(self.client.post(self.url("webhook-emails"), {"email": "nope"}).context["form"].errors)
        response = self.client.post(self.url("webhook-email-edit", self.notification.pk), {
            "email": "ops@alpha.example", "events": ["call.completed"], "include_report": "on", "active": "on"})
        self.assertRedirects(response, self.url("webhook-emails"))
        with self.in_alpha():
            self.notification.refresh_from_db()
        self.assertEqual((self.notification.events, self.notification.include_report), (["call.completed"], True))
        self.client.post(self.url("webhook-email-delete", self.notification.pk))
        with self.in_alpha():
            self.assertEqual(list(EmailNotification.objects.values_list("email", flat=True)),
                             ["sales@alpha.example"])

    def test_every_page_renders_for_a_manager_in_french_too(self):
        self.login(self.alice)
        for url in self.all_urls():
            if not url.endswith(("/delete/", "/rotate-secret/", "/ping/", "/redeliver/")):
                self.assertEqual(self.client.get(url, HTTP_ACCEPT_LANGUAGE="fr").status_code, 200, url)


class WebhookAdminTests(TwoTenantTestCase):
    def test_staff_see_deliveries_without_their_body_and_can_redeliver(self):
        staff = user_create(email="staff@callkom.example", password="x" * 12, is_staff=True)
        staff.is_superuser = True
        staff.save()
        with self.in_alpha():
            endpoint_create(tenant=self.alpha, url=PUBLIC, events=["call.completed"])
            [delivery] = event_emit(tenant=self.alpha, event="call.completed", data={"name": "Jean Martin"})
            WebhookDelivery.objects.filter(pk=delivery.pk).update(status=Status.DEAD)
        self.client.force_login(staff)
        page = self.client.get(f"/admin/webhooks/webhookdelivery/{delivery.pk}/change/")
        self.assertEqual(page.status_code, 200)
        self.assertNotContains(page, "Jean Martin")
        endpoint_page = self.client.get("/admin/webhooks/webhookendpoint/")
        self.assertContains(endpoint_page, PUBLIC)
        with mock.patch.object(transport, "post", return_value=200), self.captureOnCommitCallbacks(execute=True):
            self.client.post("/admin/webhooks/webhookdelivery/",
                             {"action": "redeliver", "_selected_action": [str(delivery.pk)]})
        with all_tenants_scope("test"):
            self.assertEqual(WebhookDelivery.objects.get().status, Status.SUCCEEDED)


class ScheduleTests(TwoTenantTestCase):
    def test_the_retry_sweep_is_scheduled_every_minute(self):
        import io

        from django.core.management import call_command
        from django_celery_beat.models import PeriodicTask

        call_command("setup_periodic_tasks", stdout=io.StringIO())
        task = PeriodicTask.objects.get(name="callkom: webhook retries")
        self.assertEqual((task.task, task.interval.every), ("webhooks.deliver_due", 60))
