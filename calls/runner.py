"""Run one call through the voice pipeline: the bridge between a Call row and a CallSession.

``CallRun.prepare`` (synchronous, inside the tenant's scope) gathers what the session needs: the provider chains
built from the register, the minimised context, the system prompt, the greeting with its AI disclosure, the output
filter, and the recorder that appends each AI request to the tenant's log. ``CallRun.finish`` stores what was said
and how each turn performed. Transports (the WebSocket consumer, the LiveKit bridge, ``simulate_call``) drive the
session in between.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import logging

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from compliance.services import ai_invocation_append, incident_candidate_record
from tenants.models import TenantSettings
from voice.gateway import InvocationRecorder, LanguageModelChain, SpeechToTextChain, TextToSpeechChain
from voice.protocols import ProviderSet
from voice.safeguards import (
    OutputFilter,
    PromptParts,
    build_system_prompt,
    greeting_with_disclosure,
    minimise_context,
)
from voice.session import CallSession, SessionConfig

from . import services
from .models import Call
from .providers import AIInvocationLog, TenantMinimisation, build_providers
from .recording import CallRecorder, recording_store

logger = logging.getLogger(__name__)

END_STATUS = {"transferred": Call.Status.TRANSFERRED, "error": Call.Status.FAILED}


def call_group(call_id) -> str:
    """Name of the Channels group that receives the call's events (live view, supervisors)."""
    return f"call.{call_id}"


def _contact_context(contact) -> dict:
    if contact is None:
        return {}
    return {
        "name": contact.name, "phone": contact.phone, "email": contact.email, "company": contact.company,
        "custom_fields": json.loads(contact.custom_fields or "{}"), "notes": contact.notes,
    }


def _script_text(script) -> str:
    """Everything the script itself says: URLs and phone numbers in it may be repeated by the agent."""
    steps = " ".join(step.get("question", "") for step in script.steps)
    return " ".join([script.greeting, script.goal, script.instructions, steps, script.closing])


@dataclasses.dataclass
class CallRun:
    call: Call
    providers: ProviderSet
    recorder: InvocationRecorder
    stt: SpeechToTextChain | None
    llm: LanguageModelChain
    tts: TextToSpeechChain | None
    config: SessionConfig
    output_filter: OutputFilter
    capture: CallRecorder | None = None  # the call's audio, when the tenant records calls
    events: list = dataclasses.field(default_factory=list)
    filtered: list = dataclasses.field(default_factory=list)
    broadcast: bool = True

    @classmethod
    def prepare(cls, call: Call, *, mode: str = "auto", fake_options: dict | None = None, hears: bool = True,
                speaks: bool = True, recorder_write=None) -> CallRun:
        """Gather what the call's session needs; ``hears``/``speaks``: caller audio in, agent audio out."""
        tenant, script = call.tenant, call.script
        tenant_settings = TenantSettings.objects.get(tenant=tenant)  # fresh: the tenant's choices as of now
        providers = build_providers(tenant=tenant, script=script, mode=mode, fake_options=fake_options)
        minimisation = TenantMinimisation.of(tenant_settings)
        contact = _contact_context(call.contact)
        context, removed = minimise_context(contact, minimisation.excluded_fields)
        write = recorder_write or functools.partial(ai_invocation_append, tenant=tenant, call_id=call.pk)
        recorder = InvocationRecorder(AIInvocationLog(write), minimisation=minimisation,
                                      minimised_fields=removed,
                                      register_version=providers.register_version)
        budgets = settings.PIPELINE_FIRST_OUTPUT_TIMEOUT_S
        prompt = build_system_prompt(
            PromptParts(company=tenant.name, language=script.language, goal=script.goal, steps=script.steps,
                        instructions=script.instructions, allowed_tools=script.allowed_tools), context)
        config = SessionConfig(
            greeting=greeting_with_disclosure(script.greeting, language=script.language, company=tenant.name),
            system_prompt=prompt, language=script.language, voice=script.voice or None,
            max_duration_s=script.max_duration_s, silence_timeout_s=script.silence_timeout_s,
            max_unclear_turns=script.transfer_after_misunderstandings, teach_markers=False,
            # Load tests compare with the injected provider latency, which an early start would partly hide.
            early_llm_start=mode != "bench",
        )
        return cls(
            call=call, providers=providers, recorder=recorder, config=config,
            stt=SpeechToTextChain(providers.stt, recorder, first_output_timeout_s=budgets["stt"])
            if hears and providers.stt else None,
            llm=LanguageModelChain(providers.llm, recorder, first_output_timeout_s=budgets["llm"]),
            tts=TextToSpeechChain(providers.tts, recorder, first_output_timeout_s=budgets["tts"])
            if speaks and providers.tts else None,
            output_filter=OutputFilter(language=script.language, allowed_text=_script_text(script)),
            capture=CallRecorder() if tenant_settings.recording_enabled else None,
        )

    def record_caller(self, frame) -> None:
        """Note a frame of the caller's audio for the recording (transports call this as frames arrive)."""
        if self.capture is not None:
            self.capture.caller_frame(frame.pcm)

    def record_agent(self, frame) -> None:
        """Note a frame of the agent's audio for the recording, as it is played."""
        if self.capture is not None:
            self.capture.agent_frame(frame.pcm)

    def session(self) -> CallSession:
        self.recorder.listeners.append(self._on_ai_request)
        return CallSession(self.config, self.stt, self.llm, self.tts, emit=self._emit,
                           output_filter=self._filter)

    def _on_ai_request(self, row: dict) -> None:
        """Show each AI request on the live views as it is logged (what and where, never the content)."""
        data = {"type": "ai_request", "provider": row["provider"], "role": row["role"], "region": row["region"],
                "outcome": row["outcome"], "duration_ms": row["duration_ms"], "request_bytes": row["request_bytes"]}
        if self.broadcast:
            asyncio.get_running_loop().create_task(self._broadcast(data))

    async def _broadcast(self, data: dict) -> None:
        layer = get_channel_layer()
        if layer is not None:
            await layer.group_send(call_group(self.call.pk), {"type": "call.event", "event": data})

    def _filter(self, text: str) -> str:
        verdict = self.output_filter.check(text)
        if verdict.replaced:
            self.filtered.append({"reason": verdict.reason, "text": text, "provider": ",".join(self.llm.used)})
        return verdict.text

    async def _emit(self, event) -> None:
        data = event.to_dict()
        self.events.append(data)
        if data["type"] == "transcript" and data.get("speaker") == "caller" and data.get("final"):
            self.output_filter.note_caller(data["text"])
        if self.broadcast:
            await self._broadcast(data)

    async def finish(self, session: CallSession, end_reason: str) -> Call:
        await self.recorder.flush()
        return await sync_to_async(self._store)(session, end_reason)

    def _store(self, session: CallSession, end_reason: str) -> Call:
        transcript = [{"speaker": line["speaker"], "text": line["text"], "interrupted": line["interrupted"],
                       "started_ms": round(line["at"] * 1000) if line.get("at") is not None else None}
                      for line in session.transcript if line["text"].strip()]
        used = [*self._used(self.stt), *self.llm.used, *self._used(self.tts)]
        call = services.call_record_conversation(call=self.call, transcript=transcript, turn_metrics=session.turns,
                                                 interruptions=sum(t.get("interruptions", 0) for t in session.turns),
                                                 providers_used=used)
        for item in self.filtered:
            incident_candidate_record(tenant=call.tenant, call_id=call.pk, reason=item["reason"],
                                      provider=item["provider"], excerpt=item["text"])
        if self.capture is not None:
            recording_store(call=call, recorder=self.capture)
        status = END_STATUS.get(end_reason, Call.Status.COMPLETED)
        self.call = services.call_transition(call=call, to=status, reason=end_reason)
        return self.call

    @staticmethod
    def _used(chain) -> list[str]:
        return chain.used if chain is not None else []


SUPERVISOR_END_REASONS = {"take_over": "transferred", "hang_up": "supervisor_hang_up"}


async def supervisor_command_apply(session: CallSession, command: str) -> None:
    """Carry out a supervisor's command on the session its transport runs (the transport does the transfer)."""
    reason = SUPERVISOR_END_REASONS.get(command)
    if reason is not None and session.state != "ended":
        await session.hangup(reason)
