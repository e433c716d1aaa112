"""Deliveries to a real local HTTP server: retries with backoff, the dead letter, idempotent redelivery, the SSRF
guard. No real waiting: a test moves a delivery's next attempt into the past, as time would."""

import datetime
import json
import ssl
import tempfile
from functools import partial
from pathlib import Path
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils import timezone

from tenants.testing import TwoTenantTestCase
from webhooks import selectors, services, transport
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import (
    MAX_ATTEMPTS,
    RETRY_DELAYS_S,
    delivery_attempt,
    delivery_redeliver,
    endpoint_create,
    endpoint_rotate_secret,
    event_emit,
    retry_delay_s,
)
from webhooks.signing import verify
from webhooks.tasks import webhook_deliver, webhooks_deliver_due

from .receiver import Receiver, self_signed_certificate

# Retries are scheduled from the clock (backoff, leases, a rotated secret's day of grace), and a signature carries
# its time.
pytestmark = pytest.mark.clock

Status = WebhookDelivery.Status
LOCAL = override_settings(WEBHOOKS_ALLOW_INSECURE=True, WEBHOOKS_ALLOW_PRIVATE=True)
DATA = {"call_id": "c1", "status": "completed"}


def make_due(delivery):
    """Let time pass: the delivery's next attempt is now due."""
    due = timezone.now() - datetime.timedelta(seconds=1)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=due)


@LOCAL
class DeliveryTests(TwoTenantTestCase):
    def endpoint(self, url, events=("call.completed",)):
        return endpoint_create(tenant=self.alpha, url=url, events=list(events))

    def emit(self, data=DATA):
        with self.captureOnCommitCallbacks(execute=True):
            return event_emit(tenant=self.alpha, event="call.completed", data=data)

    def test_a_failed_attempt_is_retried_with_backoff_then_succeeds_with_the_same_id_and_body(self):
        with Receiver([500, 200]) as receiver, self.in_alpha():
            endpoint = self.endpoint(receiver.url)
            # Eager Celery runs the countdown task at once: being early, it finds the delivery not due.
            with mock.patch.object(webhook_deliver, "apply_async", wraps=webhook_deliver.apply_async) as queue:
                [delivery] = self.emit()
            delivery.refresh_from_db()
            self.assertEqual((delivery.status, delivery.attempts, delivery.last_status_code),
                             (Status.RETRYING, 1, 500))
            self.assertEqual(len(receiver.requests), 1)
            retry = next(c for c in queue.call_args_list if "countdown" in c.kwargs)
            countdown = retry.kwargs["countdown"]
            self.assertTrue(27 <= countdown <= 33, countdown)
            wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
            self.assertTrue(countdown - 2 <= wait <= countdown, wait)
            self.assertEqual(retry.args[0], (self.alpha.pk, str(delivery.pk)))

            self.assertEqual(webhook_deliver.delay(self.alpha.pk, str(delivery.pk)).get(), Status.RETRYING)
            self.assertEqual(len(receiver.requests), 1, "an attempt that is not due yet sends nothing")

            make_due(delivery)
            with self.captureOnCommitCallbacks(execute=True):
                self.assertEqual(webhooks_deliver_due.delay().get(), 1)
        delivery.refresh_from_db()
        self.assertEqual((delivery.status, delivery.attempts, delivery.last_status_code), (Status.SUCCEEDED, 2, 200))
        self.assertIsNotNone(delivery.delivered_at)
        first, second = receiver.requests
        self.assertEqual(first.path, "/hooks/callkom?source=test")
        self.assertEqual(first.body, second.body)
        self.assertEqual(first.headers["Callkom-Delivery"], str(delivery.pk))
        self.assertEqual(second.headers["Callkom-Delivery"], str(delivery.pk))
        self.assertEqual(second.headers["Callkom-Event"], "call.completed")
        for request in (first, second):
            verify(endpoint.secret, request.body, request.headers["Callkom-Signature"])
        envelope = json.loads(second.body)
        self.assertEqual((envelope["id"], envelope["type"], envelope["tenant"], envelope["data"]),
                         (str(delivery.pk), "call.completed", "alpha", DATA))
        self.assertEqual(second.body.decode(), delivery.payload)

    def test_the_backoff_grows_with_jitter_and_stops_growing(self):
        for attempts, base in enumerate(RETRY_DELAYS_S, start=1):
            delays = {retry_delay_s(attempts) for _ in range(30)}
            self.assertTrue(all(0.9 * base - 1 <= d <= 1.1 * base + 1 for d in delays), (attempts, delays))
        self.assertLessEqual(retry_delay_s(50), 1.1 * RETRY_DELAYS_S[-1] + 1)
        self.assertEqual(RETRY_DELAYS_S[:4], (30, 120, 480, 1800))

    def test_after_the_last_attempt_the_delivery_is_dead_and_stays_dead(self):
        with Receiver([503]) as receiver, self.in_alpha():
            self.endpoint(receiver.url)
            [delivery] = self.emit()
            for _ in range(MAX_ATTEMPTS - 1):
                make_due(delivery)
                with self.captureOnCommitCallbacks(execute=True):
                    delivery = delivery_attempt(delivery=delivery)
            self.assertEqual((delivery.status, delivery.attempts), (Status.DEAD, MAX_ATTEMPTS))
            self.assertIsNone(delivery.next_attempt_at)
            self.assertEqual(delivery.last_error, "HTTP 503")
            self.assertEqual(len(receiver.requests), MAX_ATTEMPTS)
            delivery_attempt(delivery=delivery)
            self.assertEqual(len(receiver.requests), MAX_ATTEMPTS, "a dead delivery is not attempted again")

    def test_redelivery_sends_the_same_delivery_once_and_a_second_redelivery_sends_nothing(self):
        with Receiver([500, 500, 200]) as receiver, self.in_alpha():
            self.endpoint(receiver.url)
            [delivery] = self.emit()
            WebhookDelivery.objects.filter(pk=delivery.pk).update(status=Status.DEAD, next_attempt_at=None)
            delivery.refresh_from_db()

            with self.captureOnCommitCallbacks(execute=False) as queued:
                self.assertTrue(delivery_redeliver(delivery=delivery))
                self.assertFalse(delivery_redeliver(delivery=delivery), "a second click while queued")
            self.assertEqual(len(queued), 1)
            with self.captureOnCommitCallbacks(execute=True):
                for callback in queued:
                    callback()
            delivery.refresh_from_db()
            self.assertEqual(delivery.status, Status.RETRYING, "the redelivery got the second 500")

            WebhookDelivery.objects.filter(pk=delivery.pk).update(status=Status.DEAD, next_attempt_at=None)
            with self.captureOnCommitCallbacks(execute=True):
                self.assertTrue(delivery_redeliver(delivery=delivery))
            delivery.refresh_from_db()
            self.assertEqual(delivery.status, Status.SUCCEEDED)
            count = len(receiver.requests)
            with self.captureOnCommitCallbacks(execute=True):
                self.assertFalse(delivery_redeliver(delivery=delivery))
            self.assertEqual(delivery.status, Status.SUCCEEDED)
            self.assertEqual(len(receiver.requests), count, "a succeeded delivery is never sent again")
        self.assertEqual(count, 3)
        self.assertEqual({r.headers["Callkom-Delivery"] for r in receiver.requests}, {str(delivery.pk)})
        self.assertEqual({r.body for r in receiver.requests}, {delivery.payload.encode()})

    def test_an_attempt_in_flight_is_not_sent_twice(self):
        with Receiver([200]) as receiver, self.in_alpha():
            self.endpoint(receiver.url)
            with self.captureOnCommitCallbacks(execute=False):
                [delivery] = event_emit(tenant=self.alpha, event="call.completed", data=DATA)
            with mock.patch.object(transport, "post", side_effect=lambda *a, **k: delivery_attempt(
                    delivery=WebhookDelivery.objects.get(pk=delivery.pk)) and 200) as post:
                delivery_attempt(delivery=delivery)
            self.assertEqual(post.call_count, 1, "the nested attempt found the delivery claimed")

    def test_only_subscribed_active_endpoints_of_the_tenant_get_the_event(self):
        with self.in_alpha():
            subscribed = self.endpoint("https://93.184.216.34/a")
            self.endpoint("https://93.184.216.34/b", events=["report.ready"])
            inactive = self.endpoint("https://93.184.216.34/c")
            inactive.active = False
            inactive.save()
        with self.in_beta():
            endpoint_create(tenant=self.beta, url="https://93.184.216.34/beta", events=["call.completed"])
        with mock.patch.object(transport, "post", return_value=204):
            deliveries = self.emit()
        self.assertEqual([d.endpoint for d in deliveries], [subscribed])
        with self.in_alpha():
            self.assertEqual(WebhookDelivery.objects.get().status, Status.SUCCEEDED)

    def test_a_delivery_due_while_its_endpoint_is_inactive_is_not_sent_and_waits_for_redelivery(self):
        with self.in_alpha():
            endpoint = self.endpoint("https://93.184.216.34/a")
            with self.captureOnCommitCallbacks(execute=False):
                [delivery] = event_emit(tenant=self.alpha, event="call.completed", data=DATA)
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=False)
            with mock.patch.object(transport, "post") as post:
                delivery = delivery_attempt(delivery=WebhookDelivery.objects.get(pk=delivery.pk))
        post.assert_not_called()
        self.assertEqual((delivery.status, delivery.last_error), (Status.DEAD, "The endpoint is inactive."))

    def test_the_retry_sweep_skips_suspended_tenants(self):
        with self.in_alpha():
            self.endpoint("https://93.184.216.34/a")
            with self.captureOnCommitCallbacks(execute=False):
                [delivery] = event_emit(tenant=self.alpha, event="call.completed", data=DATA)
        self.assertEqual(selectors.due_deliveries(now=timezone.now()), [(self.alpha.pk, delivery.pk)])
        self.alpha.status = "suspended"
        self.alpha.save()
        self.assertEqual(selectors.due_deliveries(now=timezone.now()), [])

    def test_unknown_events_are_a_programming_error(self):
        with self.assertRaises(ValueError):
            event_emit(tenant=self.alpha, event="call.exploded", data={})

    def test_a_rotated_endpoint_signs_with_both_secrets_for_a_day(self):
        with Receiver([200]) as receiver, self.in_alpha():
            endpoint = self.endpoint(receiver.url)
            old = endpoint.secret
            endpoint_rotate_secret(endpoint=endpoint)
            self.assertNotEqual(endpoint.secret, old)
            self.emit()
            header = receiver.requests[0].headers["Callkom-Signature"]
            self.assertEqual(header.count("v1="), 2)
            verify(old, receiver.requests[0].body, header)
            verify(endpoint.secret, receiver.requests[0].body, header)
            later = endpoint.previous_secret_until + datetime.timedelta(seconds=1)
            self.assertEqual(services.signing_secrets(endpoint, later), [endpoint.secret])


@override_settings(WEBHOOKS_ALLOW_INSECURE=False, WEBHOOKS_ALLOW_PRIVATE=False)
class SsrfGuardTests(TwoTenantTestCase):
    def create(self, url):
        with self.in_alpha():
            return endpoint_create(tenant=self.alpha, url=url, events=["call.completed"])

    def assert_refused(self, url, message):
        with self.assertRaises(ValidationError) as refused:
            self.create(url)
        self.assertIn(message, " ".join(refused.exception.message_dict["url"]))

    def test_clear_text_urls_are_refused_unless_allowed(self):
        self.assert_refused("http://93.184.216.34/hook", "https://")
        with override_settings(WEBHOOKS_ALLOW_INSECURE=True):
            self.assertEqual(self.create("http://93.184.216.34/hook").url, "http://93.184.216.34/hook")

    def test_private_loopback_link_local_and_reserved_addresses_are_refused(self):
        for url in ["https://127.0.0.1/", "https://10.0.0.5/", "https://192.168.1.1:8443/x", "https://172.16.0.1/",
                    "https://169.254.169.254/latest/meta-data/", "https://[::1]/", "https://[fd00::1]/",
                    "https://[::ffff:127.0.0.1]/", "https://0.0.0.0/", "https://100.64.0.1/", "https://localhost/"]:
            with self.subTest(url=url):
                self.assert_refused(url, "private network")

    def test_a_name_is_judged_by_every_address_it_resolves_to(self):
        with mock.patch.object(transport, "resolve", return_value=["93.184.216.34", "10.0.0.7"]):
            self.assert_refused("https://hooks.example.com/", "private network")
        with mock.patch.object(transport, "resolve", return_value=["93.184.216.34"]):
            self.assertTrue(self.create("https://hooks.example.com/"))

    def test_a_name_that_does_not_resolve_yet_is_accepted_and_checked_at_delivery(self):
        with mock.patch.object(transport, "resolve", side_effect=OSError("no such host")):
            self.assertTrue(self.create("https://not-yet.example.com/"))

    def test_malformed_urls_and_credentials_are_refused(self):
        self.assert_refused("ftp://93.184.216.34/", "valid")
        self.assert_refused("not a url", "valid")
        self.assert_refused("https://user:pass@93.184.216.34/", "password")
        self.assert_refused("https://" + "é" * 62 + ".example/", "valid")

    def test_a_name_that_turns_private_after_creation_is_refused_at_delivery(self):
        with Receiver([200]) as receiver, override_settings(WEBHOOKS_ALLOW_INSECURE=True):
            url = f"http://hooks.example.test:{receiver.port}/in"
            with mock.patch.object(transport, "resolve", return_value=["93.184.216.34"]):
                self.create(url)
            with mock.patch.object(transport, "resolve", return_value=["127.0.0.1"]):
                with self.captureOnCommitCallbacks(execute=True), self.in_alpha():
                    [delivery] = event_emit(tenant=self.alpha, event="call.completed", data=DATA)
                with self.in_alpha():
                    delivery.refresh_from_db()
                self.assertEqual(receiver.requests, [])
                self.assertEqual(delivery.status, Status.RETRYING)
                self.assertIn("non-public address", delivery.last_error)

                with override_settings(WEBHOOKS_ALLOW_PRIVATE=True), self.in_alpha():
                    make_due(delivery)
                    delivery_attempt(delivery=delivery)
            self.assertEqual(delivery.status, Status.SUCCEEDED)
            # The connection went to the checked address, and the request still names the endpoint's host.
            self.assertEqual(receiver.requests[0].headers["Host"], f"hooks.example.test:{receiver.port}")


@override_settings(WEBHOOKS_ALLOW_PRIVATE=True)
class TlsTests(TwoTenantTestCase):
    def test_https_reaches_the_checked_address_and_verifies_the_certificate_of_the_urls_host(self):
        with tempfile.TemporaryDirectory() as tmp:
            cert, key = self_signed_certificate("hooks.example.test", Path(tmp))
            trusted = partial(ssl.create_default_context, cafile=str(cert))
            with Receiver([200], tls=(cert, key)) as receiver, self.in_alpha(), \
                    mock.patch.object(transport, "resolve", return_value=["127.0.0.1"]):
                endpoint_create(tenant=self.alpha, url=f"https://hooks.example.test:{receiver.port}/in",
                                events=["call.completed"])
                with self.captureOnCommitCallbacks(execute=True):
                    [delivery] = event_emit(tenant=self.alpha, event="call.completed", data=DATA)
                delivery.refresh_from_db()
                self.assertEqual(delivery.status, Status.RETRYING)
                self.assertIn("CERTIFICATE_VERIFY_FAILED", delivery.last_error)
                self.assertEqual(receiver.requests, [])

                make_due(delivery)
                with mock.patch.object(transport.ssl, "create_default_context", trusted):
                    delivery = delivery_attempt(delivery=delivery)
        self.assertEqual(delivery.status, Status.SUCCEEDED)
        self.assertEqual(receiver.requests[0].headers["Host"], f"hooks.example.test:{receiver.port}")
