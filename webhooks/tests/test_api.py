"""/api/v1/webhook-endpoints/: endpoints (the secret shown once), rotation, test delivery, deliveries; webhooks:write
for everything; tenant isolation."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tenants.testing import ApiTestCase
from webhooks.models import Event, WebhookDelivery, WebhookEndpoint
from webhooks.services import endpoint_create, event_emit

URL = "/api/v1/webhook-endpoints/"
SCOPE = ["webhooks:write"]
PUBLIC = "https://93.184.216.34/hooks"
Status = WebhookDelivery.Status


class WebhookApiTestCase(ApiTestCase):
    def setUp(self):
        super().setUp()
        with self.in_alpha():
            self.endpoint = endpoint_create(tenant=self.alpha, url=PUBLIC, events=["call.completed"],
                                            description="CRM")
        self.writer = self.key(self.alpha, "webhooks:write")
        self.url = f"{URL}{self.endpoint.pk}/"


class EndpointTests(WebhookApiTestCase):
    def test_the_list_never_shows_a_secret(self):
        response = self.api("get", URL, self.writer)
        self.assertEqual(response.status_code, 200, response.content)
        [row] = response.json()["results"]
        self.assertEqual((row["id"], row["url"], row["events"], row["active"], row["dead_count"]),
                         (self.endpoint.pk, PUBLIC, ["call.completed"], True, 0))
        self.assertNotIn("secret", row)
        self.assertNotIn(self.endpoint.secret, response.content.decode())

    def test_reading_needs_webhooks_write_too(self):
        body = self.assert_problem(self.api("get", URL, self.key(self.alpha, "calls:read", "rights:read")), 403)
        self.assertEqual(body["missing_scopes"], SCOPE)
        self.assertEqual(self.api("get", URL, self.key(self.beta, "webhooks:write")).json()["results"], [])
        self.assert_isolated("get", self.url, SCOPE)

    def test_the_list_costs_the_same_number_of_queries_for_2_and_12_endpoints(self):
        def count_queries(n):
            with self.in_alpha():
                WebhookEndpoint.objects.all().delete()
                for i in range(n):
                    endpoint = endpoint_create(tenant=self.alpha, url=f"{PUBLIC}/{i}", events=["report.ready"])
                    WebhookDelivery.objects.create(tenant=self.alpha, endpoint=endpoint, event="report.ready",
                                                   payload="{}", status=Status.DEAD)
            self.api("get", URL, self.writer)
            with CaptureQueriesContext(connection) as queries:
                response = self.api("get", URL, self.writer)
            self.assertEqual([row["dead_count"] for row in response.json()["results"]], [1] * n)
            return len(queries)

        self.assertEqual(count_queries(2), count_queries(12))

    def test_create_answers_the_secret_once(self):
        data = {"url": "https://93.184.216.35/in", "events": ["report.ready", "call.completed"], "description": "BI"}
        response = self.api("post", URL, self.writer, data)
        self.assertEqual(response.status_code, 201, response.content)
        body = response.json()
        self.assertTrue(body["secret"].startswith("whsec_"))
        self.assertEqual((body["events"], body["active"]), (["call.completed", "report.ready"], True))
        with self.in_alpha():
            created = WebhookEndpoint.objects.get(pk=body["id"])
        self.assertEqual((created.secret, created.created_by), (body["secret"], None))
        again = self.api("get", f"{URL}{created.pk}/", self.writer)
        self.assertNotIn("secret", again.json())
        self.assertNotIn(body["secret"], again.content.decode())

    def test_the_services_url_checks_and_bad_input_are_400(self):
        cases = [
            ({"url": "http://93.184.216.35/in"}, "url"),
            ({"url": "https://10.0.0.1/in"}, "url"),
            ({"url": "https://127.0.0.1/in"}, "url"),
            ({"url": "https://user:pw@93.184.216.35/in"}, "url"),
            ({"url": "not a url"}, "url"),
            ({"events": ["ping"]}, "events"),
            ({"events": []}, "events"),
            ({"events": "call.completed"}, "events"),
            ({"description": "x" * 201}, "description"),
        ]
        for overrides, field in cases:
            with self.subTest(overrides=overrides):
                data = {"url": "https://93.184.216.35/in", "events": ["call.completed"], **overrides}
                body = self.assert_problem(self.api("post", URL, self.writer, data), 400)
                self.assertIn(field, {item["field"].split(".")[0].split("[")[0] for item in body["errors"]})
        with self.in_alpha():
            self.assertEqual(WebhookEndpoint.objects.count(), 1)

    def test_partial_update(self):
        response = self.api("patch", self.url, self.writer, {"active": False, "events": ["report.ready"]})
        self.assertEqual(response.status_code, 200, response.content)
        body = response.json()
        self.assertEqual((body["active"], body["events"], body["url"], body["description"]),
                         (False, ["report.ready"], PUBLIC, "CRM"))
        body = self.assert_problem(self.api("patch", self.url, self.writer, {"url": "https://192.168.1.1/x"}), 400)
        self.assertEqual([item["field"] for item in body["errors"]], ["url"])
        self.assert_isolated("patch", self.url, SCOPE, {"description": "Nope"})
        with self.in_alpha():
            self.assertEqual(WebhookEndpoint.objects.get().description, "CRM")
        self.assert_problem(self.api("put", self.url, self.writer, {"url": PUBLIC, "events": ["ping"]}), 405)

    def test_delete(self):
        self.assert_isolated("delete", self.url, SCOPE)
        response = self.api("delete", self.url, self.writer)
        self.assertEqual(response.status_code, 204)
        with self.in_alpha():
            self.assertFalse(WebhookEndpoint.objects.exists())
        self.assert_problem(self.api("delete", self.url, self.writer), 404)

    @pytest.mark.clock  # the old secret's day of grace is counted from now
    def test_rotate_the_secret_the_old_one_signs_for_a_day(self):
        old = self.endpoint.secret
        response = self.api("post", f"{self.url}rotate-secret/", self.writer)
        self.assertEqual(response.status_code, 200, response.content)
        body = response.json()
        self.assertNotEqual(body["secret"], old)
        with self.in_alpha():
            endpoint = WebhookEndpoint.objects.get()
        self.assertEqual((endpoint.secret, endpoint.previous_secret), (body["secret"], old))
        until = datetime.datetime.fromisoformat(body["previous_secret_until"].replace("Z", "+00:00"))
        self.assertAlmostEqual((until - timezone.now()).total_seconds(), 24 * 3600, delta=60)
        self.assertNotIn("secret", self.api("get", self.url, self.writer).json())
        self.assert_isolated("post", f"{self.url}rotate-secret/", SCOPE)
        with self.in_alpha():
            self.assertEqual(WebhookEndpoint.objects.get().secret, body["secret"])


class DeliveryTests(WebhookApiTestCase):
    def test_a_test_delivery_is_a_ping_and_answers_202(self):
        response = self.api("post", f"{self.url}test/", self.writer)
        self.assertEqual(response.status_code, 202, response.content)
        body = response.json()
        self.assertEqual((body["event"], body["status"], body["endpoint"]), ("ping", "pending", self.endpoint.pk))
        self.assertNotIn("payload", body)
        with self.in_alpha():
            delivery = WebhookDelivery.objects.get()
        self.assertEqual((str(delivery.pk), delivery.event), (body["id"], Event.PING))
        self.assert_isolated("post", f"{self.url}test/", SCOPE)
        with self.in_alpha():
            self.assertEqual(WebhookDelivery.objects.count(), 1)

    @pytest.mark.clock  # newest first, one delivery moved a day ahead of now
    def test_the_deliveries_of_an_endpoint_without_their_payload(self):
        with self.in_alpha():
            [first] = event_emit(tenant=self.alpha, event="call.completed", data={"name": "Jean Martin"})
            [second] = event_emit(tenant=self.alpha, event="call.completed", data={"name": "Marie Curie"})
            WebhookDelivery.objects.filter(pk=first.pk).update(status=Status.DEAD, attempts=9, last_status_code=502,
                                                               last_error="HTTP 502", next_attempt_at=None)
            other = endpoint_create(tenant=self.alpha, url=f"{PUBLIC}/other", events=["call.completed"])
            WebhookDelivery.objects.filter(pk=second.pk).update(created_at=timezone.now() + datetime.timedelta(1))
        response = self.api("get", f"{self.url}deliveries/", self.writer)
        self.assertEqual(response.status_code, 200, response.content)
        rows = response.json()["results"]
        self.assertEqual([row["id"] for row in rows], [str(second.pk), str(first.pk)])
        self.assertEqual((rows[1]["status"], rows[1]["attempts"], rows[1]["last_status_code"]), ("dead", 9, 502))
        self.assertNotIn("Jean Martin", response.content.decode())
        self.assertNotIn("payload", rows[0])
        dead = self.api("get", f"{self.url}deliveries/", self.writer, {"status": "dead"}).json()["results"]
        self.assertEqual([row["id"] for row in dead], [str(first.pk)])
        self.assertEqual(self.api("get", f"{self.url}deliveries/", self.writer, {"event": "ping"}).json()["results"],
                         [])
        self.assertEqual(self.api("get", f"{URL}{other.pk}/deliveries/", self.writer).json()["results"], [])
        self.assert_problem(self.api("get", f"{self.url}deliveries/", self.writer, {"status": "lost"}), 400)
        self.assert_isolated("get", f"{self.url}deliveries/", SCOPE)
        self.assert_problem(self.api("get", f"{URL}abc/deliveries/", self.writer), 404)

    def test_the_deliveries_cost_the_same_number_of_queries_for_2_and_12(self):
        def count_queries(n):
            with self.in_alpha():
                WebhookDelivery.objects.all().delete()
                for _ in range(n):
                    event_emit(tenant=self.alpha, event="call.completed", data={})
            self.api("get", f"{self.url}deliveries/", self.writer)
            with CaptureQueriesContext(connection) as queries:
                response = self.api("get", f"{self.url}deliveries/", self.writer)
            self.assertEqual(len(response.json()["results"]), n)
            return len(queries)

        self.assertEqual(count_queries(2), count_queries(12))
