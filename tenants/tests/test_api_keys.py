import datetime
import io

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from tenants.models import ApiKey
from tenants.scope import all_tenants_scope
from tenants.services import api_key_create, api_key_revoke
from tenants.testing import TwoTenantTestCase


class ApiKeyTests(TwoTenantTestCase):
    def make_key(self, tenant=None, **kwargs):
        kwargs.setdefault("scopes", ["calls:read"])
        return api_key_create(tenant=tenant or self.alpha, name="CRM", **kwargs)

    def call(self, raw):
        return APIClient().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Api-Key {raw}")

    def test_key_is_never_stored_in_clear(self):
        key, raw = self.make_key()
        out = io.StringIO()
        with all_tenants_scope("test"):
            call_command("dumpdata", "tenants", "auditlog", use_base_manager=True, stdout=out)
        dump = out.getvalue()
        self.assertNotIn(raw, dump)
        self.assertNotIn(raw.split("_", 2)[2], dump)
        self.assertIn(key.prefix, dump)

    def test_a_live_key_reaches_its_own_tenant(self):
        _key, raw = self.make_key(tenant=self.beta)
        response = self.call(raw)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["tenant"], "beta")

    @pytest.mark.clock  # a key expired yesterday
    def test_refused_keys_get_401_with_a_message(self):
        _revoked, revoked_raw = self.make_key()
        with self.in_alpha():
            api_key_revoke(api_key=_revoked)
        expired, expired_raw = self.make_key()
        ApiKey._base_manager.filter(pk=expired.pk).update(expires_at=timezone.now() - datetime.timedelta(days=1))
        _key, raw = self.make_key()
        cases = {
            revoked_raw: "revoked",
            expired_raw: "expired",
            raw[:-2] + "xx": "Invalid API key",
            "not-a-key": "Malformed",
        }
        for value, message in cases.items():
            response = self.call(value)
            self.assertEqual(response.status_code, 401, value)
            self.assertIn(message, response.json()["detail"])
            self.assertEqual(response["WWW-Authenticate"], "Api-Key")

    def test_no_key_is_401(self):
        response = APIClient().get("/api/v1/me/")
        self.assertEqual(response.status_code, 401)
        self.assertIn("Api-Key", response.json()["detail"])

    def test_suspended_tenant_key_is_refused(self):
        _key, raw = self.make_key()
        self.alpha.status = "suspended"
        self.alpha.save()
        self.assertIn("suspended", self.call(raw).json()["detail"])

    @pytest.mark.clock  # a use is noted once per resolution period, counted from the clock
    def test_last_use_is_noted(self):
        key, raw = self.make_key()
        self.call(raw)
        key.refresh_from_db()
        self.assertIsNotNone(key.last_used_at)

    def test_portal_shows_a_new_key_once_and_revokes(self):
        self.login(self.alice)
        response = self.client.post("/t/alpha/api-keys/", {"name": "Zapier", "scopes": ["calls:read", "reports:read"]})
        raw = response.context["new_key"]
        self.assertContains(response, raw)
        self.assertEqual(self.call(raw).status_code, 200)
        self.assertNotContains(self.client.get("/t/alpha/api-keys/"), raw)
        with self.in_alpha():
            key = ApiKey.objects.get(name="Zapier")
        self.client.post(f"/t/alpha/api-keys/{key.pk}/revoke/")
        self.assertEqual(self.call(raw).status_code, 401)

    @pytest.mark.clock  # an expiry must be in the future
    def test_portal_refuses_bad_scopes_and_past_expiry(self):
        self.login(self.alice)
        response = self.client.post("/t/alpha/api-keys/", {"name": "X", "scopes": ["root"]})
        self.assertContains(response, "errorlist")
        response = self.client.post("/t/alpha/api-keys/", {"name": "X", "scopes": ["calls:read"],
                                                           "expires_at": "2001-01-01T00:00"})
        self.assertContains(response, "in the future")
        with self.in_alpha():
            self.assertFalse(ApiKey.objects.exists())

    def test_revoking_another_tenants_key_is_404(self):
        key, raw = self.make_key(tenant=self.beta)
        self.login(self.alice)
        self.assertEqual(self.client.post(f"/t/alpha/api-keys/{key.pk}/revoke/").status_code, 404)
        self.assertEqual(self.call(raw).status_code, 200)

    def test_create_api_key_command_prints_the_key_last(self):
        out = io.StringIO()
        call_command("create_api_key", "--tenant", "alpha", "--scopes", "calls:read,calls:write", stdout=out)
        raw = out.getvalue().strip().splitlines()[-1]
        self.assertEqual(self.call(raw).json()["scopes"], ["calls:read", "calls:write"])
