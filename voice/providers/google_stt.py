"""Speech to text with Google Cloud Speech-to-Text v2 streaming recognition (gRPC, regional endpoint).

Google ends a recognition stream after about five minutes, so one call's audio is spread over successive streams:
once a stream has carried ``restart_after_s`` of audio it is replaced at the caller's next pause, and after
``restart_grace_s`` more in any case. The caller's frames are read in the background all along, so the audio that
arrives while one stream is closing waits for the next one instead of being lost.

Credentials come from the environment (``GOOGLE_APPLICATION_CREDENTIALS`` or the platform's default account) unless
given explicitly. The error helpers here are shared with the text-to-speech adapter.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import aclosing

from google.api_core import exceptions as api_exceptions
from google.api_core.client_options import ClientOptions
from google.auth import exceptions as auth_exceptions
from google.cloud import speech_v2
from google.cloud.speech_v2.types import cloud_speech

from ..audio import FRAME_BYTES, SAMPLE_RATE, SAMPLE_WIDTH, AudioFrame, BadAudio
from .base import ProviderConfig, ProviderError, ProviderInfo, Transcript

DEFAULT_LOCATION = "eu"
DEFAULT_MODEL = "long"
LANGUAGE_CODES = {"fr": "fr-FR", "en": "en-US"}
RESTART_AFTER_S = 240.0  # Google's limit is 300 s of streamed audio
RESTART_GRACE_S = 40.0
CHUNK_BYTES = FRAME_BYTES * 5  # Google recommends about 100 ms of audio per request
DEADLINE_MARGIN_S = 60.0
BYTES_PER_SECOND = SAMPLE_RATE * SAMPLE_WIDTH

SpeechEvent = cloud_speech.StreamingRecognizeResponse.SpeechEventType

GOOGLE_ERRORS = (api_exceptions.GoogleAPIError, auth_exceptions.GoogleAuthError)
_TIMEOUTS = (api_exceptions.DeadlineExceeded, api_exceptions.GatewayTimeout)
_TRANSIENT = (api_exceptions.ServerError, api_exceptions.TooManyRequests, api_exceptions.Aborted,
              api_exceptions.Cancelled, api_exceptions.RetryError, auth_exceptions.TransportError)


def regional_endpoint(location: str, service: str) -> str | None:
    """Return the API host of ``service`` in ``location`` ("eu" gives eu-speech.googleapis.com); None for global."""
    return None if location == "global" else f"{location}-{service}.googleapis.com"


def google_provider_error(exc: Exception, service: str) -> ProviderError:
    """Translate a google-api-core or google-auth failure into a ProviderError.

    The message names the error class only: Google's details can quote the text or audio transcript sent.
    """
    message = f"google {service}: {type(exc).__name__}"
    if isinstance(exc, _TIMEOUTS):
        return ProviderError(message, timeout=True)
    if isinstance(exc, _TRANSIENT):
        return ProviderError(message)
    if isinstance(exc, auth_exceptions.RefreshError):
        return ProviderError(message, permanent=not getattr(exc, "retryable", False))
    if isinstance(exc, api_exceptions.ClientError | auth_exceptions.GoogleAuthError):
        return ProviderError(message, permanent=True)
    return ProviderError(message)


def cancel_call(call: object) -> None:
    """Cancel a gRPC streaming call if it is still running (a finished call ignores it)."""
    cancel = getattr(call, "cancel", None)
    if cancel is not None:
        cancel()


def language_code(language: str) -> str:
    """Return the BCP-47 tag for ``fr``/``en``; a tag that already names a region is used as given."""
    tag = language.replace("_", "-")
    if "-" in tag:
        return tag
    try:
        return LANGUAGE_CODES[tag.lower()]
    except KeyError:
        raise ProviderError(f"google: no language code for {language!r}", permanent=True)


class GoogleSpeechToText:
    """SpeechToText with Google Speech-to-Text v2: interim and final transcripts, streams renewed transparently."""

    def __init__(self, *, project_id: str, location: str = DEFAULT_LOCATION, recognizer: str = "_",
                 model: str = DEFAULT_MODEL, credentials=None, client=None,
                 restart_after_s: float = RESTART_AFTER_S, restart_grace_s: float = RESTART_GRACE_S,
                 automatic_punctuation: bool = True):
        if not project_id:
            raise ValueError("a Google Cloud project id is required")
        self.info = ProviderInfo(slug="google-stt", model=model, region=location, no_training=True)
        self.recognizer = f"projects/{project_id}/locations/{location}/recognizers/{recognizer}"
        self.location = location
        self.model = model
        self.restart_after_s = restart_after_s
        self.restart_grace_s = restart_grace_s
        self.automatic_punctuation = automatic_punctuation
        self._credentials = credentials
        self._client = client
        self._owns_client = client is None

    @classmethod
    def from_config(cls, config: ProviderConfig) -> GoogleSpeechToText:
        """Build from the options (``project_id`` falls back to ``GOOGLE_CLOUD_PROJECT``); credentials from ADC."""
        options = dict(config.options)
        options.setdefault("project_id", os.environ.get("GOOGLE_CLOUD_PROJECT", ""))
        known = {"project_id", "location", "recognizer", "model", "restart_after_s", "restart_grace_s",
                 "automatic_punctuation"}
        return cls(**{key: value for key, value in options.items() if key in known})

    def client(self):
        """Return the async client, creating it at the regional endpoint on first use (inside the event loop)."""
        if self._client is None:
            endpoint = regional_endpoint(self.location, "speech")
            try:
                self._client = speech_v2.SpeechAsyncClient(
                    credentials=self._credentials,
                    client_options=ClientOptions(api_endpoint=endpoint) if endpoint else None)
            except GOOGLE_ERRORS as exc:
                raise google_provider_error(exc, "speech") from None
        return self._client

    async def aclose(self) -> None:
        """Close the gRPC channel if this adapter created it."""
        if self._client is not None and self._owns_client:
            await self._client.transport.close()
            self._client = None

    def config_request(self, language: str) -> cloud_speech.StreamingRecognizeRequest:
        """Return the first request of a stream: the recognizer and the full configuration, no audio."""
        return cloud_speech.StreamingRecognizeRequest(
            recognizer=self.recognizer,
            streaming_config=cloud_speech.StreamingRecognitionConfig(
                config=cloud_speech.RecognitionConfig(
                    explicit_decoding_config=cloud_speech.ExplicitDecodingConfig(
                        encoding=cloud_speech.ExplicitDecodingConfig.AudioEncoding.LINEAR16,
                        sample_rate_hertz=SAMPLE_RATE,
                        audio_channel_count=1),
                    model=self.model,
                    language_codes=[language_code(language)],
                    features=cloud_speech.RecognitionFeatures(
                        enable_automatic_punctuation=self.automatic_punctuation)),
                streaming_features=cloud_speech.StreamingRecognitionFeatures(
                    interim_results=True, enable_voice_activity_events=True)))

    async def stream(self, frames: AsyncIterator[AudioFrame], *, language: str) -> AsyncIterator[Transcript]:
        """Transcribe ``frames`` (16 kHz mono PCM) until they end, over as many streams as their length needs."""
        config = self.config_request(language)
        client = self.client()
        audio = _AudioReader(frames)
        try:
            while first := await audio.read(CHUNK_BYTES):
                async with aclosing(self._recognize(client, config, audio, first)) as transcripts:
                    async for transcript in transcripts:
                        yield transcript
        finally:
            audio.close()

    async def _recognize(self, client, config, audio: _AudioReader, first: bytes) -> AsyncIterator[Transcript]:
        """Run one recognition stream, starting with ``first``, until it is replaced or the audio ends."""
        state = _StreamState(self.restart_after_s, self.restart_after_s + self.restart_grace_s)
        call = None
        try:
            call = await client.streaming_recognize(
                requests=_requests(config, audio, first, state),
                timeout=self.restart_after_s + self.restart_grace_s + DEADLINE_MARGIN_S)
            async for response in call:
                for transcript in state.read(response):
                    yield transcript
        except GOOGLE_ERRORS as exc:
            raise google_provider_error(exc, "speech") from None
        finally:
            cancel_call(call)


async def _requests(config, audio: _AudioReader, first: bytes,
                    state: _StreamState) -> AsyncIterator[cloud_speech.StreamingRecognizeRequest]:
    """Yield the configuration, then the audio, until the stream should give way to the next one."""
    yield config
    chunk = first
    while chunk:
        state.sent_bytes += len(chunk)
        yield cloud_speech.StreamingRecognizeRequest(audio=chunk)
        if state.should_end():
            return
        chunk = await audio.read(CHUNK_BYTES)


class _StreamState:
    """One stream's bookkeeping: how long it has run and whether the caller is between utterances."""

    def __init__(self, soft_limit_s: float, hard_limit_s: float):
        self.soft_limit_s = soft_limit_s
        self.hard_limit_s = hard_limit_s
        self.started = time.monotonic()
        self.sent_bytes = 0
        self.pausing = True
        self.server_closing = False

    def should_end(self) -> bool:
        # audio may run ahead of the clock (a backlog after a switch) or behind it (gaps), and Google counts both
        age = max(self.sent_bytes / BYTES_PER_SECOND, time.monotonic() - self.started)
        return self.server_closing or age >= self.hard_limit_s or (age >= self.soft_limit_s and self.pausing)

    def read(self, response: cloud_speech.StreamingRecognizeResponse) -> list[Transcript]:
        """Note the speech events and return the response's transcripts (final first, then the interim one)."""
        event = response.speech_event_type
        if event == SpeechEvent.SPEECH_ACTIVITY_BEGIN:
            self.pausing = False
        elif event == SpeechEvent.SPEECH_ACTIVITY_END:
            self.pausing = True
        elif event == SpeechEvent.END_OF_SINGLE_UTTERANCE:
            self.server_closing = True  # the server takes no more audio on this stream
        transcripts = _transcripts(response.results)
        if transcripts:
            self.pausing = transcripts[-1].is_final
        return transcripts


def _transcripts(results) -> list[Transcript]:
    """Return the final result (an utterance's end) and the interim results joined into one transcript."""
    transcripts = []
    interim = []
    for result in results:
        if not result.alternatives:
            continue
        if not result.is_final:
            interim.append(result)
            continue
        best = result.alternatives[0]
        if text := best.transcript.strip():
            transcripts.append(Transcript(text=text, is_final=True, end_of_utterance=True,
                                          confidence=_score(best.confidence)))
    if text := "".join(result.alternatives[0].transcript for result in interim).strip():
        stabilities = [result.stability for result in interim if result.stability]
        transcripts.append(Transcript(text=text, is_final=False,
                                      stability=_score(min(stabilities)) if stabilities else None))
    return transcripts


def _score(value: float) -> float | None:
    # 0 means "not set" in proto3; the float32 value is rounded to what it can really tell
    return round(value, 3) if value else None


class _AudioReader:
    """Read the caller's frames in a background task into an unbounded buffer, so none waits on a stream switch."""

    def __init__(self, frames: AsyncIterator[AudioFrame]):
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._ended = False
        self._task = asyncio.create_task(self._pump(frames))

    async def _pump(self, frames: AsyncIterator[AudioFrame]) -> None:
        try:
            async for frame in frames:
                if frame.sample_rate != SAMPLE_RATE:
                    raise BadAudio(f"expected {SAMPLE_RATE} Hz audio, got {frame.sample_rate} Hz")
                if frame.pcm:
                    self._queue.put_nowait(frame.pcm)
        finally:
            self._queue.put_nowait(None)

    async def read(self, max_bytes: int) -> bytes:
        """Wait for a frame, then add buffered ones while under ``max_bytes``; return b"" once the audio ends.

        A failure of the frames' source is raised here.
        """
        if self._ended:
            return await self._end()
        item = await self._queue.get()
        if item is None:
            return await self._end()
        chunk = bytearray(item)
        while len(chunk) < max_bytes and not self._queue.empty():
            item = self._queue.get_nowait()
            if item is None:
                self._ended = True
                break
            chunk += item
        return bytes(chunk)

    async def _end(self) -> bytes:
        self._ended = True
        await asyncio.wait([self._task])
        if not self._task.cancelled() and self._task.exception() is not None:
            raise self._task.exception()
        return b""

    def close(self) -> None:
        """Stop reading the caller's frames."""
        if not self._task.done():
            self._task.cancel()
        elif not self._task.cancelled():
            self._task.exception()  # mark it retrieved; read() already raised it if anyone was waiting
