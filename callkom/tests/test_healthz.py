from django.conf import settings
from django.test import TestCase

from callkom.tasks import heartbeat
from tenants.testing import require_service


class HealthzTests(TestCase):
    def test_reports_each_part(self):
        response = self.client.get("/healthz")
        self.assertEqual(response.status_code, 200)
        body = response.json()
        self.assertTrue(body["ok"])
        self.assertEqual(set(body["checks"]), {"database", "cache", "channel_layer", "broker"})
        self.assertTrue(all(check["ok"] for check in body["checks"].values()))

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
