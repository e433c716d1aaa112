"""Subscriptions to the register's change notices: double opt-in, throttling, one-click unsubscription."""

import datetime
import logging
import re
import time
from unittest import mock

import pytest
import time_machine
from django.conf import settings
from django.core import mail, signing
from django.core.cache import cache
from django.test import Client, TestCase
from django.utils import timezone

from subprocessors import subscriptions
from subprocessors.mailing import unsubscribe_url
from subprocessors.models import Subscriber
from subprocessors.public_views import SUBSCRIBE_PER_IP
from tenants.crypto import email_index

# Confirmation links expire after 48 hours, a confirmation is resent after 10 minutes, one address subscribes so
# many times an hour, unconfirmed addresses are purged: all counted from the clock.
pytestmark = pytest.mark.clock

SUBSCRIBE = "/subprocessors/subscribe/"
EMAIL = "Claire.Dubois@Example.org"


def without_csrf(content: bytes) -> bytes:
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", content)


def path_of(url: str) -> str:
    assert url.startswith(settings.CALLKOM_PUBLIC_URL)
    return url[len(settings.CALLKOM_PUBLIC_URL):]


def confirm_link(message) -> str:
    match = re.search(r"^(\S+/subprocessors/subscribe/\S+/)$", message.body, re.MULTILINE)
    assert match, message.body
    return path_of(match.group(1))


class RecordingHandler(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)


class SubscriptionTests(TestCase):
    def setUp(self):
        cache.clear()
        self.addCleanup(cache.clear)

    def subscribe(self, email=EMAIL, ip="198.51.100.7", client=None, **extra):
        data = {"email": email, "website": ""}
        data.update(extra.pop("data", {}))
        with self.captureOnCommitCallbacks(execute=True):
            return (client or self.client).post(SUBSCRIBE, data, REMOTE_ADDR=ip, **extra)

    def subscriber(self, email=EMAIL) -> Subscriber:
        return Subscriber.objects.get(email_index=email_index(email))

    def test_the_whole_double_opt_in(self):
        response = self.subscribe(HTTP_ACCEPT_LANGUAGE="fr")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "lang=\"fr\"")
        subscriber = self.subscriber()
        self.assertEqual(subscriber.email, EMAIL.lower())
        self.assertEqual(subscriber.language, "fr")
        self.assertIsNotNone(subscriber.confirmation_sent_at)
        self.assertFalse(subscriber.active)
        self.assertEqual(len(mail.outbox), 1)
        message = mail.outbox[0]
        self.assertEqual(message.to, [EMAIL.lower()])
        self.assertEqual(message.reply_to, [settings.PRIVACY_CONTACT_EMAIL])
        link = confirm_link(message)
        self.assertIn("48", message.body)

        # A GET (a mail scanner, a preview) shows the button and changes nothing.
        page = self.client.get(link)
        self.assertContains(page, "<form method=\"post\">")
        self.assertFalse(self.subscriber().active)

        # The POST needs the page's CSRF token, like any form.
        strict = Client(enforce_csrf_checks=True)
        self.assertEqual(strict.post(link).status_code, 403)
        self.assertFalse(self.subscriber().active)
        form = strict.get(link)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.content.decode()).group(1)
        done = strict.post(link, {"csrfmiddlewaretoken": token})
        self.assertEqual(done.status_code, 200)
        subscriber = self.subscriber()
        self.assertTrue(subscriber.active)
        self.assertIsNone(subscriber.unsubscribed_at)
        confirmed_at = subscriber.confirmed_at
        # Confirming twice changes nothing.
        self.client.post(link)
        self.assertEqual(self.subscriber().confirmed_at, confirmed_at)

    def test_an_expired_or_forged_link_is_a_clear_400_and_confirms_nothing(self):
        self.subscribe()
        subscriber = self.subscriber()
        signed_at = time.time() - subscriptions.CONFIRM_MAX_AGE.total_seconds() - 60
        with time_machine.travel(signed_at, tick=False):
            expired = signing.dumps(subscriber.pk, salt=subscriptions.CONFIRM_SALT)
        with time_machine.travel(signed_at + 120, tick=False):
            still_valid = signing.dumps(subscriber.pk, salt=subscriptions.CONFIRM_SALT)
        unsubscribe_token = path_of(unsubscribe_url(subscriber)).split("/")[-2]
        for token in (expired, "not-a-token", expired[:-3] + "abc", unsubscribe_token):
            for method in (self.client.get, self.client.post):
                response = method(f"/subprocessors/subscribe/{token}/")
                self.assertContains(response, "This link does not work", status_code=400)
        self.assertFalse(self.subscriber().active)
        self.assertEqual(self.client.post(f"/subprocessors/subscribe/{still_valid}/").status_code, 200)
        self.assertTrue(self.subscriber().active)

    def test_a_link_to_a_deleted_subscriber_is_a_400(self):
        self.subscribe()
        link = confirm_link(mail.outbox[0])
        Subscriber.objects.all().delete()
        self.assertEqual(self.client.post(link).status_code, 400)

    def test_one_click_unsubscribe_works_without_csrf_token(self):
        self.subscribe()
        self.client.post(confirm_link(mail.outbox[0]))
        subscriber = self.subscriber()
        self.assertTrue(subscriber.active)
        url = path_of(unsubscribe_url(subscriber))
        strict = Client(enforce_csrf_checks=True)
        page = strict.get(url)
        self.assertContains(page, "<form method=\"post\">")
        self.assertTrue(self.subscriber().active)  # a GET changes nothing
        response = strict.post(url, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
        self.assertEqual(response.status_code, 200)
        subscriber = self.subscriber()
        self.assertFalse(subscriber.active)
        self.assertIsNotNone(subscriber.unsubscribed_at)
        self.assertEqual(strict.post("/subprocessors/unsubscribe/forged/").status_code, 400)

    def test_subscribing_again_after_unsubscribing_needs_a_new_confirmation(self):
        self.subscribe()
        self.client.post(confirm_link(mail.outbox[0]))
        subscriptions.subscription_cancel(subscriber=self.subscriber())
        Subscriber.objects.update(confirmation_sent_at=timezone.now() - datetime.timedelta(hours=1))
        self.subscribe()
        self.assertEqual(len(mail.outbox), 2)
        self.assertFalse(self.subscriber().active)
        self.client.post(confirm_link(mail.outbox[1]))
        subscriber = self.subscriber()
        self.assertTrue(subscriber.active)
        self.assertIsNone(subscriber.unsubscribed_at)

    def test_a_filled_honeypot_sends_nothing_but_answers_the_same(self):
        normal = self.subscribe(email="someone@example.org")
        robot = self.subscribe(email="robot@example.org", data={"website": "http://spam.example"})
        self.assertEqual(robot.status_code, normal.status_code)
        self.assertEqual(without_csrf(robot.content), without_csrf(normal.content))
        self.assertEqual([message.to for message in mail.outbox], [["someone@example.org"]])
        self.assertFalse(Subscriber.objects.filter(email_index=email_index("robot@example.org")).exists())

    def test_the_answer_is_the_same_for_a_new_a_pending_and_a_subscribed_address(self):
        pages = [self.subscribe()]  # new
        pages.append(self.subscribe())  # pending, within ten minutes
        self.client.post(confirm_link(mail.outbox[0]))
        pages.append(self.subscribe())  # subscribed
        self.assertEqual({page.status_code for page in pages}, {200})
        self.assertEqual(len({without_csrf(page.content) for page in pages}), 1)
        self.assertEqual(len(mail.outbox), 1)  # an active subscriber is not mailed again

    def test_a_repeated_subscription_within_ten_minutes_sends_one_mail(self):
        for _ in range(3):
            self.subscribe()
        self.subscribe(email=EMAIL.upper())  # the same address, written differently
        self.assertEqual(len(mail.outbox), 1)
        self.assertEqual(Subscriber.objects.count(), 1)
        later = timezone.now() + subscriptions.RESEND_AFTER + datetime.timedelta(seconds=1)
        with time_machine.travel(later, tick=False):
            self.subscribe()
        self.assertEqual(len(mail.outbox), 2)
        # Both links confirm the same subscriber.
        self.assertEqual(self.client.post(confirm_link(mail.outbox[0])).status_code, 200)
        self.assertTrue(self.subscriber().active)

    def test_a_bad_address_is_a_form_error(self):
        for value in ("not an address", "", "a@b"):
            response = self.subscribe(email=value)
            self.assertEqual(response.status_code, 400)
            self.assertContains(response, 'class="errorlist"', status_code=400)
            self.assertContains(response, 'name="email"', status_code=400)
        self.assertEqual(Subscriber.objects.count(), 0)
        self.assertEqual(mail.outbox, [])

    def test_the_subscribe_page_shows_the_form(self):
        response = self.client.get(SUBSCRIBE)
        self.assertContains(response, 'name="email"')
        self.assertContains(response, 'class="hp" aria-hidden="true"')
        self.assertContains(response, '<label for="subscribe_email">')

    def test_one_client_address_is_limited_per_hour(self):
        for number in range(SUBSCRIBE_PER_IP[0]):
            self.assertEqual(self.subscribe(email=f"p{number}@example.org").status_code, 200)
        refused = self.subscribe(email="one-more@example.org")
        self.assertContains(refused, "Too many requests", status_code=429)
        self.assertFalse(Subscriber.objects.filter(email_index=email_index("one-more@example.org")).exists())
        self.assertEqual(self.subscribe(email="elsewhere@example.org", ip="192.0.2.1").status_code, 200)
        self.assertEqual(len(mail.outbox), SUBSCRIBE_PER_IP[0] + 1)

    def test_nothing_about_the_address_is_logged(self):
        handler = RecordingHandler()
        root = logging.getLogger()
        root.addHandler(handler)
        previous = root.level
        root.setLevel(logging.DEBUG)
        self.addCleanup(root.setLevel, previous)
        self.addCleanup(root.removeHandler, handler)
        self.subscribe()
        self.subscribe(email="bad address")
        self.client.post(confirm_link(mail.outbox[0]))
        self.client.post(path_of(unsubscribe_url(self.subscriber())))
        with mock.patch("django.core.mail.EmailMessage.send", side_effect=OSError(f"refused {EMAIL.lower()}")):
            Subscriber.objects.update(confirmation_sent_at=None, confirmed_at=None)
            self.subscribe()
        logged = " ".join(record.getMessage() for record in handler.records).lower()
        self.assertIn("confirmation e-mail failed", logged)
        self.assertNotIn(EMAIL.lower(), logged)
        self.assertNotIn("claire", logged)

    def test_unconfirmed_subscribers_are_purged_once_their_link_has_expired(self):
        old = timezone.now() - subscriptions.CONFIRM_MAX_AGE - datetime.timedelta(hours=1)
        stale = Subscriber.objects.create(email="stale@example.org", email_index=email_index("stale@example.org"),
                                          created_at=old, confirmation_sent_at=old)
        fresh = Subscriber.objects.create(email="fresh@example.org", email_index=email_index("fresh@example.org"),
                                          created_at=old, confirmation_sent_at=timezone.now())
        confirmed = Subscriber.objects.create(email="ok@example.org", email_index=email_index("ok@example.org"),
                                              created_at=old, confirmation_sent_at=old, confirmed_at=old)
        self.assertEqual(subscriptions.subscription_purge_unconfirmed(), 1)
        self.assertEqual(set(Subscriber.objects.values_list("pk", flat=True)), {fresh.pk, confirmed.pk})
        self.assertFalse(Subscriber.objects.filter(pk=stale.pk).exists())
