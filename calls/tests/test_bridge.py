"""The LiveKit bridge with a fake room (the ``livekit.rtc`` surface it uses) and the LiveKit API stand-in."""

from __future__ import annotations

import asyncio
import contextlib
import json

import jwt
import numpy as np
import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import ApplicationCommunicator
from livekit import rtc

from calls import bridge, livekit, services
from calls.bridge import LiveKitBridgeConsumer, parse_join
from calls.models import Call, CallReport, Utterance
from calls.runner import call_group
from calls.testing_livekit import RATE, FakeMedia, FakeParticipant, FakeTrack
from calls.tests.livekit_standin import API_SECRET, livekit_server_fixture  # noqa: F401 - fixture
from subprocessors.services import subprocessor_seed_defaults
from tenants.models import TenantSettings
from tenants.scope import all_tenants_scope, tenant_scope
from tenants.services import tenant_create
from voice.audio import silence, tone

pytestmark = pytest.mark.django_db(transaction=True)

FAKE = {
    "tts": {"ms_per_char": 3.0, "first_byte_ms": 10.0, "realtime_factor": 0.0},
    "stt": {"final_delay_ms": 50.0, "interim_every_ms": None},
}
STEP_TIMEOUT_S = 20.0


# --- helpers -------------------------------------------------------------------------------------------------------

def speech_48k(ms: int = 800) -> bytes:
    """What the caller says: some silence, a loud tone the VAD takes for speech, then silence again."""
    return silence(300, sample_rate=RATE) + tone(ms, 300.0, 0.3, sample_rate=RATE) + silence(100, sample_rate=RATE)


@pytest.fixture
def tenant(livekit_server):
    subprocessor_seed_defaults()
    tenant = tenant_create(name="Demo Cuisines", slug="demo", legal_name="Demo SAS")
    with tenant_scope(tenant):
        TenantSettings.objects.filter(tenant=tenant).update(human_transfer_number="+33123456789")
    return tenant


@pytest.fixture
def call(tenant, livekit_server):
    with tenant_scope(tenant):
        script = services.demo_scripts_ensure(tenant=tenant)[0]
        contact = services.contact_create(tenant=tenant, phone="06 12 34 56 78", name="Jean Martin")
        call = services.call_create(tenant=tenant, script=script, contact=contact,
                                    direction=Call.Direction.OUTBOUND)
    livekit_server.rooms.add(f"call-{call.pk}")
    return call


class KeptCalls(dict):
    """The bridge's registry of calls, keeping finished ones so that a test can await a call that ended fast."""

    def pop(self, key, default=None):
        return self.get(key, default)


@pytest.fixture
async def media(monkeypatch):
    media = FakeMedia()
    monkeypatch.setattr(LiveKitBridgeConsumer, "media_factory", lambda self=None: media)
    monkeypatch.setattr(bridge, "active_calls", KeptCalls())
    return media


@contextlib.asynccontextmanager
async def bridge_worker():
    """The consumer as ``runworker livekit-bridge`` runs it: one instance for the channel."""
    communicator = ApplicationCommunicator(LiveKitBridgeConsumer.as_asgi(),
                                           {"type": "channel", "channel": "livekit-bridge"})
    try:
        yield communicator
    finally:
        communicator.stop(exceptions=False)
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await communicator.wait(0.5)


async def until(predicate, what: str, timeout: float = STEP_TIMEOUT_S):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def events_of(call):
    """Subscribe to the call's live events, as a supervisor's view does."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(call_group(call.pk), channel)

    async def next_event(predicate, what):
        deadline = asyncio.get_running_loop().time() + STEP_TIMEOUT_S
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"timed out waiting for {what}")
            try:
                message = await asyncio.wait_for(layer.receive(channel), remaining)
            except TimeoutError:
                raise AssertionError(f"timed out waiting for {what}") from None
            if predicate(message["event"]):
                return message["event"]

    return next_event


async def start_call(communicator, call, utterances, **extra):
    await communicator.send_input(livekit.bridge_message(call=call, mode="fake",
                                                         fake_options={"utterances": utterances, **FAKE}) | extra)
    await until(lambda: str(call.pk) in bridge.active_calls, "the bridge to take the call")
    return bridge.active_calls[str(call.pk)]


@sync_to_async
def stored(call):
    with all_tenants_scope("test"):
        fresh = Call.objects.get(pk=call.pk)
        lines = list(Utterance.objects.filter(call=call).order_by("seq").values_list("speaker", "text"))
        return fresh, lines, CallReport.objects.filter(call=call).exists()


@sync_to_async
def update(model, lookup: dict, **values):
    with all_tenants_scope("test"):
        model.objects.filter(**lookup).update(**values)


def rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples ** 2))) if samples.size else 0.0


# --- tests ---------------------------------------------------------------------------------------------------------

@pytest.mark.clock  # the bridge joins the room with a signed token that expires
async def test_the_caller_is_heard_the_agent_speaks_at_48k_and_the_call_is_stored(call, media, livekit_server):
    room = media.the_room
    caller = FakeParticipant("caller", attributes={"sip.callStatus": "dialing"})
    next_event = await events_of(call)
    async with bridge_worker() as worker:
        task = await start_call(worker, call, ["Je m'appelle Jean Martin"])
        await asyncio.wait_for(room.connected.wait(), STEP_TIMEOUT_S)
        room.emit("track_subscribed", FakeTrack(speech_48k()), object(), caller)

        # the phone still rings: nobody talks yet, and the call is not in progress
        await asyncio.sleep(0.2)
        assert media.source.frames == [] and media.streams == []
        assert (await stored(call))[0].status == Call.Status.QUEUED
        answered_at = asyncio.get_running_loop().time()
        caller.attributes["sip.callStatus"] = "active"
        room.emit("participant_attributes_changed", {"sip.callStatus": "active"}, caller)

        heard = await next_event(lambda e: e["type"] == "transcript" and e["speaker"] == "caller", "the caller")
        assert heard["text"] == "Je m'appelle Jean Martin"
        await next_event(lambda e: e["type"] == "transcript" and e["speaker"] == "agent" and "Jean" in e["text"],
                         "the agent's answer")
        await until(lambda: media.source.frames and rms(media.source.frames[-1].data) > 0, "the answer's audio")
        room.emit("participant_disconnected", caller)
        assert await asyncio.wait_for(task, STEP_TIMEOUT_S) == "hangup"

    claims = jwt.decode(room.token, API_SECRET, algorithms=["HS256"], options={"verify_iss": False})
    assert claims["sub"] == livekit.AGENT_IDENTITY and claims["video"]["room"] == f"call-{call.pk}"
    [(_, options)] = room.local_participant.published
    assert options.source == rtc.TrackSource.SOURCE_MICROPHONE
    assert media.source.first_at >= answered_at
    assert {(f.sample_rate, f.num_channels) for f in media.source.frames} == {(RATE, 1)}
    played_s = sum(f.samples_per_channel for f in media.source.frames) / RATE
    assert played_s > 0.5 and rms(media.source.pcm()) > 100  # the greeting and the answer, as tones
    assert media.streams[0].closed and room.left

    fresh, lines, reported = await stored(call)
    assert (fresh.status, fresh.end_reason) == (Call.Status.COMPLETED, "hangup")
    assert fresh.answered_at is not None and fresh.turn_metrics
    assert ("caller", "Je m'appelle Jean Martin") in lines
    assert lines[0][0] == "agent" and any(s == "agent" and "Jean" in t for s, t in lines[1:])
    assert reported
    assert [r.body["room"] for r in livekit_server.calls("DeleteRoom")] == [f"call-{call.pk}"]


async def test_a_caller_asking_for_a_person_is_transferred_to_the_tenant_number(call, media, livekit_server):
    room = media.the_room
    caller = FakeParticipant("sip_caller", attributes={"sip.callStatus": "active"})
    async with bridge_worker() as worker:
        task = await start_call(worker, call, ["Je voudrais parler à un humain"])
        await asyncio.wait_for(room.connected.wait(), STEP_TIMEOUT_S)
        room.emit("track_subscribed", FakeTrack(speech_48k()), object(), caller)
        assert await asyncio.wait_for(task, STEP_TIMEOUT_S) == "transferred"

    [transfer] = livekit_server.calls("TransferSIPParticipant")
    assert transfer.body == {"participant_identity": "sip_caller", "room_name": f"call-{call.pk}",
                             "transfer_to": "tel:+33123456789", "ringing_timeout": "30s"}
    fresh, lines, _ = await stored(call)
    assert (fresh.status, fresh.end_reason) == (Call.Status.TRANSFERRED, "transferred")
    assert ("caller", "Je voudrais parler à un humain") in lines
    assert lines[-1] == ("agent", "Je vous mets en relation avec un conseiller, merci de patienter.")  # spoken first
    assert livekit_server.calls("DeleteRoom")


async def test_a_supervisor_taking_over_from_the_live_view_transfers_the_phone_caller(call, media, livekit_server):
    from channels.layers import get_channel_layer

    from calls.runner import call_group

    room = media.the_room
    caller = FakeParticipant("sip_caller", attributes={"sip.callStatus": "active"})
    next_event = await events_of(call)
    async with bridge_worker() as worker:
        task = await start_call(worker, call, [])
        await asyncio.wait_for(room.connected.wait(), STEP_TIMEOUT_S)
        room.emit("track_subscribed", FakeTrack(b""), object(), caller)
        await next_event(lambda e: e["type"] == "transcript" and e["speaker"] == "agent", "the greeting")
        await get_channel_layer().group_send(call_group(call.pk), {"type": "call.command", "command": "take_over"})
        assert await asyncio.wait_for(task, STEP_TIMEOUT_S) == "transferred"

    [transfer] = livekit_server.calls("TransferSIPParticipant")
    assert transfer.body["transfer_to"] == "tel:+33123456789"
    assert (await stored(call))[0].status == Call.Status.TRANSFERRED


async def test_a_transfer_without_a_number_ends_the_call_with_the_reason(call, media, livekit_server):
    await update(TenantSettings, {"tenant_id": call.tenant_id}, human_transfer_number="")
    room = media.the_room
    async with bridge_worker() as worker:
        task = await start_call(worker, call, ["Je voudrais parler à un humain"])
        await asyncio.wait_for(room.connected.wait(), STEP_TIMEOUT_S)
        room.emit("track_subscribed", FakeTrack(speech_48k()), object(), FakeParticipant("sip_caller"))
        assert await asyncio.wait_for(task, STEP_TIMEOUT_S) == "transfer_unavailable"

    assert livekit_server.calls("TransferSIPParticipant") == []
    fresh, _, _ = await stored(call)
    assert (fresh.status, fresh.end_reason) == (Call.Status.COMPLETED, "transfer_unavailable")


async def test_when_nobody_comes_the_bridge_frees_the_room_and_says_nothing(call, media, livekit_server, settings):
    settings.LIVEKIT_BRIDGE_CALLER_WAIT_S = 0.3
    async with bridge_worker() as worker:
        task = await start_call(worker, call, [])
        assert await asyncio.wait_for(task, STEP_TIMEOUT_S) is None

    assert media.source.frames == [] and media.the_room.left
    assert [r.body["room"] for r in livekit_server.calls("DeleteRoom")] == [f"call-{call.pk}"]
    assert (await stored(call))[0].status == Call.Status.QUEUED  # the dial task or the webhook ends it


async def test_a_call_already_over_or_a_bad_message_is_not_joined(call, media, livekit_server):
    await update(Call, {"pk": call.pk}, status=Call.Status.CANCELED)
    async with bridge_worker() as worker:
        await worker.send_input({"type": "call.join", "call_id": "nope", "tenant_id": call.tenant_id})
        await worker.send_input({"type": "something.else"})
        task = await start_call(worker, call, [])
        assert await asyncio.wait_for(task, STEP_TIMEOUT_S) is None
    assert media.the_room.token is None


def test_join_messages_are_validated():
    job = parse_join({"type": "call.join", "call_id": "5f0c3a5e-4a0b-4a55-9d8e-3c0f6f7d9a10", "tenant_id": "3"})
    assert (job.tenant_id, job.room, job.mode, job.fake_options) == (
        3, "call-5f0c3a5e-4a0b-4a55-9d8e-3c0f6f7d9a10", "auto", None)
    fake = parse_join({"call_id": "5f0c3a5e-4a0b-4a55-9d8e-3c0f6f7d9a10", "tenant_id": 3, "room": "r",
                       "mode": "fake", "fake_options": {"utterances": ["x"]}})
    assert fake.fake_options == {"utterances": ["x"]}
    assert parse_join({"call_id": "5f0c3a5e-4a0b-4a55-9d8e-3c0f6f7d9a10", "tenant_id": 3,
                       "fake_options": {"a": 1}}).fake_options is None
    for bad in ({}, {"call_id": "x", "tenant_id": 1}, {"call_id": "5f0c3a5e-4a0b-4a55-9d8e-3c0f6f7d9a10",
                                                         "tenant_id": 1, "mode": "turbo"}):
        with pytest.raises(ValueError):
            parse_join(bad)
    json.dumps(livekit.bridge_message(call=type("C", (), {"pk": "u", "tenant_id": 1})()))  # channel-layer safe
