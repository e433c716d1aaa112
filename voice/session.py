"""The asyncio call session: caller audio in, agent audio out, one conversation from greeting to hang-up.

Pipeline: caller frames -> VAD (barge-in, silence, end of speech) and one long-running STT stream -> end of turn
on a final transcript with ``end_of_utterance`` (or a typed line) -> LLM token stream -> action markers stripped
(see ``voice.text``) -> sentences -> ``output_filter`` -> TTS -> ``audio_out``. The LLM keeps streaming
while the first sentence is synthesized and played.

Integration notes:

* Push caller audio as continuous 20 ms frames (silence included): the VAD needs the silence to see speech end.
* Drain ``audio_out`` at real time (``play_out`` does it); taking a frame counts as playing it. If nothing drains
  it, replies never finish. For a text-only simulator pass ``tts=None``: replies then finish as soon as written.
* ``run()`` returns the end reason: "hangup" (or what ``hangup`` was given), "completed" (``[[end_call]]``),
  "transferred" (after a ``transfer_requested`` event), "silence", "max_duration", "cancelled" or "error".
* The greeting (the AI disclosure) cannot be interrupted; what the caller says meanwhile is answered after it.
* Transfers come as a ``transfer_requested`` event with a reason: the ``[[transfer: ...]]`` argument,
  "caller_request" (the caller asked for a person), "misunderstanding" or "stt_unavailable"; the session ends
  right after it, and the transport carries out the transfer.
* Silence and max duration end the call after ``goodbye_text``; transfers are announced with ``transfer_text``.
* ``e2e_ms`` runs to the moment the first frame is put into ``audio_out``; the transport adds its own delay.
* ``emit`` receives events in order from one delivery task, so a slow consumer never stalls the audio path.

Around ``CallSession`` (here) are its parts: ``config`` (``SessionConfig``), ``events`` (what it
reports, and the outbox), ``turns`` (turn metrics, timers) and ``reply`` (the LLM stream, the
history, one agent reply). The names a transport needs are importable from this module.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from .audio import FRAME_BYTES, FRAME_MS, SAMPLE_RATE, AudioFrame, BadAudio
from .config import SessionConfig
from .events import (
    Emit,
    Ended,
    ErrorEvent,
    EventOutbox,
    Interrupted,
    Resumed,
    SessionEvent,
    StateChanged,
    ToolCalled,
    TranscriptEvent,
    TransferRequested,
    TurnMetricsEvent,
)
from .pacing import AudioOutQueue, PlayoutStats, play_out
from .providers.base import (
    ChatMessage,
    LanguageModel,
    ProviderError,
    SpeechToText,
    TextToSpeech,
    Transcript,
    closing_stream,
)
from .reply import Action, AgentReply, ConversationHistory, LlmStream, ReplyContext
from .text import Marker, is_intelligible, marker_instructions, normalize, wants_human
from .turns import Timer, TurnMetrics
from .vad import VadEvent, VoiceActivityDetector

__all__ = [
    "AudioOutQueue", "CallSession", "ErrorEvent", "Ended", "Interrupted", "PlayoutStats", "Resumed",
    "SessionConfig", "SessionEvent", "StateChanged", "ToolCalled", "TranscriptEvent", "TransferRequested",
    "TurnMetrics", "TurnMetricsEvent", "play_out",
]

logger = logging.getLogger(__name__)

ToolHandler = Callable[[str], Awaitable[Any] | Any]


class _FrameFeed:
    """The caller's frames as the async iterator an STT stream consumes; ``close`` ends it."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[AudioFrame | None] = asyncio.Queue()

    def __len__(self) -> int:
        return self._queue.qsize()

    def put(self, frame: AudioFrame) -> None:
        self._queue.put_nowait(frame)

    def close(self) -> None:
        self._queue.put_nowait(None)

    def __aiter__(self) -> _FrameFeed:
        return self

    async def __anext__(self) -> AudioFrame:
        frame = await self._queue.get()
        if frame is None:
            self._queue.put_nowait(None)  # stay ended for any later reader
            raise StopAsyncIteration
        return frame


@dataclass(slots=True)
class _Interruption:
    """A reply cut off by caller speech, waiting to learn whether the interruption was real."""

    reply: AgentReply
    heard_text: str
    remainder: list[str]


@dataclass(slots=True)
class _Speculation:
    """An LLM request started on a stable interim transcript, before the caller finished."""

    key: str
    context: list[ChatMessage]  # the history the request was made with, before the caller's message
    stream: LlmStream


@dataclass(slots=True)
class _Deferred:
    """A caller turn that came while the agent could not be interrupted (the greeting)."""

    text: str
    clear: bool
    metrics: TurnMetrics


class CallSession:
    """Run one call: greet, listen, answer, handle barge-in, actions, timeouts and provider failures.

    ``stt``, ``llm`` and ``tts`` follow the protocols in ``providers.base`` (pass fault-tolerant chains; a
    ``ProviderError`` is reported as an ``error`` event and the call goes on). ``tts=None`` runs text-only.
    ``output_filter`` maps each sentence before it is spoken (return "" to drop it; it may be applied twice to a
    sentence resumed after a false interruption, so make it idempotent). ``tools`` maps marker names to handlers
    called with the marker's argument. ``vad`` replaces the default voice activity detector.
    """

    def __init__(self, config: SessionConfig, stt: SpeechToText, llm: LanguageModel, tts: TextToSpeech | None, *,
                 emit: Emit | None = None, clock: Callable[[], float] = time.monotonic,
                 output_filter: Callable[[str], str] | None = None, tools: Mapping[str, ToolHandler] | None = None,
                 vad: VoiceActivityDetector | None = None) -> None:
        self.config = config
        self.stt, self.llm, self.tts = stt, llm, tts
        self.audio_out = AudioOutQueue()
        self.transcript: list[dict[str, Any]] = []
        self.turns: list[dict[str, Any]] = []
        self.state = "idle"
        self.end_reason: str | None = None
        self.bad_frames = 0
        self.stt_dropped_frames = 0
        self._clock = clock
        self._tools = {name.lower(): handler for name, handler in (tools or {}).items()}
        self._outbox = EventOutbox(emit)
        self._vad = vad or VoiceActivityDetector()
        self._history = ConversationHistory(self._system_prompt(), config.max_history_turns)
        self._ctx = self._reply_context(tts, output_filter)
        self._tasks: set[asyncio.Task] = set()
        self._stt_feed = _FrameFeed()
        self._stt_task: asyncio.Task | None = None
        self._done = asyncio.Event()
        self._reply: AgentReply | None = None
        self._interruption: _Interruption | None = None
        self._speculation: _Speculation | None = None
        self._deferred: _Deferred | None = None
        self._started = self._ending = self._ended = False
        self._reprompted = False
        self._unclear_turns = 0
        self._bad_run = 0
        self._final_parts: list[str] = []
        self._caller_onset_ms = 0.0
        self._speech_end_at: float | None = None
        self._silence, self._unheard, self._false_interruption, self._max_duration, self._deadline = (
            Timer(), Timer(), Timer(), Timer(), Timer())

    @property
    def history(self) -> list[ChatMessage]:
        """Return the conversation as sent to the LLM (system prompt first, interrupted replies as heard)."""
        return list(self._history.messages)

    # -- public API --

    async def run(self) -> str:
        """Run the call until it ends and return the end reason."""
        if self._started:
            raise RuntimeError("a call session runs only once")
        self._started = True
        self._outbox.start()
        try:
            if not self._ended:
                self._start()
            await self._done.wait()
        except asyncio.CancelledError:
            self._finish("cancelled")
            raise
        finally:
            await self._shutdown()
        return self.end_reason

    async def push_audio(self, frame: AudioFrame) -> None:
        """Take the next 20 ms of caller audio; raise ``BadAudio`` (and go on) for anything else."""
        if not isinstance(frame, AudioFrame) or len(frame.pcm) != FRAME_BYTES or frame.sample_rate != SAMPLE_RATE:
            self._refuse(frame)
        if self._ended:
            return
        self._bad_run = 0
        self._feed_stt(frame)
        event = self._vad.process(frame)
        if event is not None:
            self._on_vad_event(event)
        elif self._reply is not None and self._vad.is_speaking:
            self._check_barge_in()

    def _feed_stt(self, frame: AudioFrame) -> None:
        if self.stt is None:  # a typed conversation: the caller's audio is not transcribed
            return
        if len(self._stt_feed) < self.config.stt_backlog_frames:
            self._stt_feed.put(frame)
        else:
            self.stt_dropped_frames += 1

    async def push_text(self, text: str) -> None:
        """Take a typed caller line as a final transcript (text simulator)."""
        if not self._ended:
            self._silence.cancel()
            self._on_caller_final(text, "text")

    async def hangup(self, reason: str = "hangup") -> None:
        """End the call now (the caller hung up or the transport closed)."""
        self._finish(reason)

    # -- lifecycle --

    def _system_prompt(self) -> str:
        if not self.config.teach_markers:
            return self.config.system_prompt
        return f"{self.config.system_prompt}\n\n{marker_instructions(self.config.language, self._tools)}"

    def _reply_context(self, tts: TextToSpeech | None, output_filter: Callable[[str], str] | None) -> ReplyContext:
        config = self.config
        return ReplyContext(
            tts=tts, audio=self.audio_out, language=config.language, voice=config.voice, clock=self._clock,
            spawn=self._spawn, output_filter=output_filter, min_sentence_chars=config.min_sentence_chars,
            fallback_text=config.fallback_text, on_first_audio=self._on_first_audio, on_marker=self._on_marker,
            on_done=self._on_reply_done, on_error=self._report_error)

    def _start(self) -> None:
        self._stt_task = self._spawn(self._run_stt()) if self.stt is not None else None
        self._later(self._max_duration, self.config.max_duration_s, self._on_max_duration)
        self._new_reply("greeting", interruptible=False).say([self.config.greeting])

    def _finish(self, reason: str) -> None:
        """End the call: record what was heard of the current reply and report the end."""
        if self._ended:
            return
        self._cancel_speculation()
        self._abandon_reply()
        self._ended = True
        self.end_reason = reason
        self._set_state("ended")
        self._emit(Ended, reason=reason)
        self._done.set()

    async def _shutdown(self) -> None:
        for timer in (self._silence, self._unheard, self._false_interruption, self._max_duration, self._deadline):
            timer.cancel()
        self._cancel_speculation()
        if self._reply is not None:
            self._reply.cancel()
        self._stt_feed.close()
        self.audio_out.close()
        if self._stt_task is not None:
            await asyncio.wait({self._stt_task}, timeout=self.config.stt_drain_s)
        while self._tasks:
            pending = list(self._tasks)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self._outbox.close()

    def _spawn(self, coro: Coroutine) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._on_task_done)
        return task

    def _on_task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        # A bug, not a provider failure: end the call visibly rather than leave the caller in silence.
        logger.error("call session task failed", exc_info=task.exception())
        self._emit(ErrorEvent, stage="session", message=repr(task.exception()), recoverable=False)
        self._finish("error")

    def _later(self, timer: Timer, delay_s: float, callback: Callable[[], None]) -> None:
        timer.start(delay_s, functools.partial(self._guarded, callback))

    def _guarded(self, callback: Callable[[], None]) -> None:
        try:
            callback()
        except Exception:
            logger.exception("call session timer failed")
            self._finish("error")

    # -- caller audio --

    def _refuse(self, frame: Any) -> None:
        pcm = getattr(frame, "pcm", b"")
        rate = getattr(frame, "sample_rate", None)
        reason = (f"caller audio must come as {FRAME_BYTES}-byte frames ({FRAME_MS} ms of {SAMPLE_RATE} Hz 16-bit "
                  f"mono); got {len(pcm) if isinstance(pcm, bytes | bytearray) else 'no'} bytes at {rate} Hz")
        self.bad_frames += 1
        if not self._bad_run:  # one event per run of bad frames, not one per frame
            self._emit(ErrorEvent, stage="audio", message=reason)
        self._bad_run += 1
        raise BadAudio(reason)

    def _on_vad_event(self, event: VadEvent) -> None:
        if event.kind == "speech_start":
            self._caller_onset_ms = event.at_ms
            self._silence.cancel()
            self._unheard.cancel()
            self._false_interruption.cancel()
            self._check_barge_in()
            return
        self._speech_end_at = self._stream_to_clock(event.at_ms)
        self._after_caller_speech(event.speech_ms)

    def _check_barge_in(self) -> None:
        reply = self._reply
        if (reply is not None and reply.audible and reply.interruptible
                and self._vad.speech_ms >= self.config.barge_in_min_ms):
            self._interrupt(reply)

    def _after_caller_speech(self, speech_ms: float) -> None:
        if self._ending or self._ended or not self._started:
            return
        if self._interruption is not None:
            self._later(self._false_interruption, self.config.false_interruption_timeout_ms / 1000.0,
                        self._on_false_interruption)
            return
        if self._reply is not None:
            return
        self._arm_silence()
        timeout_ms = self.config.no_transcript_timeout_ms
        if timeout_ms and speech_ms >= self.config.min_unheard_speech_ms:
            self._later(self._unheard, timeout_ms / 1000.0, self._on_unheard)

    def _stream_to_clock(self, at_ms: float) -> float:
        # Frames arrive in real time, so stream time lags the clock by what the VAD has processed since.
        return self._clock() - (self._vad.now_ms - at_ms) / 1000.0

    def _caller_speech_end(self) -> float | None:
        if self._vad.is_speaking:
            return self._stream_to_clock(self._caller_onset_ms + self._vad.speech_ms)
        return self._speech_end_at

    # -- transcripts --

    async def _run_stt(self) -> None:
        failures = 0
        while not self._ended:
            try:
                stream = self.stt.stream(self._stt_feed, language=self.config.language)
                async with closing_stream(stream) as transcripts:
                    async for transcript in transcripts:
                        failures = 0
                        self._on_transcript(transcript)
                return
            except ProviderError as exc:
                self._report_error("stt", exc)
            failures += 1
            if failures >= self.config.stt_max_failures:
                self._transfer("stt_unavailable")
                return
            self._stt_feed = _FrameFeed()  # a fresh stream starts from fresh audio
            await asyncio.sleep(min(0.2 * failures, 1.0))

    def _on_transcript(self, transcript: Transcript) -> None:
        if self._ended:
            return
        if not transcript.is_final:
            self._on_interim(transcript)
            return
        self._final_parts.append(transcript.text.strip())
        if transcript.end_of_utterance:
            text = " ".join(part for part in self._final_parts if part)
            self._final_parts.clear()
            self._on_caller_final(text, "audio", transcript.confidence)

    def _on_interim(self, transcript: Transcript) -> None:
        if transcript.text.strip():
            self._emit(TranscriptEvent, speaker="caller", text=transcript.text.strip(), final=False)
        self._maybe_speculate(transcript.text, transcript.stability)

    def _on_caller_final(self, text: str, source: str, confidence: float | None = None) -> None:
        """Handle the end of a caller turn: interrupt, defer, ignore or answer it."""
        self._unheard.cancel()
        text = text.strip()
        clear = is_intelligible(text, confidence, self.config.min_confidence)
        if self._ending:
            self._record_caller(text)
            return
        metrics = self._new_metrics(source)
        proceed = self._make_room_for_turn(text, source, clear)
        self._record_caller(text)
        if not proceed:
            return
        if not self._started or (self._reply is not None and not self._reply.interruptible):
            self._defer(text, clear, metrics)
            return
        self._start_turn(text, clear, metrics)

    def _make_room_for_turn(self, text: str, source: str, clear: bool) -> bool:
        """Settle the agent's current output before a new turn; return False if the final is to be ignored."""
        if self._interruption is not None:
            if not clear:
                return False  # noise during a barge-in: the false-interruption timer will resume the reply
            self._confirm_interruption()
            return True
        reply = self._reply
        if reply is None or not reply.interruptible:
            return True
        if not reply.audible:
            self._drop_thinking_reply(reply)
            return True
        if source == "audio" and (not clear or len(text.split()) < self.config.min_interruption_words):
            return False  # a backchannel while the agent speaks
        self._interrupt(reply)
        self._confirm_interruption()
        return True

    def _new_metrics(self, source: str) -> TurnMetrics:
        speech_end = self._caller_speech_end() if source == "audio" else None
        return TurnMetrics(source=source, final_at=self._clock(), speech_end_at=speech_end)

    def _defer(self, text: str, clear: bool, metrics: TurnMetrics) -> None:
        deferred = self._deferred
        if deferred is None:
            self._deferred = _Deferred(text, clear, metrics)
        else:
            deferred.text = f"{deferred.text} {text}".strip()
            deferred.clear = deferred.clear or clear

    # -- turns --

    def _start_turn(self, text: str, clear: bool, metrics: TurnMetrics) -> None:
        self._silence.cancel()
        self._unheard.cancel()
        self._reprompted = False
        if not clear:
            self._on_unclear_turn(metrics)
        elif wants_human(text):
            self._unclear_turns = 0
            self._history.add("user", text)
            self._transfer("caller_request", metrics)
        else:
            self._unclear_turns = 0
            self._reply_with_llm(text, metrics)

    def _on_unclear_turn(self, metrics: TurnMetrics) -> None:
        self._cancel_speculation()
        self._unclear_turns += 1
        if self._unclear_turns >= self.config.max_unclear_turns:
            self._transfer("misunderstanding", metrics)
        else:
            self._new_reply("fallback", turn=metrics).say([self.config.fallback_text])

    def _reply_with_llm(self, text: str, metrics: TurnMetrics) -> None:
        stream, metrics.early_llm = self._take_speculation(text)
        self._history.add("user", text)
        if stream is None:
            stream = self._open_llm(self._history.for_llm())
        self._new_reply("llm", turn=metrics).stream(stream)

    def _open_llm(self, messages: list[ChatMessage]) -> LlmStream:
        return LlmStream(self.llm, messages, clock=self._clock, spawn=self._spawn,
                         max_tokens=self.config.llm_max_tokens, temperature=self.config.llm_temperature)

    def _maybe_speculate(self, text: str, stability: float | None) -> None:
        config = self.config
        if not config.early_llm_start or stability is None or stability < config.early_llm_min_stability:
            return
        if self._reply is not None or self._deferred is not None or self._ending or not self._started:
            return
        key = normalize(text)
        if not key or wants_human(text) or (self._speculation is not None and self._speculation.key == key):
            return
        self._cancel_speculation()
        # During a barge-in the heard part of the cut reply will precede the caller's words in the history.
        heard = self._interruption.heard_text if self._interruption is not None else ""
        context = self._history.snapshot(pending_assistant=heard)
        stream = self._open_llm(self._history.for_llm(pending_user=text, context=context))
        self._speculation = _Speculation(key, context, stream)

    def _take_speculation(self, text: str) -> tuple[LlmStream | None, str | None]:
        """Return the speculative request if it answered this very text ("hit"), else cancel it ("miss")."""
        speculation, self._speculation = self._speculation, None
        if speculation is None:
            return None, None
        if speculation.key == normalize(text) and speculation.context == self._history.messages:
            return speculation.stream, "hit"
        speculation.stream.cancel()
        return None, "miss"

    def _cancel_speculation(self) -> None:
        if self._speculation is not None:
            self._speculation.stream.cancel()
            self._speculation = None

    # -- replies --

    def _new_reply(self, kind: str, *, interruptible: bool = True, turn: TurnMetrics | None = None,
                   action: Action | None = None, prefix: str = "") -> AgentReply:
        self._cancel_speculation()
        self._silence.cancel()
        self._unheard.cancel()
        reply = AgentReply(self._ctx, kind, interruptible=interruptible, turn=turn, action=action, prefix=prefix)
        self._reply = reply
        self._set_state("thinking")
        return reply

    def _on_first_audio(self, reply: AgentReply) -> None:
        if reply is self._reply:
            self._set_state("speaking")

    def _on_marker(self, reply: AgentReply, marker: Marker) -> bool:
        """Act on a marker in the LLM's reply; return True when the reply ends at it."""
        if marker.name == "end_call":
            reply.action = Action("end", "completed")
            return True
        if marker.name == "transfer":
            reply.action = Action("transfer", marker.argument or "requested by the agent")
            return True
        handler = self._tools.get(marker.name)
        if handler is None:
            self._emit(ErrorEvent, stage="llm", message=f"unknown action marker {marker.name!r} ignored")
            return False
        self._emit(ToolCalled, name=marker.name, argument=marker.argument)
        self._spawn(self._run_tool(marker, handler))
        return False

    async def _run_tool(self, marker: Marker, handler: ToolHandler) -> None:
        try:
            result = handler(marker.argument)
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            logger.exception("tool %s failed", marker.name)
            self._report_error("tool", exc)

    def _on_reply_done(self, reply: AgentReply) -> None:
        if reply is not self._reply:
            return
        self._reply = None
        if text := reply.spoken_text():
            self._history.add("assistant", text)
            self._record_agent(text, interrupted=False)
        if reply.turn is not None:
            self._close_turn(reply.turn)
        if reply.action is not None:
            self._apply_action(reply.action)
        else:
            self._listen()

    def _listen(self) -> None:
        """Wait for the caller: take a deferred turn, or start counting silence."""
        if self._ending or self._ended:
            return
        self._set_state("listening")
        if self._deferred is not None:
            deferred, self._deferred = self._deferred, None
            self._start_turn(deferred.text, deferred.clear, deferred.metrics)
        elif not self._vad.is_speaking:
            self._arm_silence()

    def _interrupt(self, reply: AgentReply) -> None:
        """Stop the reply and drop its queued audio; the interruption stays pending until confirmed or found
        false."""
        heard_text, remainder, played = reply.heard(self.audio_out.taken)
        reply.cancel()
        dropped = self.audio_out.clear()
        self._reply = None
        if reply.turn is not None:
            reply.turn.interruptions += 1
        self._interruption = _Interruption(reply, heard_text, remainder)
        self._emit(Interrupted, heard_text=heard_text, heard_ms=played * FRAME_MS, dropped_frames=dropped)
        self._set_state("listening")

    def _confirm_interruption(self) -> None:
        """Keep only the heard part of the interrupted reply."""
        interruption, self._interruption = self._interruption, None
        self._false_interruption.cancel()
        if interruption.heard_text:
            self._history.add("assistant", interruption.heard_text)
            self._record_agent(interruption.heard_text, interrupted=True)
        if interruption.reply.turn is not None:
            self._close_turn(interruption.reply.turn)

    def _on_false_interruption(self) -> None:
        interruption = self._interruption
        if interruption is None or self._vad.is_speaking or self._ending:
            return
        if not interruption.remainder:
            self._confirm_interruption()
            self._listen()
            return
        self._interruption = None
        self._emit(Resumed, text=" ".join(interruption.remainder))
        old = interruption.reply
        self._new_reply("resume", turn=old.turn, action=old.action,
                        prefix=interruption.heard_text).say(interruption.remainder)

    def _drop_thinking_reply(self, reply: AgentReply) -> None:
        # The caller went on before the agent said anything: the next turn's text joins this one's.
        reply.cancel()
        self._reply = None

    def _abandon_reply(self) -> None:
        reply = self._reply
        if reply is not None and reply.audible:
            self._interrupt(reply)
        elif reply is not None:
            reply.cancel()
            self._reply = None
            if reply.turn is not None:
                self._close_turn(reply.turn)
        if self._interruption is not None:
            self._confirm_interruption()

    # -- actions and endings --

    def _transfer(self, reason: str, metrics: TurnMetrics | None = None) -> None:
        self._wind_down(self.config.transfer_text, Action("transfer", reason), kind="transfer", turn=metrics)

    def _wind_down(self, text: str, action: Action, *, kind: str, turn: TurnMetrics | None = None) -> None:
        """Speak a last line that cannot be interrupted, then act; act anyway after ``goodbye_grace_s``."""
        if self._ending or self._ended:
            return
        self._ending = True
        for timer in (self._silence, self._unheard, self._false_interruption):
            timer.cancel()
        self._cancel_speculation()
        self._deferred = None
        self._abandon_reply()
        if not text:
            self._apply_action(action)
            return
        self._later(self._deadline, self.config.goodbye_grace_s, functools.partial(self._apply_action, action))
        self._new_reply(kind, interruptible=False, turn=turn, action=action).say([text])

    def _apply_action(self, action: Action) -> None:
        if self._ended:
            return
        if action.kind == "transfer":
            self._emit(TransferRequested, reason=action.reason)
            self._finish("transferred")
        else:
            self._finish(action.reason)

    def _arm_silence(self) -> None:
        if self.config.silence_timeout_s and not (self._ending or self._ended):
            self._later(self._silence, self.config.silence_timeout_s, self._on_silence)

    def _on_silence(self) -> None:
        if self._reply is not None or self._interruption is not None or self._ending or self._vad.is_speaking:
            return
        if self._reprompted:
            self._wind_down(self.config.goodbye_text, Action("end", "silence"), kind="goodbye")
            return
        self._reprompted = True
        self._new_reply("reprompt").say([self.config.reprompt_text])

    def _on_unheard(self) -> None:
        """Count caller speech that got no transcript at all as an unintelligible turn."""
        if self._reply is not None or self._interruption is not None or self._ending or self._vad.is_speaking:
            return
        metrics = TurnMetrics(source="audio", final_at=self._clock(), speech_end_at=self._speech_end_at)
        self._start_turn("", False, metrics)

    def _on_max_duration(self) -> None:
        if self._ending:
            return  # a last line is already being spoken, with its own deadline
        self._wind_down(self.config.goodbye_text, Action("end", "max_duration"), kind="goodbye")

    # -- records and events --

    def _record_caller(self, text: str) -> None:
        if text:
            self._record("caller", text, interrupted=False)

    def _record_agent(self, text: str, *, interrupted: bool) -> None:
        self._record("agent", text, interrupted=interrupted)

    def _record(self, speaker: str, text: str, *, interrupted: bool) -> None:
        at = self._clock()
        self.transcript.append({"speaker": speaker, "text": text, "interrupted": interrupted, "at": at})
        self._emit(TranscriptEvent, speaker=speaker, text=text, final=True, interrupted=interrupted, at=at)

    def _close_turn(self, metrics: TurnMetrics) -> None:
        if metrics.closed:
            return
        metrics.closed = True
        data = metrics.to_dict(turn=len(self.turns) + 1)
        self.turns.append(data)
        self._emit(TurnMetricsEvent, **data)

    def _report_error(self, stage: str, exc: BaseException) -> None:
        self._emit(ErrorEvent, stage=stage, message=str(exc) or type(exc).__name__)

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self._emit(StateChanged, state=state)

    def _emit(self, event_type: type[SessionEvent], **fields: Any) -> None:
        fields.setdefault("at", self._clock())
        self._outbox.put(event_type(**fields))
