"""The LiveKit bridge: a Channels worker that joins each call's room and carries the audio to and from its session.

Run it with ``manage.py runworker livekit-bridge`` (as many as needed; with the Redis channel layer each message
goes to one of them). It handles one message type::

    {"type": "call.join", "call_id": "<uuid>", "tenant_id": 7,
     "room": "call-<uuid>",                     # optional: inbound rooms are named by LiveKit's dispatch rule
     "mode": "auto" | "local" | "fake",         # optional provider mode, default settings.PIPELINE_PROVIDERS
     "fake_options": {...}}                     # optional, with mode "fake" only (tests, benchmarks)

Each call runs as its own asyncio task, so one worker carries many calls; database work goes through
``database_sync_to_async`` and never blocks the loop. Per call: join the room as ``callkom-agent`` (a token that
may publish the microphone and subscribe, nothing else), publish the agent's 48 kHz track, wait for the SIP
participant to be active, then caller audio (48 kHz ``AudioStream``) -> 16 kHz 20 ms frames -> ``push_audio``, and
``play_out`` -> 48 kHz -> ``AudioSource.capture_frame``. When the session ends: let the last words play out,
transfer the caller if the session asked for it (to the tenant's ``human_transfer_number``), store the
conversation (``CallRun.finish``), delete the room, and queue the post-call report.

The ``livekit.rtc`` calls sit behind ``RtcMedia`` so that tests can pass a fake room with the same surface.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async
from channels.consumer import AsyncConsumer
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from tenants.models import Tenant, TenantSettings
from tenants.scope import tenant_scope
from voice.audio import SAMPLE_RATE, FrameBuffer, StreamResampler
from voice.pacing import play_out

from . import livekit
from .models import Call
from .runner import CallRun, call_group, supervisor_command_apply
from .services import TransitionError, call_transition

logger = logging.getLogger(__name__)

ROOM_SAMPLE_RATE = 48_000
PROVIDER_MODES = ("auto", "local", "fake", "bench")
TOKEN_TTL_S = 300
PLAYOUT_DRAIN_S = 2.0  # at most this long for the agent's last words to leave before a transfer or hang-up
SIP_ENDED = {"hangup", "disconnected", "error"}

# The calls this worker carries, by call id: a second ``call.join`` for one of them is ignored.
active_calls: dict[str, asyncio.Task] = {}


class RtcMedia:
    """The ``livekit.rtc`` surface the bridge uses; a test passes an object with the same methods."""

    def room(self):
        from livekit import rtc

        return rtc.Room()

    def audio_stream(self, track):
        from livekit import rtc

        return rtc.AudioStream(track, sample_rate=ROOM_SAMPLE_RATE, num_channels=1)

    def audio_source(self):
        from livekit import rtc

        return rtc.AudioSource(ROOM_SAMPLE_RATE, 1)

    def local_track(self, source):
        from livekit import rtc

        return rtc.LocalAudioTrack.create_audio_track("agent-voice", source)

    def publish_options(self):
        from livekit import rtc

        return rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)

    def frame(self, pcm: bytes):
        from livekit import rtc

        return rtc.AudioFrame(pcm, ROOM_SAMPLE_RATE, 1, len(pcm) // 2)

    def is_caller(self, participant) -> bool:
        from livekit import rtc

        return participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_SIP

    def is_audio(self, track) -> bool:
        from livekit import rtc

        return track.kind == rtc.TrackKind.KIND_AUDIO


@dataclass
class BridgeJob:
    call_id: str
    tenant_id: int
    room: str
    mode: str
    fake_options: dict | None = None


def parse_join(message: dict) -> BridgeJob:
    """Validate a ``call.join`` message; raise ``ValueError`` saying what is wrong."""
    try:
        call_id = str(uuid.UUID(str(message["call_id"])))
        tenant_id = int(message["tenant_id"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"call_id (a UUID) and tenant_id (an integer) are required: {exc!r}") from None
    room = message.get("room") or f"{livekit.ROOM_PREFIX}{call_id}"
    if not isinstance(room, str) or len(room) > 256:
        raise ValueError("room must be a room name")
    mode = message.get("mode") or settings.PIPELINE_PROVIDERS
    if mode not in PROVIDER_MODES:
        raise ValueError(f"mode must be one of {', '.join(PROVIDER_MODES)}")
    fake_options = message.get("fake_options") if mode == "fake" else None
    if fake_options is not None and not isinstance(fake_options, dict):
        raise ValueError("fake_options must be an object")
    return BridgeJob(call_id, tenant_id, room, mode, fake_options)


class LiveKitBridgeConsumer(AsyncConsumer):
    """Start one ``CallBridge`` task per ``call.join`` message and return at once."""

    media_factory = RtcMedia

    async def dispatch(self, message):
        if message.get("type") != "call.join":
            logger.warning("livekit-bridge: ignored a message of type %r", message.get("type"))
            return
        await super().dispatch(message)

    async def call_join(self, message):
        try:
            job = parse_join(message)
        except ValueError as exc:
            logger.warning("livekit-bridge: refused a call.join message: %s", exc)
            return
        if job.call_id in active_calls:
            logger.info("livekit-bridge: call %s is already carried here", job.call_id)
            return
        bridge = CallBridge(job, media=self.media_factory())
        task = asyncio.get_running_loop().create_task(bridge.run(), name=f"livekit-bridge:{job.call_id}")
        active_calls[job.call_id] = task
        task.add_done_callback(lambda _task: active_calls.pop(job.call_id, None))


# --- one call ------------------------------------------------------------------------------------------------------

@database_sync_to_async
def _active_tenant(tenant_id: int) -> Tenant | None:
    return Tenant.objects.filter(pk=tenant_id, status=Tenant.Status.ACTIVE).first()


@database_sync_to_async
def _load_call(call_id: str) -> Call | None:
    return Call.objects.select_related("tenant", "script", "contact").filter(pk=call_id).first()


@database_sync_to_async
def _prepare(call: Call, mode: str, fake_options: dict | None) -> CallRun:
    return CallRun.prepare(call, mode=mode, fake_options=fake_options)


@database_sync_to_async
def _answered(call_id) -> bool:
    """Mark the call in progress (unless the webhook or the dial task already did); False if it is over."""
    call = Call.objects.get(pk=call_id)
    if call.status in (Call.Status.QUEUED, Call.Status.RINGING):
        try:
            call = call_transition(call=call, to=Call.Status.IN_PROGRESS)
        except TransitionError:
            call.refresh_from_db()
    return call.status == Call.Status.IN_PROGRESS


@database_sync_to_async
def _fail_if_open(call_id, reason: str) -> None:
    call = Call.objects.get(pk=call_id)
    if not call.is_over:
        try:
            call_transition(call=call, to=Call.Status.FAILED, reason=reason)
        except TransitionError:
            pass


@database_sync_to_async
def _transfer_number(tenant: Tenant) -> str:
    return TenantSettings.objects.get(tenant=tenant).human_transfer_number


@dataclass
class CallBridge:
    """Carry one call between its LiveKit room and its ``CallSession``."""

    job: BridgeJob
    media: RtcMedia
    caller: object | None = None
    caller_track: object | None = None
    session: object | None = None
    end_reason: str | None = None
    gone_reason: str | None = None
    _ready: asyncio.Event = field(default_factory=asyncio.Event)
    _gone: asyncio.Event = field(default_factory=asyncio.Event)
    _pump: asyncio.Task | None = None
    call_run: CallRun | None = None

    async def run(self) -> str | None:
        """Carry the call from joining its room to queuing its report; return the end reason (None: no talk)."""
        tenant = await _active_tenant(self.job.tenant_id)
        if tenant is None:
            logger.warning("livekit-bridge: tenant %s is gone or suspended", self.job.tenant_id)
            return None
        with tenant_scope(tenant):
            call = await _load_call(self.job.call_id)
            if call is None or call.is_over:
                logger.info("livekit-bridge: call %s is gone or over", self.job.call_id)
                return None
            try:
                self.end_reason = await self._carry(call)
            except Exception:
                logger.exception("livekit-bridge: call %s failed", call.pk)
                await _fail_if_open(call.pk, "bridge_error")
                await self._hang_up(call)
                self.end_reason = "error"
            return self.end_reason

    async def _carry(self, call: Call) -> str | None:
        run = await _prepare(call, self.job.mode, self.job.fake_options)
        room = self.media.room()
        room.on("track_subscribed", self._on_track_subscribed)
        room.on("participant_attributes_changed", self._on_attributes_changed)
        room.on("participant_disconnected", self._on_participant_disconnected)
        room.on("disconnected", self._on_disconnected)
        token = livekit.participant_token(call, livekit.AGENT_IDENTITY, can_publish=True, can_subscribe=True,
                                          ttl=TOKEN_TTL_S, room=self.job.room)
        try:
            await room.connect(livekit.livekit_config().url, token)
            source = self.media.audio_source()
            await room.local_participant.publish_track(self.media.local_track(source), self.media.publish_options())
            if not await self._wait_for_caller(call):
                return None
            if not await _answered(call.pk):
                return None
            reason = await self._converse(run, source)
            await self._let_audio_finish(source)
            if reason == "transferred":
                reason = await self._transfer(call, run)
            try:
                await run.finish(self.session, reason)
            except TransitionError:
                logger.info("livekit-bridge: call %s was already ended by LiveKit's webhook", call.pk)
            await self._hang_up(call)
            await sync_to_async(_queue_finalize)(call, self.job.mode)
            return reason
        finally:
            try:
                await room.disconnect()
            except Exception:  # noqa: BLE001 - leaving a room that is already gone
                logger.debug("livekit-bridge: disconnect failed", exc_info=True)

    async def _wait_for_caller(self, call: Call) -> bool:
        """Wait until the SIP participant is in the room, heard and active; False if it left or never came."""
        timeout = settings.LIVEKIT_BRIDGE_CALLER_WAIT_S
        ready, gone = asyncio.ensure_future(self._ready.wait()), asyncio.ensure_future(self._gone.wait())
        try:
            await asyncio.wait({ready, gone}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
            gone.cancel()
        if self._ready.is_set() and not self._gone.is_set():
            return True
        if not self._gone.is_set():  # nobody came: free the line rather than let a late answer meet silence
            logger.info("livekit-bridge: no caller in the room of call %s after %s s", call.pk, timeout)
            await self._hang_up(call)
        return False

    async def _converse(self, run: CallRun, source) -> str:
        self.call_run = run
        session = self.session = run.session()
        # Join the call's group before the call starts, so that no supervisor command can arrive unheard.
        layer, channel = get_channel_layer(), None
        if layer is not None:
            channel = await layer.new_channel()
            await layer.group_add(call_group(self.job.call_id), channel)
        talk = asyncio.ensure_future(session.run())
        gone = asyncio.ensure_future(self._gone.wait())
        self._pump = asyncio.ensure_future(self._pump_caller(session, self.caller_track))
        player = asyncio.ensure_future(play_out(session, self._speaker(source)))
        supervisors = asyncio.ensure_future(self._follow_supervisors(session, layer, channel))
        try:
            await asyncio.wait({talk, gone}, return_when=asyncio.FIRST_COMPLETED)
            if not talk.done():
                await session.hangup(self.gone_reason or "hangup")
            return await talk
        finally:
            for task in (gone, self._pump, talk, supervisors):
                task.cancel()
            # the session closed its audio queue, so the player ends by itself once the last frame went out
            await asyncio.wait({player}, timeout=1.0)
            player.cancel()
            await asyncio.gather(gone, self._pump, talk, player, supervisors, return_exceptions=True)

    async def _follow_supervisors(self, session, layer, channel) -> None:
        """Take the live view's commands (take over, hang up) for this call, like the media consumer does."""
        if channel is None:
            return
        group = call_group(self.job.call_id)
        try:
            while True:
                message = await layer.receive(channel)
                if message.get("type") == "call.command":
                    await supervisor_command_apply(session, message.get("command", ""))
        finally:
            await layer.group_discard(group, channel)

    async def _pump_caller(self, session, track) -> None:
        """Caller audio: 48 kHz frames from the room -> 16 kHz 20 ms frames into the session."""
        stream = self.media.audio_stream(track)
        resampler: StreamResampler | None = None
        frames = FrameBuffer()
        try:
            async for event in stream:
                frame = event.frame
                if resampler is None or resampler.from_rate != frame.sample_rate:
                    resampler = StreamResampler(frame.sample_rate, SAMPLE_RATE)
                for piece in frames.push(resampler.process(bytes(frame.data))):
                    self.call_run.record_caller(piece)
                    await session.push_audio(piece)
        finally:
            await stream.aclose()

    def _speaker(self, source):
        """Agent audio: 16 kHz frames from ``play_out`` -> 48 kHz frames into the published track."""
        resampler = StreamResampler(SAMPLE_RATE, ROOM_SAMPLE_RATE)

        async def sink(frame) -> None:
            self.call_run.record_agent(frame)
            pcm = resampler.process(frame.pcm)
            if pcm:
                await source.capture_frame(self.media.frame(pcm))

        return sink

    async def _let_audio_finish(self, source) -> None:
        try:
            await asyncio.wait_for(source.wait_for_playout(), PLAYOUT_DRAIN_S)
        except TimeoutError:
            pass

    async def _transfer(self, call: Call, run: CallRun) -> str:
        """Carry out the transfer the session asked for; return the end reason to record."""
        asked = [event.get("reason") for event in run.events if event.get("type") == "transfer_requested"]
        number = await _transfer_number(call.tenant)
        if not number:
            logger.warning("livekit-bridge: call %s asked for a transfer but no transfer number is set", call.pk)
            return "transfer_unavailable"
        if self.caller is None:
            return "transfer_failed"
        try:
            await livekit.transfer(call, self.caller.identity, number, room=self.job.room)
        except livekit.LiveKitError as exc:
            logger.warning("livekit-bridge: call %s could not be transferred (%s): %s", call.pk, asked, exc)
            return "transfer_failed"
        logger.info("livekit-bridge: call %s transferred (%s)", call.pk, asked)
        return "transferred"

    async def _hang_up(self, call: Call) -> None:
        try:
            await livekit.hang_up(call, room=self.job.room)
        except livekit.LiveKitError as exc:
            logger.warning("livekit-bridge: the room of call %s could not be deleted: %s", call.pk, exc)

    # -- room events (called by the room, on the loop) --

    def _on_track_subscribed(self, track, publication, participant) -> None:
        if not (self.media.is_caller(participant) and self.media.is_audio(track)):
            return
        self.caller, self.caller_track = participant, track
        if self._pump is not None and not self._pump.done() and self.session is not None:
            # the caller's track was published again (a reconnection): listen to the new one
            self._pump.cancel()
            self._pump = asyncio.ensure_future(self._pump_caller(self.session, track))
        self._check_status(participant)

    def _on_attributes_changed(self, changed, participant) -> None:
        if self.caller is not None and participant.identity == self.caller.identity:
            self._check_status(participant)

    def _check_status(self, participant) -> None:
        status = dict(participant.attributes or {}).get(livekit.SIP_CALL_STATUS, "active")
        if status == "active":
            self._ready.set()
        elif status in SIP_ENDED:
            self._left("hangup")

    def _on_participant_disconnected(self, participant) -> None:
        if self.caller is not None and participant.identity == self.caller.identity:
            self._left("hangup")

    def _on_disconnected(self, reason=None) -> None:
        self._left("disconnected")

    def _left(self, reason: str) -> None:
        if not self._gone.is_set():
            self.gone_reason = reason
            self._gone.set()


def _queue_finalize(call: Call, mode: str) -> None:
    from .tasks import call_finalize

    call_finalize.delay(call.tenant_id, str(call.pk), mode)
