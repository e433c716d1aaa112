"""Scripted stand-ins for the three provider roles, for tests and load benchmarks.

Latencies are ``asyncio.sleep`` calls on the event loop, and jitter and failures come from ``random.Random(seed)``,
so a run with the same seed and inputs is reproducible. Each fake draws both its failure roll and its jitter for
every request, so changing ``fail_rate`` does not shift the jitter sequence. ``requests`` counts requests and
``cancelled`` counts streams abandoned before their end (task cancelled or generator closed); neither keeps content.
"""

from __future__ import annotations

import asyncio
import math
import random
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Literal

from ..audio import FRAME_BYTES, FRAME_MS, AudioFrame, tone
from ..vad import VoiceActivityDetector
from .base import ChatMessage, JsonResult, LLMDelta, ProviderError, ProviderInfo, Transcript, Usage

FailKind = Literal["transient", "permanent", "timeout"]
Script = list[str] | Callable[[list[ChatMessage]], str]

# Roughly one token per four characters, like the usual BPE vocabularies; long words come out in several pieces.
_PIECE = re.compile(r"\s*\S{1,4}|\s+")


class _Fake:
    """Hold the seeded randomness, failure settings and counters shared by the fakes."""

    slug = "fake"

    def __init__(self, *, fail_rate: float, fail_kind: FailKind, jitter_ms: float, seed: int) -> None:
        if not 0.0 <= fail_rate <= 1.0:
            raise ValueError("fail_rate must be between 0 and 1")
        if fail_kind not in ("transient", "permanent", "timeout"):
            raise ValueError(f"unknown fail_kind {fail_kind!r}")
        self.info = ProviderInfo(slug=self.slug, model="fake", region="local")
        self.fail_rate = fail_rate
        self.fail_kind = fail_kind
        self.jitter_ms = jitter_ms
        self.requests = 0
        self.cancelled = 0
        self._rng = random.Random(seed)

    def _roll(self) -> tuple[bool, float]:
        """Draw whether the next request fails and its extra latency in seconds."""
        fails = self._rng.random() < self.fail_rate
        return fails, self._rng.uniform(0.0, self.jitter_ms) / 1000.0

    def _error(self, what: str) -> ProviderError:
        return ProviderError(f"{self.slug}: simulated {self.fail_kind} failure ({what})",
                             permanent=self.fail_kind == "permanent", timeout=self.fail_kind == "timeout")


# --- speech to text ------------------------------------------------------------------------------------------------

@dataclass
class _Segment:
    words: list[str]
    shown: int = 0


@dataclass
class _SttRun:
    """The state of one ``stream()`` call: the VAD, the open segment and the finals waiting for their delay."""

    queue: asyncio.Queue
    vad: VoiceActivityDetector
    segment: _Segment | None = None
    finals: set[asyncio.Task] = field(default_factory=set)


_DONE = object()


class FakeSpeechToText(_Fake):
    """Transcribe speech segments found by the VAD as the next scripted utterance.

    During a segment, an interim transcript (a growing prefix of the utterance) is yielded for every
    ``interim_every_ms`` of voiced audio; the final one follows ``final_delay_ms`` (+ jitter) of loop time after
    the VAD reports the end of speech (``endpointing_ms`` of silence), or after the frames end mid-speech. Frames
    keep being consumed meanwhile. Once ``utterances`` is used up, further speech yields nothing; the script is
    shared by successive streams of the same instance. ``fail_rate`` applies per utterance: a failing one raises
    ``ProviderError`` where its final would have come.
    """

    slug = "fake-stt"

    def __init__(self, utterances: list[str], *, final_delay_ms: float = 300.0, interim_every_ms: float | None = 200.0,
                 endpointing_ms: float = 300.0, jitter_ms: float = 0.0, fail_rate: float = 0.0,
                 fail_kind: FailKind = "transient", seed: int = 0, vad_options: dict | None = None) -> None:
        super().__init__(fail_rate=fail_rate, fail_kind=fail_kind, jitter_ms=jitter_ms, seed=seed)
        self.utterances = list(utterances)
        self.final_delay_ms = final_delay_ms
        self.interim_every_ms = interim_every_ms
        self._vad_options = {"hangover_ms": endpointing_ms, **(vad_options or {})}
        self._next = 0

    @property
    def remaining(self) -> int:
        return len(self.utterances) - self._next

    async def stream(self, frames: AsyncIterator[AudioFrame], *, language: str) -> AsyncIterator[Transcript]:
        """Transcribe until ``frames`` ends; yield interim and final transcripts."""
        self.requests += 1
        run = _SttRun(queue=asyncio.Queue(), vad=VoiceActivityDetector(**self._vad_options))
        reader = asyncio.create_task(self._read(frames, run))
        try:
            while (item := await run.queue.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                yield item
        except (asyncio.CancelledError, GeneratorExit):
            self.cancelled += 1
            raise
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    async def _read(self, frames: AsyncIterator[AudioFrame], run: _SttRun) -> None:
        try:
            async for frame in frames:
                self._on_frame(frame, run)
            if run.vad.is_speaking:
                self._close_segment(run)
            await asyncio.gather(*run.finals)
            run.queue.put_nowait(_DONE)
        except Exception as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            run.queue.put_nowait(exc)
        finally:
            for task in run.finals:
                task.cancel()

    def _on_frame(self, frame: AudioFrame, run: _SttRun) -> None:
        event = run.vad.process(frame)
        if event is not None and event.kind == "speech_start":
            run.segment = self._open_segment()
        elif event is not None:
            self._close_segment(run)
        if run.segment is not None and run.vad.is_speaking:
            self._maybe_interim(run)

    def _open_segment(self) -> _Segment | None:
        if self._next >= len(self.utterances):
            return None
        text = self.utterances[self._next]
        self._next += 1
        return _Segment(words=text.split())

    def _maybe_interim(self, run: _SttRun) -> None:
        segment = run.segment
        if not self.interim_every_ms or segment.shown >= len(segment.words):
            return
        if run.vad.speech_ms < (segment.shown + 1) * self.interim_every_ms:
            return
        segment.shown += 1
        stability = round(0.5 + 0.4 * segment.shown / len(segment.words), 2)
        run.queue.put_nowait(Transcript(" ".join(segment.words[:segment.shown]), is_final=False, stability=stability))

    def _close_segment(self, run: _SttRun) -> None:
        segment, run.segment = run.segment, None
        if segment is None:
            return
        fails, jitter = self._roll()
        task = asyncio.create_task(self._finalize(" ".join(segment.words), fails, jitter, run.queue))
        run.finals.add(task)
        task.add_done_callback(run.finals.discard)

    async def _finalize(self, text: str, fails: bool, jitter: float, queue: asyncio.Queue) -> None:
        await asyncio.sleep(self.final_delay_ms / 1000.0 + jitter)
        if fails:
            queue.put_nowait(self._error("utterance"))
            return
        queue.put_nowait(Transcript(text, is_final=True, end_of_utterance=True, stability=1.0, confidence=0.95))


# --- language model ------------------------------------------------------------------------------------------------

class FakeLanguageModel(_Fake):
    """Stream scripted replies piece by piece at ``tokens_per_second`` after ``first_token_ms`` (+ jitter).

    ``replies`` (and ``json_replies``) are used in turn and cycle when used up, or are a function of the messages.
    ``fail_rate`` makes a request raise ``ProviderError`` before its first token; ``fail_after_tokens`` makes every
    stream raise after that many pieces. ``max_tokens`` cuts the reply short.
    """

    slug = "fake-llm"

    def __init__(self, replies: Script, *, first_token_ms: float = 350.0, tokens_per_second: float = 40.0,
                 jitter_ms: float = 0.0, fail_rate: float = 0.0, fail_kind: FailKind = "transient",
                 fail_after_tokens: int | None = None, json_replies: Script | None = None, seed: int = 0) -> None:
        super().__init__(fail_rate=fail_rate, fail_kind=fail_kind, jitter_ms=jitter_ms, seed=seed)
        if tokens_per_second <= 0:
            raise ValueError("tokens_per_second must be positive")
        self.replies = replies
        self.json_replies = json_replies
        self.first_token_ms = first_token_ms
        self.tokens_per_second = tokens_per_second
        self.fail_after_tokens = fail_after_tokens
        self._turn = 0
        self._json_turn = 0

    async def stream(self, messages: list[ChatMessage], *, max_tokens: int | None = None,
                     temperature: float = 0.3) -> AsyncIterator[LLMDelta]:
        """Yield the next scripted reply in pieces, then its usage."""
        self.requests += 1
        fails, jitter = self._roll()
        reply, self._turn = _pick(self.replies, self._turn, messages)
        pieces = split_pieces(reply)[:max_tokens]
        sent = 0
        try:
            if fails:
                raise self._error("request")
            loop = asyncio.get_running_loop()
            start = loop.time() + self.first_token_ms / 1000.0 + jitter
            for piece in pieces:
                if self.fail_after_tokens is not None and sent >= self.fail_after_tokens:
                    raise self._error(f"after {sent} tokens")
                await _sleep_until(loop, start + sent / self.tokens_per_second)
                yield LLMDelta(text=piece)
                sent += 1
            yield LLMDelta(usage=Usage(prompt_tokens=prompt_tokens(messages), completion_tokens=sent))
        except (asyncio.CancelledError, GeneratorExit):
            self.cancelled += 1
            raise

    async def complete_json(self, messages: list[ChatMessage], *, schema: dict, schema_name: str) -> JsonResult:
        """Return the next scripted JSON text (``"{}"`` if none is scripted) after the time it would take to stream."""
        self.requests += 1
        fails, jitter = self._roll()
        if self.json_replies is None:
            text = "{}"
        else:
            text, self._json_turn = _pick(self.json_replies, self._json_turn, messages)
        if fails:
            raise self._error("request")
        pieces = split_pieces(text)
        await asyncio.sleep(self.first_token_ms / 1000.0 + jitter + len(pieces) / self.tokens_per_second)
        return JsonResult(text=text, usage=Usage(prompt_tokens=prompt_tokens(messages), completion_tokens=len(pieces)))


def split_pieces(text: str) -> list[str]:
    """Split text into token-like pieces (at most four non-space characters each) that join back to the text."""
    return _PIECE.findall(text)


def prompt_tokens(messages: list[ChatMessage]) -> int:
    """Estimate the prompt tokens of ``messages`` the way ``split_pieces`` counts them, plus a few per message."""
    return sum(len(split_pieces(m.content)) + 4 for m in messages)


def _pick(script: Script, turn: int, messages: list[ChatMessage]) -> tuple[str, int]:
    if callable(script):
        return script(messages), turn + 1
    if not script:
        raise ProviderError("fake-llm: no scripted replies", permanent=True)
    return script[turn % len(script)], turn + 1


# --- text to speech ------------------------------------------------------------------------------------------------

class FakeTextToSpeech(_Fake):
    """Synthesize a quiet tone lasting ``ms_per_char`` per character of text, in 20 ms frames.

    The first frame comes after ``first_byte_ms`` (+ jitter); the rest are produced ``realtime_factor`` times their
    duration apart, i.e. faster than real time for a factor below 1. ``fail_rate`` makes a request raise
    ``ProviderError`` before any audio; ``fail_after_frames`` makes every synthesis raise after that many frames.
    """

    slug = "fake-tts"

    def __init__(self, *, first_byte_ms: float = 150.0, realtime_factor: float = 0.1, ms_per_char: float = 60.0,
                 jitter_ms: float = 0.0, fail_rate: float = 0.0, fail_kind: FailKind = "transient",
                 fail_after_frames: int | None = None, freq: float = 220.0, amplitude: float = 0.05,
                 seed: int = 0) -> None:
        super().__init__(fail_rate=fail_rate, fail_kind=fail_kind, jitter_ms=jitter_ms, seed=seed)
        if realtime_factor < 0:
            raise ValueError("realtime_factor must be >= 0")
        self.first_byte_ms = first_byte_ms
        self.realtime_factor = realtime_factor
        self.ms_per_char = ms_per_char
        self.fail_after_frames = fail_after_frames
        self.freq = freq
        self.amplitude = amplitude

    def frame_count(self, text: str) -> int:
        """Return how many frames ``text`` is synthesized into."""
        return math.ceil(len(text.strip()) * self.ms_per_char / FRAME_MS)

    async def synthesize(self, text: str, *, language: str, voice: str | None = None) -> AsyncIterator[AudioFrame]:
        """Yield 16 kHz, 20 ms frames of a tone as long as the text would take to say."""
        self.requests += 1
        fails, jitter = self._roll()
        count = self.frame_count(text)
        try:
            if fails:
                raise self._error("request")
            pcm = tone(count * FRAME_MS, self.freq, self.amplitude)
            loop = asyncio.get_running_loop()
            start = loop.time() + self.first_byte_ms / 1000.0 + jitter
            step = self.realtime_factor * FRAME_MS / 1000.0
            for sent in range(count):
                if self.fail_after_frames is not None and sent >= self.fail_after_frames:
                    raise self._error(f"after {sent} frames")
                await _sleep_until(loop, start + sent * step)
                yield AudioFrame(pcm[sent * FRAME_BYTES:(sent + 1) * FRAME_BYTES])
        except (asyncio.CancelledError, GeneratorExit):
            self.cancelled += 1
            raise


async def _sleep_until(loop: asyncio.AbstractEventLoop, deadline: float) -> None:
    # Sleeping to absolute deadlines keeps the rate exact however late each wake-up is; a consumer that is slower
    # than the schedule (e.g. real-time playout) is never delayed further.
    delay = deadline - loop.time()
    if delay > 0:
        await asyncio.sleep(delay)
