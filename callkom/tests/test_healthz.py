import datetime

import pytest
from django.conf import settings
from django.test import TestCase

from callkom.tasks import heartbeat
from tenants.testing import frozen_at, require_service


class HealthzTests(TestCase):
    def test_reports_each_part(self):
        response = self.client.get("/healthz")
        self.assertEqual(response.status_code, 200)
        body = response.json()
        self.assertTrue(body["ok"])
        self.assertEqual(set(body["checks"]), {"database", "cache", "channel_layer", "broker"})
        self.assertTrue(all(check["ok"] for check in body["checks"].values()))

    @pytest.mark.clock  # the heartbeat's age is counted from the clock
    def test_heartbeat_age_appears_after_beat_ran(self):
        heartbeat.delay()
        self.assertLess(self.client.get("/healthz").json()["beat_heartbeat_age_s"], 60)

    def test_a_failing_part_makes_it_503(self):
        with self.settings(CHANNEL_LAYERS={"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                                        "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]}}}):
            from channels.layers import channel_layers

            channel_layers.backends.clear()
            try:
                response = self.client.get("/healthz")
            finally:
                channel_layers.backends.clear()
        self.assertEqual(response.status_code, 503)
        self.assertFalse(response.json()["checks"]["channel_layer"]["ok"])


class ServicesInUseTests(TestCase):
    def test_postgres_when_configured(self):
        require_service("PostgreSQL (DATABASE_URL)", bool(settings.DATABASE_URL))
        self.assertEqual(self.client.get("/healthz").json()["checks"]["database"]["detail"], "postgresql")

    def test_redis_when_configured(self):
        require_service("Redis (REDIS_URL)", bool(settings.REDIS_URL))
        checks = self.client.get("/healthz").json()["checks"]
        self.assertEqual(checks["channel_layer"]["detail"], "RedisChannelLayer")
        self.assertEqual(checks["cache"]["detail"], "RedisCache")
        self.assertEqual(checks["broker"]["detail"], "redis")


@frozen_at(datetime.datetime(2026, 11, 28, 10, 0, tzinfo=datetime.UTC))  # an age of exactly 30 s, however slow
class BeatSeenThroughTheDatabaseTests(TestCase):
    def test_beats_last_send_counts_when_no_shared_cache_holds_the_workers_stamp(self):
        import io

        from django.core.cache import caches
        from django.core.management import call_command
        from django.utils import timezone
        from django_celery_beat.models import PeriodicTask

        caches["default"].clear()  # no worker stamp, as in a web process with its own in-memory cache
        call_command("setup_periodic_tasks", stdout=io.StringIO())
        self.assertIsNone(self.client.get("/healthz").json()["beat_heartbeat_age_s"])
        PeriodicTask.objects.filter(name="callkom: heartbeat").update(
            last_run_at=timezone.now() - timezone.timedelta(seconds=30))
        self.assertEqual(self.client.get("/healthz").json()["beat_heartbeat_age_s"], 30)
