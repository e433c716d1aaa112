"""Shared test base: alice owns tenant Alpha, bob is a viewer in Alpha, charlie owns tenant Beta.

Charlie should have no access to Alpha's stuff: every portal page of Alpha answers him 404.
"""

import pytest
from django.conf import settings
from django.test import TestCase

from .roles import Role
from .scope import tenant_scope
from .services import membership_add, tenant_create, user_create

PASSWORD = "correct-horse-battery-staple"


def require_service(name: str, available: bool) -> None:
    """Skip a test whose service is not configured, or fail it when CI demands every service."""
    if available:
        return
    if settings.CALLKOM_REQUIRE_SERVICES:
        pytest.fail(f"{name} is required (CALLKOM_REQUIRE_SERVICES=1) but not configured.")
    pytest.skip(f"{name} not configured")


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
