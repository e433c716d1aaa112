"""Local speech to text with PocketSphinx and the English model its wheel ships: no account, no network.

Voice activity detection (WebRTC's, as bundled) runs on the event loop, since it costs microseconds per frame; only
speech reaches the decoder, in batches run in worker threads. The decoder keeps the GIL while it works (about a
tenth of the audio's duration), so batches are short and the slow second search pass is off: the event loop is
never held for much more than a batch's decoding. A decoder holds about 90 MB and takes a quarter of a second to
load, so idle ones are kept in a small process-wide pool.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterator

import numpy as np
import pocketsphinx

from ..audio import FRAME_BYTES, SAMPLE_RATE, AudioFrame
from .base import ProviderConfig, ProviderError, ProviderInfo, Transcript

ENGLISH_ONLY = "pocketsphinx ships only an English model"
FRAME_SECONDS = FRAME_BYTES / (2 * SAMPLE_RATE)
MAX_IDLE_DECODERS = 2
# fwdflat re-decodes the whole utterance at its end: a few points of accuracy for a GIL-holding stall of ~40 ms per
# second of speech, and as much added to the final transcript's delay
DECODER_OPTIONS = {"loglevel": "FATAL", "fwdflat": False}
DITHER_RMS = 32  # about -60 dBFS: inaudible, far below any real line noise

_pool_lock = threading.Lock()
_idle_decoders: list[pocketsphinx.Decoder] = []


def _take_decoder() -> pocketsphinx.Decoder:
    """Return an idle decoder, or load a new one with the bundled en-us model. Blocking."""
    with _pool_lock:
        decoder = _idle_decoders.pop() if _idle_decoders else None
    if decoder is not None:
        # start from the model's channel estimate, not the one the previous caller's line left behind
        decoder.set_cmn(decoder.config["cmninit"])
        return decoder
    try:
        return pocketsphinx.Decoder(**DECODER_OPTIONS)
    except (RuntimeError, ValueError) as exc:
        raise ProviderError(f"cannot load the pocketsphinx model: {exc}", permanent=True)


def _give_back(decoder: pocketsphinx.Decoder) -> None:
    """Keep ``decoder`` for a later call unless enough are idle already."""
    with _pool_lock:
        if len(_idle_decoders) < MAX_IDLE_DECODERS:
            _idle_decoders.append(decoder)


def preload(count: int = 1) -> None:
    """Load ``count`` decoders into the pool now, so that the first calls do not wait for them. Blocking."""
    decoders = [_take_decoder() for _ in range(min(count, MAX_IDLE_DECODERS))]
    for decoder in decoders:
        _give_back(decoder)


def check_language(language: str) -> None:
    """Raise a permanent ProviderError unless ``language`` is English (``en``, ``en-US``, ``en_GB``...)."""
    if language.replace("_", "-").split("-")[0].lower() != "en":
        raise ProviderError(ENGLISH_ONLY, permanent=True)


class _Recogniser:
    """One decoder's utterances; its methods block and run in worker threads, one at a time."""

    def __init__(self, decoder: pocketsphinx.Decoder):
        self.decoder = decoder
        self.in_utterance = False
        self.noise = np.random.default_rng(0)

    def feed(self, pcm: bytes, want_text: bool) -> str:
        """Decode more speech of the current utterance; return the hypothesis so far if asked."""
        if not self.in_utterance:
            self.decoder.start_utt()
            self.in_utterance = True
        self.decoder.process_raw(self.dither(pcm))
        return self.text() if want_text else ""

    def finish(self, pcm: bytes) -> str:
        """Decode the utterance's last speech and return its final text (empty if nothing was recognised)."""
        if pcm:
            self.feed(pcm, want_text=False)
        if not self.in_utterance:
            return ""
        self.decoder.end_utt()
        self.in_utterance = False
        return self.text()

    def dither(self, pcm: bytes) -> bytes:
        """Add a faint noise floor to ``pcm``."""
        # digital silence (exact zeros, as synthesised or muted audio has) makes the log-energy features degenerate
        # and recognition collapses; the faint noise of any real line avoids that
        samples = np.frombuffer(pcm, dtype="<i2") + self.noise.normal(0, DITHER_RMS, len(pcm) // 2)
        return np.clip(samples, -32768, 32767).astype("<i2").tobytes()

    def text(self) -> str:
        """Return the current hypothesis, without fillers."""
        hypothesis = self.decoder.hyp()
        return hypothesis.hypstr.strip() if hypothesis is not None else ""


class _Segmenter:
    """Cut the audio into 20 ms frames and keep only speech, telling where each utterance ends.

    Speech starts once most of the last ``START_FRAMES`` frames are voiced, and takes the frames just before along,
    so a word's onset is not lost; it ends after ``end_silence_s`` without a voiced frame, or after
    ``max_utterance_s`` so that endless noise cannot hold back every final transcript. Silence is held back until
    speech resumes, and only ``TAIL_FRAMES`` of it follow the last word, as longer silence makes the decoder hear
    phantom words in the line noise.
    """

    START_FRAMES = 10  # 200 ms: a lone "yes" is enough, a click is not
    START_VOICED = 6
    PREROLL_FRAMES = 15
    TAIL_FRAMES = 10

    def __init__(self, end_silence_s: float, max_utterance_s: float, vad_mode: int):
        self.vad = pocketsphinx.Vad(vad_mode, SAMPLE_RATE, FRAME_SECONDS)
        self.end_frames = max(1, round(end_silence_s / FRAME_SECONDS))
        self.max_frames = max(self.end_frames, round(max_utterance_s / FRAME_SECONDS))
        self.recent: deque[tuple[bytes, bool]] = deque(maxlen=self.PREROLL_FRAMES)
        self.held: list[bytes] = []
        self.pending = b""
        self.in_speech = False
        self.utterance_frames = 0

    def push(self, pcm: bytes) -> Iterator[tuple[bytes, bool]]:
        """Yield ``(speech, utterance_ended)`` for the whole frames in ``pcm``."""
        self.pending += pcm
        whole = len(self.pending) - len(self.pending) % FRAME_BYTES
        frames, self.pending = self.pending[:whole], self.pending[whole:]
        for start in range(0, whole, FRAME_BYTES):
            frame = frames[start:start + FRAME_BYTES]
            voiced = self.vad.is_speech(frame)
            if self.in_speech:
                update = self._continue(frame, voiced)
                if update is not None:
                    yield update
            elif self._starts(frame, voiced):
                yield b"".join(speech for speech, _ in self.recent), False
                self.recent.clear()

    def _starts(self, frame: bytes, voiced: bool) -> bool:
        self.recent.append((frame, voiced))
        latest = list(self.recent)[-self.START_FRAMES:]
        if sum(flag for _, flag in latest) < self.START_VOICED:
            return False
        self.in_speech = True
        self.utterance_frames = len(self.recent)
        return True

    def _continue(self, frame: bytes, voiced: bool) -> tuple[bytes, bool] | None:
        self.utterance_frames += 1
        self.held.append(frame)
        too_long = self.utterance_frames >= self.max_frames
        if voiced:
            speech, self.held = b"".join(self.held), []
            self.in_speech = not too_long
            return speech, too_long
        if len(self.held) >= self.end_frames or too_long:
            self.in_speech = False
            return self._tail(), True
        return None

    def _tail(self) -> bytes:
        tail, self.held = b"".join(self.held[:self.TAIL_FRAMES]), []
        return tail

    def flush(self) -> bytes | None:
        """Return the rest of the speech when the audio ends mid-utterance, else None."""
        return self._tail() if self.in_speech else None


def _check_rate(frame: AudioFrame) -> None:
    """Refuse audio that is not at the internal rate, which the model and the voice activity detection assume."""
    if frame.sample_rate != SAMPLE_RATE:
        raise ProviderError(f"expected {SAMPLE_RATE} Hz audio, got {frame.sample_rate} Hz", permanent=True)


class _Session:
    """One stream's decoding: batches speech to worker threads and turns hypotheses into transcripts."""

    def __init__(self, decoder: pocketsphinx.Decoder, batch_bytes: int, interim_every_s: float):
        self.decoder = decoder
        self.recogniser = _Recogniser(decoder)
        self.batch_bytes = batch_bytes
        self.interim_every_s = interim_every_s
        self.speech = bytearray()
        self.since_interim = 0.0
        self.last_interim = ""
        self.busy = False

    async def add(self, chunk: bytes, ended: bool) -> Transcript | None:
        """Take more speech; return a transcript when one is due."""
        self.speech += chunk
        if ended:
            return await self.finish(b"")
        if len(self.speech) >= self.batch_bytes:
            return await self._decode_batch()
        return None

    async def finish(self, tail: bytes) -> Transcript | None:
        """End the utterance; return its final transcript unless nothing was recognised."""
        text = await self._in_thread(self.recogniser.finish, bytes(self.speech) + tail)
        self.speech.clear()
        self.since_interim, self.last_interim = 0.0, ""
        return Transcript(text=text, is_final=True, end_of_utterance=True) if text else None

    async def _decode_batch(self) -> Transcript | None:
        self.since_interim += len(self.speech) / (2 * SAMPLE_RATE)
        want_text = self.since_interim >= self.interim_every_s
        text = await self._in_thread(self.recogniser.feed, bytes(self.speech), want_text)
        self.speech.clear()
        if want_text:
            self.since_interim = 0.0
        if not text or text == self.last_interim:
            return None
        self.last_interim = text
        return Transcript(text=text, is_final=False)

    async def _in_thread(self, function, *args) -> str:
        self.busy = True
        try:
            return await asyncio.to_thread(function, *args)
        finally:
            self.busy = False

    def release(self) -> None:
        """Return the decoder to the pool if it is clean."""
        # a cancelled worker thread may still be decoding, and a half utterance would leak into the next call
        if not self.busy and not self.recogniser.in_utterance:
            _give_back(self.decoder)


class PocketsphinxSpeechToText:
    """SpeechToText with PocketSphinx, English only; each utterance ends after ``end_silence_s`` of silence."""

    info = ProviderInfo(slug="local-pocketsphinx", model="pocketsphinx-en-us", region="local")

    def __init__(self, *, end_silence_s: float = 0.6, max_utterance_s: float = 30.0, interim_every_s: float = 0.6,
                 batch_s: float = 0.1, vad_mode: int = 2):
        self.end_silence_s = end_silence_s
        self.max_utterance_s = max_utterance_s
        self.interim_every_s = interim_every_s
        self.batch_bytes = max(FRAME_BYTES, int(batch_s / FRAME_SECONDS) * FRAME_BYTES)
        self.vad_mode = vad_mode

    @classmethod
    def from_config(cls, config: ProviderConfig) -> PocketsphinxSpeechToText:
        """Build from the options of the same names as the constructor's arguments."""
        known = {"end_silence_s", "max_utterance_s", "interim_every_s", "batch_s", "vad_mode"}
        return cls(**{key: value for key, value in config.options.items() if key in known})

    async def stream(self, frames: AsyncIterator[AudioFrame], *, language: str) -> AsyncIterator[Transcript]:
        """Transcribe until ``frames`` ends: interim hypotheses now and then, a final one per utterance."""
        check_language(language)
        segmenter = _Segmenter(self.end_silence_s, self.max_utterance_s, self.vad_mode)
        session = _Session(await asyncio.to_thread(_take_decoder), self.batch_bytes, self.interim_every_s)
        try:
            async for frame in frames:
                _check_rate(frame)
                for chunk, ended in segmenter.push(frame.pcm):
                    transcript = await session.add(chunk, ended)
                    if transcript is not None:
                        yield transcript
            tail = segmenter.flush()
            if tail is not None:
                transcript = await session.finish(tail)
                if transcript is not None:
                    yield transcript
        finally:
            session.release()
