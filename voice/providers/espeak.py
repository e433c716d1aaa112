"""Local text to speech with libespeak-ng (from the ``espeakng_loader`` wheel): no account, no network.

libespeak-ng keeps its state in process globals and is not thread-safe, so one engine per process is initialised
lazily and every use goes through one lock, inside a worker thread so the event loop never waits on it.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import re
import threading
from collections.abc import AsyncIterator

import numpy as np
import soxr

from ..audio import FRAME_BYTES, SAMPLE_RATE, AudioFrame
from .base import ProviderConfig, ProviderError, ProviderInfo

AUDIO_OUTPUT_SYNCHRONOUS = 2
INITIALIZE_DONT_EXIT = 0x8000  # without it a missing data file makes the library call exit()
POS_CHARACTER = 1
CHARS_UTF8 = 0x1
ENDPAUSE = 0x1000
PARAM_RATE = 1
EE_OK = 0

DEFAULT_VOICES = {"fr": "fr", "en": "en"}
DEFAULT_RATE = 175  # words per minute, espeak's own default
MIN_RATE, MAX_RATE = 80, 450

_SENTENCE_END = re.compile(r"(?<=[.!?…;:])\s+|\n+")
_ABBREVIATION = re.compile(r"(?:^|\s)\w{1,3}\.$")  # "M.", "Dr.", "St." do not end a sentence

_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class _Engine:
    """The process's libespeak-ng, initialised in synchronous mode; callers must hold ``_lock``."""

    def __init__(self) -> None:
        import espeakng_loader

        try:
            self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
            data_path = espeakng_loader.get_data_path()
        except (OSError, RuntimeError) as exc:
            raise ProviderError(f"cannot load libespeak-ng: {exc}", permanent=True)
        _declare(self.lib)
        self.sample_rate = self.lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path.encode(),
                                                      INITIALIZE_DONT_EXIT)
        if self.sample_rate <= 0:
            raise ProviderError("espeak-ng failed to initialise", permanent=True)
        self._chunks: list[bytes] = []
        # ctypes frees a callback once its Python object is gone; the library keeps the pointer for ever
        self._callback = _SynthCallback(self._collect)
        self.lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav, numsamples: int, events) -> int:
        if wav and numsamples > 0:
            self._chunks.append(ctypes.string_at(wav, numsamples * 2))
        return 0  # continue synthesis

    def synthesize(self, text: str, voice: str, rate: int) -> bytes:
        """Return the speech of ``text`` as signed 16-bit PCM at ``self.sample_rate``."""
        _check(self.lib.espeak_SetVoiceByName(voice.encode()), f"unknown espeak-ng voice {voice!r}")
        _check(self.lib.espeak_SetParameter(PARAM_RATE, rate, 0), "cannot set the speaking rate")
        self._chunks = []
        data = text.encode()
        status = self.lib.espeak_Synth(data, len(data) + 1, 0, POS_CHARACTER, 0, CHARS_UTF8 | ENDPAUSE, None, None)
        _check(status, "espeak-ng synthesis failed")
        pcm, self._chunks = b"".join(self._chunks), []
        return pcm


def _declare(lib: ctypes.CDLL) -> None:
    """Give ctypes the C signatures so arguments are converted, not guessed."""
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
    lib.espeak_SetSynthCallback.restype = None
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetVoiceByName.restype = ctypes.c_int
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_SetParameter.restype = ctypes.c_int
    lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                 ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
    lib.espeak_Synth.restype = ctypes.c_int


def _check(status: int, message: str) -> None:
    """Raise a permanent ProviderError unless the library returned EE_OK."""
    if status != EE_OK:
        raise ProviderError(f"{message} (espeak error {status})", permanent=True)


_lock = threading.Lock()
_engine: _Engine | None = None


def _reset_lock_after_fork() -> None:
    # a fork while another thread held the lock would leave the child's copy locked for ever;
    # the engine itself survives the fork already initialised
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_lock_after_fork)


def synthesize_pcm(text: str, voice: str, rate: int) -> tuple[bytes, int]:
    """Synthesise ``text`` with the process-wide engine; return its PCM and sample rate. Blocking."""
    global _engine
    with _lock:
        if _engine is None:
            _engine = _Engine()
        return _engine.synthesize(text, voice, rate), _engine.sample_rate


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into non-empty sentences, keeping their punctuation for the intonation."""
    sentences, pending = [], ""
    for part in _SENTENCE_END.split(text):
        part = part.strip()
        if not part:
            continue
        pending = f"{pending} {part}" if pending else part
        if not _ABBREVIATION.search(pending):
            sentences.append(pending)
            pending = ""
    if pending:
        sentences.append(pending)
    return sentences


def to_internal_rate(pcm: bytes, sample_rate: int) -> bytes:
    """Resample signed 16-bit mono PCM to the internal 16 kHz."""
    if sample_rate == SAMPLE_RATE or not pcm:
        return pcm
    samples = np.frombuffer(pcm, dtype="<i2")
    return soxr.resample(samples, sample_rate, SAMPLE_RATE).astype("<i2").tobytes()


def language_key(language: str) -> str:
    """Reduce a language tag such as ``fr-FR`` to its primary subtag."""
    return language.replace("_", "-").split("-")[0].lower()


class EspeakTextToSpeech:
    """TextToSpeech with libespeak-ng: French and English, sentence by sentence, 16 kHz 20 ms frames."""

    info = ProviderInfo(slug="local-espeak", model="espeak-ng", region="local")

    def __init__(self, *, voice: str | None = None, rate: int = DEFAULT_RATE):
        if not MIN_RATE <= rate <= MAX_RATE:
            raise ValueError(f"rate must be between {MIN_RATE} and {MAX_RATE} words per minute")
        self.voice = voice
        self.rate = rate

    @classmethod
    def from_config(cls, config: ProviderConfig) -> EspeakTextToSpeech:
        """Build from the options ``voice`` and ``rate`` (words per minute)."""
        return cls(voice=config.options.get("voice"), rate=int(config.options.get("rate", DEFAULT_RATE)))

    def choose_voice(self, language: str, voice: str | None = None) -> str:
        """Return the espeak-ng voice name: the request's, else this instance's, else the language's."""
        chosen = voice or self.voice
        if chosen:
            return chosen
        try:
            return DEFAULT_VOICES[language_key(language)]
        except KeyError:
            raise ProviderError(f"no local voice for language {language!r}", permanent=True)

    async def synthesize(self, text: str, *, language: str, voice: str | None = None) -> AsyncIterator[AudioFrame]:
        """Yield 20 ms frames of ``text``, each sentence's as soon as that sentence is synthesised."""
        name = self.choose_voice(language, voice)
        carry = b""
        for sentence in split_sentences(text):
            pcm, rate = await asyncio.to_thread(synthesize_pcm, sentence, name, self.rate)
            carry += to_internal_rate(pcm, rate)
            whole = len(carry) - len(carry) % FRAME_BYTES
            for start in range(0, whole, FRAME_BYTES):
                yield AudioFrame(pcm=carry[start:start + FRAME_BYTES])
            carry = carry[whole:]
        if carry:
            yield AudioFrame(pcm=carry.ljust(FRAME_BYTES, b"\0"))
