"""WebSocket transports of a call.

``MediaStreamConsumer`` (``/ws/calls/<uuid>/media/``) carries one call's audio: binary frames of 16-bit mono PCM
in (at the rate announced by ``start``, 16 kHz by default) and 16 kHz PCM out, paced at real time; JSON control
messages ``start``, ``text`` (a typed caller line), ``dtmf``, ``mark`` and ``stop``. It is opened with a short-lived
token bound to the path (``tenants.ws``), never with the session cookie alone. A bad frame is answered with an
``error`` message and the call goes on.

``LiveCallConsumer`` (``/ws/calls/<uuid>/live/``) lets members of the call's tenant watch the call as it happens
and steer it: ``take_over``, ``hang_up`` and ``note`` commands, each recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils.translation import gettext as _

from tenants.scope import activate, all_tenants_scope
from tenants.selectors import membership_for
from tenants.ws import POLICY_VIOLATION
from voice.audio import SAMPLE_RATE, BadAudio, FrameBuffer, StreamResampler, validate_pcm
from voice.pacing import play_out

from . import services
from .models import Call
from .runner import CallRun, call_group, supervisor_command_apply

logger = logging.getLogger(__name__)

MAX_PENDING_FRAMES = 100  # 2 s of caller audio waiting to be pushed: beyond that the sender is too fast


class MediaStreamConsumer(AsyncWebsocketConsumer):
    provider_mode = None  # None: settings.PIPELINE_PROVIDERS

    async def connect(self):
        self.call = None
        self.session = None
        self.tasks: list[asyncio.Task] = []
        call = await self._call()
        if call is None:
            await self.accept()
            await self.close(code=POLICY_VIOLATION)
            return
        self.call = call
        self.buffer = FrameBuffer()
        self.resampler = None
        await self.accept()
        await self.channel_layer.group_add(call_group(call.pk), self.channel_name)

    @sync_to_async
    def _call(self):
        call = Call.objects.select_related("script", "contact", "tenant").filter(
            pk=self.scope["url_route"]["kwargs"]["call_id"]).first()
        return call if call is not None and call.status in (Call.Status.QUEUED, Call.Status.RINGING) else None

    async def receive(self, text_data=None, bytes_data=None):
        if self.call is None:
            return
        if bytes_data is not None:
            await self._audio(bytes_data)
        else:
            await self._control(text_data)

    async def _control(self, text_data):
        try:
            message = json.loads(text_data)
            kind = message["type"]
        except (ValueError, KeyError, TypeError):
            return await self._error(_("Control messages are JSON objects with a “type”."))
        handler = {"start": self._start, "text": self._text, "stop": self._stop, "dtmf": self._dtmf,
                   "mark": self._mark}.get(kind)
        if handler is None:
            return await self._error(_("Unknown message type “%(type)s”.") % {"type": kind})
        await handler(message)

    async def _start(self, message):
        if self.session is not None:
            return await self._error(_("The call has already started."))
        rate = message.get("sample_rate", SAMPLE_RATE)
        try:
            validate_pcm(b"\0\0", sample_rate=rate)
        except BadAudio as error:
            return await self._error(str(error))
        self.rate = rate
        self.resampler = StreamResampler(rate, SAMPLE_RATE) if rate != SAMPLE_RATE else None
        mode = self.provider_mode or settings.PIPELINE_PROVIDERS
        self.run = await sync_to_async(CallRun.prepare)(self.call, mode=mode)
        await sync_to_async(services.call_transition)(call=self.call, to=Call.Status.IN_PROGRESS)
        self.session = self.run.session()
        self.tasks = [asyncio.create_task(self.session.run()),
                      asyncio.create_task(play_out(self.session, self._send_frame))]
        self.tasks.append(asyncio.create_task(self._when_over()))
        await self.send(text_data=json.dumps({"type": "started", "call_id": str(self.call.pk)}))

    async def _audio(self, data: bytes):
        if self.session is None:
            return await self._error(_("Send a “start” message before audio."))
        try:
            validate_pcm(data, sample_rate=self.rate)
        except BadAudio as error:
            return await self._error(str(error))
        pcm = self.resampler.process(data) if self.resampler else data
        frames = self.buffer.push(pcm)
        if len(frames) > MAX_PENDING_FRAMES:
            return await self._error(_("Audio arrives faster than real time; this chunk was dropped."))
        for frame in frames:
            self.run.record_caller(frame)
            await self.session.push_audio(frame)

    async def _text(self, message):
        text = str(message.get("text", "")).strip()[:1000]
        if self.session is None or not text:
            return await self._error(_("Start the call, then send a non-empty “text”."))
        await self.session.push_text(text)

    async def _stop(self, message):
        if self.session is not None:
            await self.session.hangup("hangup")

    async def _dtmf(self, message):
        digit = str(message.get("digit", ""))
        if digit not in "0123456789*#" or len(digit) != 1:
            return await self._error(_("A DTMF digit is one of 0-9, * and #."))
        await self.send(text_data=json.dumps({"type": "dtmf", "digit": digit}))

    async def _mark(self, message):
        """Answer the mark once every agent frame queued before it has been played."""
        name = str(message.get("name", ""))[:100]
        if self.session is None:
            return await self._error(_("Start the call before sending marks."))
        seq = self.session.audio_out.put_count
        asyncio.create_task(self._answer_mark(seq, name))

    async def _answer_mark(self, seq, name):
        await self.session.audio_out.wait_taken(seq)
        with contextlib.suppress(Exception):
            await self.send(text_data=json.dumps({"type": "mark", "name": name}))

    async def _send_frame(self, frame):
        self.run.record_agent(frame)
        with contextlib.suppress(Exception):
            await self.send(bytes_data=frame.pcm)

    async def _when_over(self):
        end_reason = await self.tasks[0]
        call = await self.run.finish(self.session, end_reason)
        report = await sync_to_async(_report)(call)
        await self.send(text_data=json.dumps({"type": "report", "call_id": str(call.pk), "status": call.status,
                                              "end_reason": end_reason, **report}, default=str))
        await self.close()

    async def _error(self, reason: str):
        await self.send(text_data=json.dumps({"type": "error", "reason": reason}))

    async def call_event(self, message):
        """Events of this call (this session's and supervisors'): the media client sees them too."""
        await self.send(text_data=json.dumps({"type": "event", "event": message["event"]}))

    async def call_command(self, message):
        """A supervisor's command, relayed by the live view."""
        if self.session is not None:
            await supervisor_command_apply(self.session, message["command"])

    async def disconnect(self, code):
        if self.call is not None:
            await self.channel_layer.group_discard(call_group(self.call.pk), self.channel_name)
        if self.session is not None and self.session.state != "ended":
            await self.session.hangup("hangup")
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self.tasks[2]), 10)
        for task in self.tasks:
            task.cancel()


def _report(call):
    """Write the report now, for the simulator that shows it at the end of the call."""
    from .reporting import call_report_generate

    report = call_report_generate(call=call)
    return {"summary": report.summary, "report": {
        "name": report.name, "phone": report.phone, "email": report.email, "company": report.company,
        "need": report.need, "appointment": report.appointment_at.isoformat() if report.appointment_at else None,
        "special_category": report.special_category}}


class LiveCallConsumer(AsyncWebsocketConsumer):
    """Watch one call and steer it; members of the call's tenant only."""

    async def connect(self):
        self.call = await self._call_for_member()
        await self.accept()
        if self.call is None:
            await self.close(code=POLICY_VIOLATION)
            return
        activate(self.call.tenant)  # for the rest of this connection's task
        await self.channel_layer.group_add(call_group(self.call.pk), self.channel_name)
        await self.send(text_data=json.dumps({"type": "hello", "call_id": str(self.call.pk),
                                              "status": self.call.status}))

    @sync_to_async
    def _call_for_member(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            return None
        with all_tenants_scope("live view: find the call, then check membership"):
            call = Call.objects.select_related("tenant").filter(pk=self.scope["url_route"]["kwargs"]["call_id"]).first()
        if call is None or membership_for(user, call.tenant) is None or not call.tenant.is_active:
            return None
        self.membership = membership_for(user, call.tenant)
        return call

    async def receive(self, text_data=None, bytes_data=None):
        try:
            message = json.loads(text_data or "")
            command = message["command"]
        except (ValueError, KeyError, TypeError):
            return await self._reply_error(_("Send {\"command\": \"take_over\" | \"hang_up\" | \"note\"}."))
        try:
            await sync_to_async(_supervise)(call_id=self.call.pk, user=self.scope["user"], command=command,
                                            note=str(message.get("text", ""))[:2000], tenant=self.call.tenant)
        except services.SupervisionRefused as refusal:
            return await self._reply_error(str(refusal))
        if command in ("take_over", "hang_up"):
            await self.channel_layer.group_send(call_group(self.call.pk), {"type": "call.command", "command": command})
        await self.channel_layer.group_send(call_group(self.call.pk), {"type": "call.event", "event": {
            "type": "supervisor", "command": command, "by": self.scope["user"].email}})

    async def _reply_error(self, reason):
        await self.send(text_data=json.dumps({"type": "error", "reason": reason}))

    async def call_event(self, message):
        await self.send(text_data=json.dumps({"type": "event", "event": message["event"]}))

    async def call_command(self, message):
        """Commands are for the call's transport; the live view has nothing to do."""

    async def disconnect(self, code):
        if getattr(self, "call", None) is not None:
            await self.channel_layer.group_discard(call_group(self.call.pk), self.channel_name)


def _supervise(*, call_id, user, command, note, tenant):
    from tenants.scope import tenant_scope

    with tenant_scope(tenant):
        call = Call.objects.get(pk=call_id)
        return services.call_supervise(call=call, user=user, command=command, note=note)
