"""Shared test base: alice owns tenant Alpha, bob is a viewer in Alpha, charlie owns tenant Beta.

Charlie should have no access to Alpha's stuff: every portal page of Alpha answers him 404.
"""

import os

import pytest
import time_machine
from django.conf import settings
from django.test import TestCase

from .roles import Role
from .scope import tenant_scope
from .services import membership_add, tenant_create, user_create

PASSWORD = "correct-horse-battery-staple"
FAKETIME_VARIABLES = ("LD_PRELOAD", "FAKETIME", "FAKETIME_DONT_FAKE_MONOTONIC", "FAKETIME_SHARED",
                      "DONT_FAKE_MONOTONIC")


def real_clock_environ() -> dict[str, str]:
    """This process's environment without faketime's variables: for a child that must run on the real clock
    when the suite runs under faketime (a browser, the project's own processes), not the code under test."""
    return {name: value for name, value in os.environ.items() if name not in FAKETIME_VARIABLES}


def require_service(name: str, available: bool) -> None:
    """Skip a test whose service is not configured, or fail it when CI demands every service."""
    if available:
        return
    if settings.CALLKOM_REQUIRE_SERVICES:
        pytest.fail(f"{name} is required (CALLKOM_REQUIRE_SERVICES=1) but not configured.")
    pytest.skip(f"{name} not configured")


def frozen_at(moment):
    """Decorate a test class (its ``setUpTestData`` included) or function: the clock stands still at ``moment``
    for everything it reaches (``timezone.now()``, model defaults, token and signature times), and the test is
    marked ``clock``. A test that pins a date pins it this way, never by passing ``now=`` alone."""

    def decorate(target):
        return pytest.mark.clock(time_machine.travel(moment, tick=False)(target))

    return decorate


class TwoTenantTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.alice = user_create(email="alice@alpha.example", password=PASSWORD, first_name="Alice")
        cls.bob = user_create(email="bob@alpha.example", password=PASSWORD, first_name="Bob")
        cls.charlie = user_create(email="charlie@beta.example", password=PASSWORD, first_name="Charlie")
        cls.alpha = tenant_create(name="Alpha", slug="alpha", legal_name="Alpha SAS", owner=cls.alice,
                                  dpo_email="dpo@alpha.example")
        cls.beta = tenant_create(name="Beta", slug="beta", legal_name="Beta SARL", owner=cls.charlie)
        with tenant_scope(cls.alpha):
            membership_add(tenant=cls.alpha, user=cls.bob, role=Role.VIEWER)

    def login(self, user):
        self.client.force_login(user)

    def in_alpha(self):
        return tenant_scope(self.alpha)

    def in_beta(self):
        return tenant_scope(self.beta)


def drain_channel(name: str, timeout: float = 0.3) -> list[dict]:
    """Return the messages waiting on a channel of the configured layer (in-memory or Redis alike)."""
    import asyncio

    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()

    async def collect():
        messages = []
        while True:
            try:
                messages.append(await asyncio.wait_for(layer.receive(name), timeout))
            except TimeoutError:
                return messages

    return async_to_sync(collect)()


class ApiTestCase(TwoTenantTestCase):
    """For the partner API: ``key(tenant, *scopes)`` makes a key, ``api(method, path, key, data)`` calls with it,
    ``assert_problem(response, status)`` checks an RFC 9457 error, and ``assert_isolated(method, path, scopes)``
    checks the two rules of every tenant-owned endpoint: another tenant's key gets 404, a key without the scopes
    gets 403 (and nothing changes)."""

    def setUp(self):
        super().setUp()
        from django.core.cache import cache

        cache.clear()  # throttling budgets

    def key(self, tenant, *scopes) -> str:
        from .services import api_key_create

        return api_key_create(tenant=tenant, name="test", scopes=list(scopes) or ["calls:read"])[1]

    def api(self, method: str, path: str, key: str | None, data=None, **headers):
        if key:
            headers["HTTP_AUTHORIZATION"] = f"Api-Key {key}"
        call = getattr(self.client, method.lower())
        if method.upper() == "GET":
            return call(path, data or {}, **headers)
        return call(path, data if data is not None else {}, content_type="application/json", **headers)

    def assert_problem(self, response, status: int):
        from .api_support import PROBLEM_JSON

        self.assertEqual(response.status_code, status, response.content[:500])
        self.assertEqual(response["Content-Type"], PROBLEM_JSON)
        body = response.json()
        self.assertEqual(body["status"], status)
        return body

    def assert_isolated(self, method: str, path: str, scopes: list[str], data=None, other_scopes=None):
        """``path`` is Alpha's object: Beta's key (with every needed scope) gets 404; an Alpha key holding every
        scope but the needed ones gets 403 naming them."""
        from .models import ApiScope

        beta = self.key(self.beta, *(other_scopes or scopes))
        self.assert_problem(self.api(method, path, beta, data), 404)
        others = [scope for scope in ApiScope.values if scope not in scopes]
        lacking = self.key(self.alpha, *others)
        body = self.assert_problem(self.api(method, path, lacking, data), 403)
        self.assertEqual(sorted(body["missing_scopes"]), sorted(scopes))
