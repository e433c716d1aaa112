"""Recordings: captured by the media socket when the tenant records calls, encrypted at rest, played to members."""

import io
import wave
from pathlib import Path

import numpy as np
import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.test import Client

from callkom.routing import websocket_urlpatterns
from calls import services
from calls.consumers import MediaStreamConsumer
from calls.models import Call, Recording
from calls.recording import CallRecorder, recording_audio
from subprocessors.services import subprocessor_seed_defaults
from tenants.models import TenantSettings
from tenants.scope import tenant_scope
from tenants.services import tenant_create, user_create
from tenants.ws import ws_token
from voice.audio import silence, tone

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def alpha(settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr(MediaStreamConsumer, "provider_mode", "fake")
    owner = user_create(email="alice@alpha.example", password="x" * 12)
    tenant = tenant_create(name="Alpha", slug="alpha", legal_name="Alpha", owner=owner)
    charlie = user_create(email="charlie@beta.example", password="x" * 12)
    tenant_create(name="Beta", slug="beta", legal_name="Beta", owner=charlie)
    subprocessor_seed_defaults()
    with tenant_scope(tenant):
        TenantSettings.objects.filter(tenant=tenant).update(recording_enabled=True)
        script = services.demo_scripts_ensure(tenant=tenant)[0]
        call = services.call_create(tenant=tenant, script=script, direction=Call.Direction.INBOUND,
                                    channel=Call.Channel.WEB)
    return {"tenant": tenant, "call": call, "owner": owner, "charlie": charlie}


async def talk_over_the_socket(call, tenant):
    path = f"/ws/calls/{call.pk}/media/"
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns),
                                         f"{path}?token={ws_token(tenant=tenant, path=path)}")
    assert (await communicator.connect(timeout=10))[0]
    await communicator.send_json_to({"type": "start"})
    for chunk in (tone(400), silence(200)):
        await communicator.send_to(bytes_data=chunk)
    await communicator.send_json_to({"type": "text", "text": "My name is Ann Lee"})
    await receive_text_with(communicator, '"turn_metrics"')  # the agent answered
    await communicator.send_json_to({"type": "stop"})
    await receive_text_with(communicator, '"report"')  # the call is stored
    await communicator.disconnect()


async def receive_text_with(communicator, needle):
    while True:
        output = await communicator.receive_output(20)
        if needle in (output.get("text") or ""):
            return


def read_wav(data):
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (2, 16000, 2)
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)


@pytest.mark.clock  # the socket's token expires
async def test_a_recorded_call_is_stored_encrypted_and_decrypts_to_both_sides(alpha, settings):
    await talk_over_the_socket(alpha["call"], alpha["tenant"])

    def stored():
        with tenant_scope(alpha["tenant"]):
            return Recording.objects.get(call=alpha["call"])

    recording = await sync_to_async(stored)()
    raw = (Path(settings.MEDIA_ROOT) / recording.path).read_bytes()
    assert not raw.startswith(b"RIFF")  # a Fernet token on disk, not audio
    samples = read_wav(await sync_to_async(recording_audio)(recording))
    caller, agent = samples[:, 0], samples[:, 1]
    assert np.abs(caller).max() > 5000  # the tone the caller sent
    assert np.abs(agent).max() > 0  # the agent's (fake) voice
    assert recording.duration_ms > 400


def test_the_call_page_plays_it_to_members_only(alpha):
    from calls.recording import recording_store

    recorder = CallRecorder()
    recorder.caller_frame(tone(20))
    with tenant_scope(alpha["tenant"]):
        recording_store(call=alpha["call"], recorder=recorder)
    owner, stranger = Client(), Client()
    owner.force_login(alpha["owner"])
    stranger.force_login(alpha["charlie"])
    page = owner.get(f"/t/alpha/calls/{alpha['call'].pk}/")
    assert b"recording.wav" in page.content
    audio = owner.get(f"/t/alpha/calls/{alpha['call'].pk}/recording.wav")
    assert audio["Content-Type"] == "audio/wav" and read_wav(audio.content).shape[0] == 320
    assert stranger.get(f"/t/alpha/calls/{alpha['call'].pk}/recording.wav").status_code == 404


@pytest.mark.clock  # the socket's token expires
async def test_nothing_is_recorded_when_the_tenant_does_not_record(alpha):
    def stop_recording():
        with tenant_scope(alpha["tenant"]):
            TenantSettings.objects.filter(tenant=alpha["tenant"]).update(recording_enabled=False)

    await sync_to_async(stop_recording)()
    await talk_over_the_socket(alpha["call"], alpha["tenant"])

    def count():
        with tenant_scope(alpha["tenant"]):
            return Recording.objects.count()

    assert await sync_to_async(count)() == 0


def test_the_recorder_keeps_both_sides_aligned_on_the_clock():
    now = [0.0]
    recorder = CallRecorder(clock=lambda: now[0])
    now[0] = 0.02
    recorder.caller_frame(tone(20))
    now[0] = 1.02  # the agent speaks a second later
    recorder.agent_frame(tone(20))
    samples = read_wav(recorder.wav())
    assert np.abs(samples[:320, 0]).max() > 0 and np.abs(samples[:16000, 1]).max() == 0
    assert np.abs(samples[16000:16320, 1]).max() > 0
