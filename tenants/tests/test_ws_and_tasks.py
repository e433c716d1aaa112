import pytest
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.urls import path

from tenants.models import Membership
from tenants.scope import ScopeError, current_tenant
from tenants.services import tenant_create
from tenants.tasks import tenant_task
from tenants.ws import TenantTokenMiddleware, ws_token


class CountMembers(AsyncJsonWebsocketConsumer):
    async def connect(self):
        await self.accept()
        await self.send_json({"members": await Membership.objects.acount(), "tenant": self.scope["tenant"].slug})


app = TenantTokenMiddleware(URLRouter([path("ws/test/<str:name>/", CountMembers.as_asgi())]))


@pytest.fixture
def tenants(db):
    return tenant_create(name="One", slug="one", legal_name="One"), tenant_create(name="Two", slug="two",
                                                                                   legal_name="Two")


async def connect(path, token):
    communicator = WebsocketCommunicator(app, f"{path}?token={token}")
    connected, code = await communicator.connect(timeout=10)
    return communicator, connected, code


@pytest.mark.django_db(transaction=True)
async def test_a_valid_token_opens_its_tenants_scope(tenants):
    one, _two = tenants
    communicator, connected, _ = await connect("/ws/test/a/", ws_token(tenant=one, path="/ws/test/a/"))
    assert connected
    assert await communicator.receive_json_from(timeout=10) == {"members": 0, "tenant": "one"}
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("case", ["missing", "forged", "other-path"])
async def test_a_bad_token_is_closed_with_a_policy_code(tenants, case):
    one, _two = tenants
    token = {"missing": "", "forged": "abc:def", "other-path": ws_token(tenant=one, path="/ws/test/b/")}[case]
    communicator, connected, _ = await connect("/ws/test/a/", token)
    assert connected  # accepted only to say why it is closed
    assert (await communicator.receive_output(10))["code"] == 4403


@tenant_task()
def count_members(tenant):
    return tenant.slug, current_tenant() == tenant, Membership.objects.count()


@pytest.mark.django_db
def test_tenant_task_runs_in_the_tenants_scope(tenants):
    one, _two = tenants
    assert count_members.delay(one.pk).get() == ("one", True, 0)
    with pytest.raises(ScopeError):
        Membership.objects.count()


@pytest.mark.django_db
def test_tenant_task_for_a_missing_tenant_does_nothing():
    assert count_members.delay(999_999).get() is None
