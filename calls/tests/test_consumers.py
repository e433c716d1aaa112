"""The call's WebSockets: media (token-bound) and live (members only), through the project's ASGI routing."""

import json

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore

from callkom.routing import websocket_urlpatterns
from calls import services
from calls.consumers import MediaStreamConsumer
from calls.models import Call, SupervisorAction
from subprocessors.services import subprocessor_seed_defaults
from tenants.roles import Role
from tenants.scope import tenant_scope
from tenants.services import membership_add, tenant_create, user_create
from tenants.ws import ws_token
from voice.audio import tone
from voice.gateway import reset_breakers

pytestmark = pytest.mark.django_db(transaction=True)
application = URLRouter(websocket_urlpatterns)


@pytest.fixture(autouse=True)
def fake_providers(monkeypatch):
    reset_breakers()
    monkeypatch.setattr(MediaStreamConsumer, "provider_mode", "fake")


@pytest.fixture
def world():
    alice = user_create(email="alice@alpha.example", password="x" * 12)
    bob = user_create(email="bob@alpha.example", password="x" * 12)
    charlie = user_create(email="charlie@beta.example", password="x" * 12)
    alpha = tenant_create(name="Alpha", slug="alpha", legal_name="Alpha", owner=alice)
    tenant_create(name="Beta", slug="beta", legal_name="Beta", owner=charlie)
    membership_add(tenant=alpha, user=bob, role=Role.VIEWER)
    subprocessor_seed_defaults()
    with tenant_scope(alpha):
        script = services.demo_scripts_ensure(tenant=alpha)[0]
        call = services.call_create(tenant=alpha, script=script, direction=Call.Direction.INBOUND,
                                    channel=Call.Channel.WEB)
    return {"alice": alice, "bob": bob, "charlie": charlie, "alpha": alpha, "call": call}


def media_path(call):
    return f"/ws/calls/{call.pk}/media/"


async def open_media(call, tenant, token=None):
    path = media_path(call)
    token = ws_token(tenant=tenant, path=path) if token is None else token
    communicator = WebsocketCommunicator(application, f"{path}?token={token}")
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    return communicator


async def receive_until(communicator, kind, timeout=20):
    seen = []
    while True:
        output = await communicator.receive_output(timeout)
        if output["type"] == "websocket.close":
            raise AssertionError(f"closed before {kind}; saw {seen}")
        if output.get("text") is None:
            continue
        message = json.loads(output["text"])
        seen.append(message)
        if message["type"] == kind or (message["type"] == "event" and message["event"]["type"] == kind):
            return message, seen


async def test_a_typed_call_over_the_media_socket_ends_with_a_report(world):
    communicator = await open_media(world["call"], world["alpha"])
    await communicator.send_json_to({"type": "start"})
    await receive_until(communicator, "started")
    await communicator.send_json_to({"type": "text", "text": "My name is Ann Lee"})
    message, seen = await receive_until(communicator, "turn_metrics")
    assert any(m["type"] == "event" and m["event"]["type"] == "ai_request" for m in seen)
    await communicator.send_json_to({"type": "stop"})
    report, _ = await receive_until(communicator, "report")
    assert report["status"] == "completed"
    assert report["report"]["name"] == "Ann Lee"
    await communicator.disconnect()


async def test_bad_frames_are_refused_with_a_reason_and_the_call_goes_on(world):
    communicator = await open_media(world["call"], world["alpha"])
    await communicator.send_to(bytes_data=b"\x00\x01\x02")
    error, _ = await receive_until(communicator, "error")
    assert "start" in error["reason"]
    await communicator.send_json_to({"type": "start", "sample_rate": 48000})
    await receive_until(communicator, "started")
    await communicator.send_to(bytes_data=b"\x00\x01\x02")
    error, _ = await receive_until(communicator, "error")
    assert "odd" in error["reason"].lower() or "byte" in error["reason"].lower()
    await communicator.send_to(text_data="not json")
    error, _ = await receive_until(communicator, "error")
    assert "JSON" in error["reason"]
    await communicator.send_to(bytes_data=tone(100, sample_rate=48000))  # resampled to 16 kHz: accepted
    await communicator.send_json_to({"type": "dtmf", "digit": "5"})
    dtmf, _ = await receive_until(communicator, "dtmf")
    assert dtmf["digit"] == "5"
    await communicator.send_json_to({"type": "stop"})
    await receive_until(communicator, "report")
    await communicator.disconnect()


@pytest.mark.clock  # signed tokens that expire
@pytest.mark.parametrize("case", ["missing", "other-path", "other-tenant"])
async def test_media_socket_without_a_valid_token_is_closed_with_a_policy_code(world, case):
    call, alpha = world["call"], world["alpha"]
    beta = await sync_to_async(lambda: alpha.__class__.objects.get(slug="beta"))()
    token = {"missing": "", "other-path": ws_token(tenant=alpha, path="/ws/calls/x/media/"),
             "other-tenant": ws_token(tenant=beta, path=media_path(call))}[case]
    communicator = WebsocketCommunicator(application, f"{media_path(call)}?token={token}")
    await communicator.connect(timeout=10)
    assert (await communicator.receive_output(5))["code"] == 4403


def session_cookie(user):
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return [(b"cookie", f"sessionid={session.session_key}".encode())]


async def open_live(call, user, origin=b"http://testserver"):
    headers = await sync_to_async(session_cookie)(user) if user else []
    headers.append((b"origin", origin))
    communicator = WebsocketCommunicator(application, f"/ws/calls/{call.pk}/live/", headers=headers)
    await communicator.connect(timeout=10)
    return communicator


@pytest.mark.parametrize("who", ["charlie", None])
async def test_live_view_is_closed_to_non_members(world, who):
    communicator = await open_live(world["call"], world[who] if who else None)
    assert (await communicator.receive_output(5))["code"] == 4403


async def test_live_view_refuses_another_sites_page(world):
    headers = [*await sync_to_async(session_cookie)(world["alice"]), (b"origin", b"https://evil.example")]
    communicator = WebsocketCommunicator(application, f"/ws/calls/{world['call'].pk}/live/", headers=headers)
    connected, _ = await communicator.connect(timeout=10)
    assert not connected


async def test_a_member_watches_and_an_owner_takes_over(world):
    media = await open_media(world["call"], world["alpha"])
    await media.send_json_to({"type": "start"})
    await receive_until(media, "started")
    viewer = await open_live(world["call"], world["bob"])
    hello = json.loads((await viewer.receive_output(5))["text"])
    assert hello["type"] == "hello"
    await viewer.send_json_to({"command": "take_over"})
    refusal, _ = await receive_until(viewer, "error")
    assert "watch" in refusal["reason"]
    await media.send_json_to({"type": "text", "text": "My name is Ann Lee"})
    await receive_until(viewer, "transcript")  # the viewer sees the conversation live
    owner = await open_live(world["call"], world["alice"])
    await owner.send_json_to({"command": "take_over"})
    report, _ = await receive_until(media, "report")
    assert report["status"] == "transferred"
    await owner.send_json_to({"command": "hang_up"})
    refusal, _ = await receive_until(owner, "error")
    assert "ended" in refusal["reason"]
    await owner.send_json_to({"command": "note", "text": "Rappeler lundi"})
    await receive_until(owner, "supervisor")
    def recorded():
        with tenant_scope(world["alpha"]):
            return list(SupervisorAction.objects.filter(call=world["call"]).values_list("action", flat=True))

    actions = await sync_to_async(recorded)()
    assert actions == ["take_over", "note"]
    for communicator in (media, viewer, owner):
        await communicator.disconnect()
