"""Text to speech with Google Cloud Text-to-Speech (gRPC, regional endpoint).

Voices that support it (Chirp 3: HD) are streamed: the sentences go up together and the audio comes back as it is
synthesised. Other voices are synthesised sentence by sentence, the next sentence being requested while the current
one is played. Audio is asked for at 16 kHz, so normally it only needs cutting into 20 ms frames.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import aclosing

import numpy as np
import soxr
from google.api_core.client_options import ClientOptions
from google.cloud import texttospeech

from ..audio import FRAME_BYTES, SAMPLE_RATE, SAMPLE_WIDTH, AudioFrame
from .base import ProviderConfig, ProviderError, ProviderInfo
from .google_stt import GOOGLE_ERRORS, cancel_call, google_provider_error, language_code, regional_endpoint

DEFAULT_LOCATION = "eu"
DEFAULT_VOICES = {"fr": "fr-FR-Chirp3-HD-Aoede", "en": "en-US-Chirp3-HD-Aoede"}
STREAMING_VOICE_MARKERS = ("-Chirp3-HD-",)
DEFAULT_TIMEOUT_S = 10.0  # per request, and per wait for the next piece of a streamed reply
SERVICE = "text-to-speech"

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into non-empty sentences, keeping their punctuation for the intonation."""
    return [part.strip() for part in _SENTENCE_END.split(text) if part.strip()]


def supports_streaming(voice: str) -> bool:
    """Tell whether Google can stream this voice (Chirp 3: HD voices only)."""
    return any(marker in voice for marker in STREAMING_VOICE_MARKERS)


def wav_payload(data: bytes) -> tuple[bytes, int]:
    """Return the PCM samples of ``data`` and their rate, removing a WAV header if there is one."""
    if not data.startswith(b"RIFF") or data[8:12] != b"WAVE":
        return data, SAMPLE_RATE
    rate, offset = SAMPLE_RATE, 12
    while offset + 8 <= len(data):
        kind, size = data[offset:offset + 4], int.from_bytes(data[offset + 4:offset + 8], "little")
        body = offset + 8
        if kind == b"fmt ":
            channels = int.from_bytes(data[body + 2:body + 4], "little")
            rate = int.from_bytes(data[body + 4:body + 8], "little")
            bits = int.from_bytes(data[body + 14:body + 16], "little")
            if (channels, bits) != (1, SAMPLE_WIDTH * 8):
                raise ProviderError(f"google {SERVICE}: unexpected WAV format", permanent=True)
        elif kind == b"data":
            # a streamed WAV may leave the size unset; the samples then run to the end
            return data[body:body + size] if 0 < size <= len(data) - body else data[body:], rate
        offset = body + size + size % 2
    raise ProviderError(f"google {SERVICE}: WAV without data", permanent=True)


def to_internal_rate(pcm: bytes, sample_rate: int) -> bytes:
    """Resample signed 16-bit mono PCM to the internal 16 kHz."""
    if sample_rate == SAMPLE_RATE or not pcm:
        return pcm
    samples = np.frombuffer(pcm[:len(pcm) - len(pcm) % SAMPLE_WIDTH], dtype="<i2")
    return soxr.resample(samples, sample_rate, SAMPLE_RATE).astype("<i2").tobytes()


class GoogleTextToSpeech:
    """TextToSpeech with Google Cloud: streamed for Chirp 3: HD voices, sentence by sentence otherwise."""

    def __init__(self, *, credentials=None, client=None, location: str = DEFAULT_LOCATION,
                 voices: dict[str, str] | None = None, speaking_rate: float | None = None,
                 timeout_s: float = DEFAULT_TIMEOUT_S):
        self.info = ProviderInfo(slug="google-tts", model="text-to-speech-v1", region=location, no_training=True)
        self.location = location
        self.voices = {**DEFAULT_VOICES, **(voices or {})}
        self.speaking_rate = speaking_rate or 0.0  # 0 lets the voice speak at its own pace
        self.timeout_s = timeout_s
        self._credentials = credentials
        self._client = client
        self._owns_client = client is None

    @classmethod
    def from_config(cls, config: ProviderConfig) -> GoogleTextToSpeech:
        """Build from the options ``location``, ``voices``, ``speaking_rate`` and ``timeout_s``; credentials ADC."""
        known = {"location", "voices", "speaking_rate", "timeout_s"}
        return cls(**{key: value for key, value in config.options.items() if key in known})

    def client(self):
        """Return the async client, creating it at the regional endpoint on first use (inside the event loop)."""
        if self._client is None:
            endpoint = regional_endpoint(self.location, "texttospeech")
            try:
                self._client = texttospeech.TextToSpeechAsyncClient(
                    credentials=self._credentials,
                    client_options=ClientOptions(api_endpoint=endpoint) if endpoint else None)
            except GOOGLE_ERRORS as exc:
                raise google_provider_error(exc, SERVICE) from None
        return self._client

    async def aclose(self) -> None:
        """Close the gRPC channel if this adapter created it."""
        if self._client is not None and self._owns_client:
            await self._client.transport.close()
            self._client = None

    def choose_voice(self, language: str, voice: str | None = None) -> texttospeech.VoiceSelectionParams:
        """Return the voice to use: the request's, else the one configured for the language."""
        name = voice or self.voices.get(language.replace("_", "-").split("-")[0].lower())
        if not name:
            raise ProviderError(f"google {SERVICE}: no voice for language {language!r}", permanent=True)
        parts = name.split("-")
        code = "-".join(parts[:2]) if len(parts) > 2 else language_code(language)
        return texttospeech.VoiceSelectionParams(language_code=code, name=name)

    async def synthesize(self, text: str, *, language: str, voice: str | None = None) -> AsyncIterator[AudioFrame]:
        """Yield 20 ms frames of ``text``, the first as soon as Google returns any audio."""
        params = self.choose_voice(language, voice)
        sentences = split_sentences(text)
        if not sentences:
            return
        client = self.client()
        if supports_streaming(params.name):
            source = self._streamed(client, params, sentences)
        else:
            source = self._per_sentence(client, params, sentences)
        carry = b""
        async with aclosing(source) as chunks:
            async for chunk in chunks:
                carry += chunk
                whole = len(carry) - len(carry) % FRAME_BYTES
                for start in range(0, whole, FRAME_BYTES):
                    yield AudioFrame(pcm=carry[start:start + FRAME_BYTES])
                carry = carry[whole:]
        if carry:
            yield AudioFrame(pcm=carry.ljust(FRAME_BYTES, b"\0"))

    async def _streamed(self, client, params, sentences: list[str]) -> AsyncIterator[bytes]:
        """Yield the PCM of a streaming synthesis as it arrives."""
        call = None
        try:
            # no overall deadline: the consumer plays the audio in real time, which may take longer than any limit
            call = await client.streaming_synthesize(requests=self._streaming_requests(params, sentences))
            responses = aiter(call)
            first = True
            while True:
                try:
                    response = await asyncio.wait_for(anext(responses), self.timeout_s)
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    raise ProviderError(f"google {SERVICE}: no audio for {self.timeout_s:g} s", timeout=True)
                audio = response.audio_content
                if first and audio:
                    audio, _ = wav_payload(audio)  # streamed PCM is headerless; this is only a safeguard
                    first = False
                if audio:
                    yield audio
        except GOOGLE_ERRORS as exc:
            raise google_provider_error(exc, SERVICE) from None
        finally:
            cancel_call(call)

    async def _streaming_requests(self, params, sentences: list[str]) -> AsyncIterator:
        yield texttospeech.StreamingSynthesizeRequest(
            streaming_config=texttospeech.StreamingSynthesizeConfig(
                voice=params,
                streaming_audio_config=texttospeech.StreamingAudioConfig(
                    audio_encoding=texttospeech.AudioEncoding.PCM, sample_rate_hertz=SAMPLE_RATE,
                    speaking_rate=self.speaking_rate)))
        for sentence in sentences:
            yield texttospeech.StreamingSynthesizeRequest(input=texttospeech.StreamingSynthesisInput(text=sentence))

    async def _per_sentence(self, client, params, sentences: list[str]) -> AsyncIterator[bytes]:
        """Yield each sentence's PCM in order, synthesising the next one while the current one is consumed."""
        current = asyncio.create_task(self._synthesize_sentence(client, params, sentences[0]))
        upcoming = None
        try:
            for index in range(len(sentences)):
                if index + 1 < len(sentences):
                    upcoming = asyncio.create_task(self._synthesize_sentence(client, params, sentences[index + 1]))
                yield await current
                current, upcoming = upcoming, None
        finally:
            _discard(current)
            _discard(upcoming)

    async def _synthesize_sentence(self, client, params, sentence: str) -> bytes:
        request = texttospeech.SynthesizeSpeechRequest(
            input=texttospeech.SynthesisInput(text=sentence),
            voice=params,
            audio_config=texttospeech.AudioConfig(
                audio_encoding=texttospeech.AudioEncoding.LINEAR16, sample_rate_hertz=SAMPLE_RATE,
                speaking_rate=self.speaking_rate))
        try:
            response = await client.synthesize_speech(request=request, timeout=self.timeout_s)
        except GOOGLE_ERRORS as exc:
            raise google_provider_error(exc, SERVICE) from None
        return to_internal_rate(*wav_payload(response.audio_content))


def _discard(task: asyncio.Task | None) -> None:
    """Cancel a task no longer wanted, or mark its failure as seen so asyncio does not report it."""
    if task is None:
        return
    if not task.done():
        task.cancel()
    elif not task.cancelled():
        task.exception()
