"""Google speech adapters at the client boundary: fake async clients exchanging the real request/response types."""

from __future__ import annotations

import asyncio
import io
import wave
from contextlib import aclosing

import pytest
from google.api_core import exceptions as api_exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import texttospeech
from google.cloud.speech_v2.types import cloud_speech

from voice.audio import FRAME_BYTES, AudioFrame, BadAudio
from voice.providers.base import ProviderError, SpeechToText, TextToSpeech, Transcript
from voice.providers.google_stt import GoogleSpeechToText
from voice.providers.google_tts import GoogleTextToSpeech, wav_payload

Event = cloud_speech.StreamingRecognizeResponse.SpeechEventType
LINEAR16 = cloud_speech.ExplicitDecodingConfig.AudioEncoding.LINEAR16

ERROR_CASES = [
    (api_exceptions.InvalidArgument, True, False),
    (api_exceptions.PermissionDenied, True, False),
    (api_exceptions.NotFound, True, False),
    (api_exceptions.Unauthenticated, True, False),
    (api_exceptions.ServiceUnavailable, False, False),
    (api_exceptions.ResourceExhausted, False, False),
    (api_exceptions.InternalServerError, False, False),
    (api_exceptions.DeadlineExceeded, False, True),
]


def frame(index: int) -> AudioFrame:
    return AudioFrame(pcm=bytes([index % 256]) * FRAME_BYTES)


async def frames_of(count: int):
    for index in range(count):
        yield frame(index)


def result(text: str, *, final: bool = False, stability: float = 0.0, confidence: float = 0.0):
    return cloud_speech.StreamingRecognitionResult(
        alternatives=[cloud_speech.SpeechRecognitionAlternative(transcript=text, confidence=confidence)],
        is_final=final, stability=stability)


def response(*results, event=None) -> cloud_speech.StreamingRecognizeResponse:
    if event is not None:
        return cloud_speech.StreamingRecognizeResponse(speech_event_type=event)
    return cloud_speech.StreamingRecognizeResponse(results=list(results))


class FakeCall:
    """The streaming call object: async-iterable responses, and cancel() like grpc.aio's call."""

    def __init__(self, responses):
        self._responses = responses
        self.cancelled = False

    def __aiter__(self):
        return self._responses

    def cancel(self) -> bool:
        self.cancelled = True
        return True


class FakeSpeechClient:
    """Stands in for SpeechAsyncClient: takes the request iterator, answers with scripted responses."""

    def __init__(self, on_audio=None, on_end=None, error: Exception | None = None, error_after: int = 0):
        self.streams: list[list[cloud_speech.StreamingRecognizeRequest]] = []
        self.calls: list[FakeCall] = []
        self.kwargs: list[dict] = []
        self.on_audio = on_audio or (lambda stream, requests: [])
        self.on_end = on_end or (lambda stream, requests: [])
        self.error = error
        self.error_after = error_after

    async def streaming_recognize(self, requests=None, **kwargs):
        assert hasattr(requests, "__aiter__"), "the async client takes an async iterator of requests"
        if self.error is not None and self.error_after == 0:
            raise self.error
        received: list[cloud_speech.StreamingRecognizeRequest] = []
        self.streams.append(received)
        self.kwargs.append(kwargs)
        self.calls.append(FakeCall(self._respond(len(self.streams) - 1, requests, received)))
        return self.calls[-1]

    async def _respond(self, stream: int, requests, received):
        async for request in requests:
            assert isinstance(request, cloud_speech.StreamingRecognizeRequest)
            received.append(request)
            if self.error is not None and len(received) > self.error_after:
                raise self.error
            if len(received) > 1:
                for item in self.on_audio(stream, received):
                    yield item
        for item in self.on_end(stream, received):
            yield item


def audio_of(requests) -> bytes:
    return b"".join(request.audio for request in requests[1:])


async def transcribe(stt: GoogleSpeechToText, frames, language: str = "fr") -> list[Transcript]:
    return [transcript async for transcript in stt.stream(frames, language=language)]


def make_stt(client, **kwargs) -> GoogleSpeechToText:
    return GoogleSpeechToText(project_id="callkom-test", client=client, **kwargs)


# speech to text


async def test_first_request_carries_the_config_and_the_rest_the_audio_in_order():
    def on_audio(stream, requests):
        return [response(event=Event.SPEECH_ACTIVITY_BEGIN), response(result("bonj", stability=0.4))] \
            if len(requests) == 2 else []

    client = FakeSpeechClient(on_audio=on_audio, on_end=lambda stream, requests: [
        response(result("Bonjour.", final=True, confidence=0.92)), response(event=Event.SPEECH_ACTIVITY_END)])
    stt = make_stt(client)
    assert isinstance(stt, SpeechToText)

    transcripts = await transcribe(stt, frames_of(10))

    assert transcripts == [Transcript("bonj", is_final=False, stability=0.4),
                           Transcript("Bonjour.", is_final=True, end_of_utterance=True, confidence=0.92)]
    [requests] = client.streams
    assert client.kwargs[0]["timeout"] > 280  # a deadline past the longest stream, never cutting one short
    first = requests[0]
    assert first.recognizer == "projects/callkom-test/locations/eu/recognizers/_"
    assert "audio" not in first
    config = first.streaming_config.config
    assert config.explicit_decoding_config.encoding == LINEAR16
    assert config.explicit_decoding_config.sample_rate_hertz == 16000
    assert config.explicit_decoding_config.audio_channel_count == 1
    assert list(config.language_codes) == ["fr-FR"]
    assert config.model == "long"
    features = first.streaming_config.streaming_features
    assert features.interim_results and features.enable_voice_activity_events
    assert all("streaming_config" not in request and request.audio for request in requests[1:])
    assert audio_of(requests) == b"".join(frame(index).pcm for index in range(10))
    assert stt.info.slug == "google-stt" and stt.info.region == "eu"


async def test_english_maps_to_en_us_and_a_full_tag_passes_through():
    client = FakeSpeechClient()
    await transcribe(make_stt(client, model="chirp_2"), frames_of(1), language="en")
    await transcribe(make_stt(client), frames_of(1), language="fr-BE")

    assert list(client.streams[0][0].streaming_config.config.language_codes) == ["en-US"]
    assert client.streams[0][0].streaming_config.config.model == "chirp_2"
    assert list(client.streams[1][0].streaming_config.config.language_codes) == ["fr-BE"]


async def test_unknown_language_is_a_permanent_error():
    with pytest.raises(ProviderError) as raised:
        await transcribe(make_stt(FakeSpeechClient()), frames_of(1), language="xx")
    assert raised.value.permanent


async def test_a_response_with_final_and_interim_results_gives_both_in_order():
    client = FakeSpeechClient(on_end=lambda stream, requests: [response(
        result("Bonjour.", final=True, confidence=0.9),
        result(" je voudrais", stability=0.9),
        result(" un rendez-vous", stability=0.1))])

    transcripts = await transcribe(make_stt(client), frames_of(3))

    assert transcripts == [Transcript("Bonjour.", is_final=True, end_of_utterance=True, confidence=0.9),
                           Transcript("je voudrais un rendez-vous", is_final=False, stability=0.1)]


async def test_no_audio_opens_no_stream():
    client = FakeSpeechClient()
    assert await transcribe(make_stt(client), frames_of(0)) == []
    assert client.streams == []


async def test_the_stream_is_renewed_at_the_limit_without_losing_audio():
    client = FakeSpeechClient(on_end=lambda stream, requests: [response(result(f"part {stream}", final=True))])
    # 0.1 s is 3200 bytes: the 0.5 s sent must be spread over several streams
    stt = make_stt(client, restart_after_s=0.1, restart_grace_s=0.0)

    transcripts = await transcribe(stt, frames_of(25))

    assert len(client.streams) >= 2
    assert [t.text for t in transcripts] == [f"part {index}" for index in range(len(client.streams))]
    for requests in client.streams:
        assert "streaming_config" in requests[0] and "audio" not in requests[0]
        assert 0 < len(audio_of(requests)) <= 3200 + 5 * FRAME_BYTES
    assert b"".join(audio_of(requests) for requests in client.streams) == \
        b"".join(frame(index).pcm for index in range(25))


async def test_past_the_soft_limit_the_stream_is_renewed_at_the_next_pause():
    def on_audio(stream, requests):
        if len(requests) == 2:
            return [response(event=Event.SPEECH_ACTIVITY_BEGIN)]
        if stream == 0 and len(audio_of(requests)) >= 8 * FRAME_BYTES:
            return [response(result("Bonjour.", final=True))]  # the caller pauses
        return []

    client = FakeSpeechClient(on_audio=on_audio)
    stt = make_stt(client, restart_after_s=0.1, restart_grace_s=100.0)

    transcripts = await transcribe(stt, frames_of(20))

    assert [t.text for t in transcripts] == ["Bonjour."]
    assert len(client.streams) == 2
    # speech went on past the 0.1 s (5 frames) soft limit; the switch waited for the final result
    assert 8 * FRAME_BYTES <= len(audio_of(client.streams[0])) < 20 * FRAME_BYTES
    assert audio_of(client.streams[0]) + audio_of(client.streams[1]) == \
        b"".join(frame(index).pcm for index in range(20))


async def test_end_of_single_utterance_moves_the_rest_to_a_new_stream():
    def on_audio(stream, requests):
        return [response(event=Event.END_OF_SINGLE_UTTERANCE)] if stream == 0 and len(requests) == 2 else []

    client = FakeSpeechClient(on_audio=on_audio)
    await transcribe(make_stt(client), frames_of(12))

    assert len(client.streams) == 2
    assert audio_of(client.streams[0]) + audio_of(client.streams[1]) == \
        b"".join(frame(index).pcm for index in range(12))


@pytest.mark.parametrize(("error", "permanent", "timeout"), ERROR_CASES)
@pytest.mark.parametrize("error_after", [0, 1])  # on opening the stream, or once audio flows
async def test_speech_errors_are_mapped(error, permanent, timeout, error_after):
    client = FakeSpeechClient(error=error("details quoting Bonjour"), error_after=error_after)

    with pytest.raises(ProviderError) as raised:
        await transcribe(make_stt(client), frames_of(5))

    assert (raised.value.permanent, raised.value.timeout) == (permanent, timeout)
    assert error.__name__ in str(raised.value) and "Bonjour" not in str(raised.value)


async def test_a_failing_audio_source_is_reported_as_is():
    async def broken():
        yield frame(0)
        raise ConnectionResetError("transport gone")

    with pytest.raises(ConnectionResetError):
        await transcribe(make_stt(FakeSpeechClient()), broken())


async def test_stopping_early_stops_reading_the_audio():
    reading = asyncio.Event()
    closed = asyncio.Event()

    async def endless():
        try:
            index = 0
            while True:
                reading.set()
                yield frame(index)
                index += 1
                await asyncio.sleep(0)
        finally:
            closed.set()

    client = FakeSpeechClient(on_audio=lambda stream, requests: [response(result("allô", stability=0.5))])
    async with aclosing(make_stt(client).stream(endless(), language="fr")) as transcripts:
        assert (await anext(transcripts)).text == "allô"
    await asyncio.wait_for(closed.wait(), 5)
    assert client.calls[0].cancelled


async def test_audio_at_another_rate_is_refused():
    async def telephone_rate():
        yield AudioFrame(pcm=b"\0" * 320, sample_rate=8000)

    with pytest.raises(BadAudio):
        await transcribe(make_stt(FakeSpeechClient()), telephone_rate())


async def test_real_client_is_built_for_the_eu_endpoint():
    stt = GoogleSpeechToText(project_id="callkom-test", credentials=AnonymousCredentials())
    client = stt.client()
    try:
        assert client.api_endpoint == "eu-speech.googleapis.com"
    finally:
        await stt.aclose()


# text to speech


def pcm(samples: int, seed: int = 1) -> bytes:
    return bytes((seed + index) % 251 for index in range(samples * 2))


def wav(data: bytes, rate: int = 16000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(data)
    return buffer.getvalue()


def padded(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % FRAME_BYTES)


class FakeTtsClient:
    """Stands in for TextToSpeechAsyncClient with the real request and response messages."""

    def __init__(self, audio: dict[str, bytes], *, chunk: int = 333, hold: asyncio.Event | None = None,
                 error: Exception | None = None, rate: int = 16000):
        self.audio = audio
        self.chunk = chunk
        self.hold = hold  # when set, only the first sentence is answered until the event is set
        self.error = error
        self.rate = rate
        self.streaming_requests: list[texttospeech.StreamingSynthesizeRequest] = []
        self.unary_requests: list[texttospeech.SynthesizeSpeechRequest] = []
        self.kwargs: list[dict] = []

    async def streaming_synthesize(self, requests=None, **kwargs):
        assert hasattr(requests, "__aiter__")
        self.kwargs.append(kwargs)
        if self.error is not None:
            raise self.error
        return self._stream(requests)

    async def _stream(self, requests):
        async for request in requests:
            assert isinstance(request, texttospeech.StreamingSynthesizeRequest)
            self.streaming_requests.append(request)
            if "input" not in request:
                continue
            if self.hold is not None and len(self.streaming_requests) > 2:
                await self.hold.wait()
            data = self.audio[request.input.text]
            for start in range(0, len(data), self.chunk):
                yield texttospeech.StreamingSynthesizeResponse(audio_content=data[start:start + self.chunk])

    async def synthesize_speech(self, request=None, **kwargs):
        assert isinstance(request, texttospeech.SynthesizeSpeechRequest)
        self.unary_requests.append(request)
        self.kwargs.append(kwargs)
        if self.error is not None:
            raise self.error
        if self.hold is not None and len(self.unary_requests) > 1:
            await self.hold.wait()
        return texttospeech.SynthesizeSpeechResponse(audio_content=wav(self.audio[request.input.text], self.rate))


SENTENCES = {"Bonjour, cabinet Martin.": pcm(4001, 1), "Que puis-je pour vous ?": pcm(2500, 7)}
TEXT = "Bonjour, cabinet Martin. Que puis-je pour vous ?"
ALL_AUDIO = b"".join(SENTENCES.values())


async def speak(tts: GoogleTextToSpeech, text: str = TEXT, **kwargs) -> list[AudioFrame]:
    return [frame async for frame in tts.synthesize(text, language=kwargs.pop("language", "fr"), **kwargs)]


async def test_chirp3_hd_voices_are_streamed_in_20_ms_frames():
    client = FakeTtsClient(SENTENCES)
    tts = GoogleTextToSpeech(client=client)
    assert isinstance(tts, TextToSpeech)

    frames = await speak(tts, voice="fr-FR-Chirp3-HD-Charon")

    assert all(len(f.pcm) == FRAME_BYTES and f.sample_rate == 16000 for f in frames)
    assert b"".join(f.pcm for f in frames) == padded(ALL_AUDIO)
    first, *inputs = client.streaming_requests
    assert "input" not in first
    assert first.streaming_config.voice.name == "fr-FR-Chirp3-HD-Charon"
    assert first.streaming_config.voice.language_code == "fr-FR"
    assert first.streaming_config.streaming_audio_config.audio_encoding == texttospeech.AudioEncoding.PCM
    assert first.streaming_config.streaming_audio_config.sample_rate_hertz == 16000
    assert [request.input.text for request in inputs] == list(SENTENCES)
    assert client.unary_requests == []


async def test_default_english_voice_is_a_streaming_one():
    client = FakeTtsClient({"Hello.": pcm(640)})
    frames = await speak(GoogleTextToSpeech(client=client), "Hello.", language="en")
    assert client.streaming_requests[0].streaming_config.voice.name.startswith("en-US-Chirp3-HD-")
    assert b"".join(f.pcm for f in frames) == padded(pcm(640))


async def test_other_voices_are_synthesised_per_sentence_without_the_wav_header():
    client = FakeTtsClient(SENTENCES)

    frames = await speak(GoogleTextToSpeech(client=client), voice="fr-FR-Neural2-A")

    assert all(len(f.pcm) == FRAME_BYTES for f in frames)
    assert b"".join(f.pcm for f in frames) == padded(ALL_AUDIO)  # no RIFF header bytes in between
    assert [request.input.text for request in client.unary_requests] == list(SENTENCES)
    for request in client.unary_requests:
        assert request.voice.name == "fr-FR-Neural2-A" and request.voice.language_code == "fr-FR"
        assert request.audio_config.audio_encoding == texttospeech.AudioEncoding.LINEAR16
        assert request.audio_config.sample_rate_hertz == 16000
    assert client.streaming_requests == []


async def test_a_wav_at_another_rate_is_resampled():
    client = FakeTtsClient({"Bonjour.": pcm(2400)}, rate=24000)
    frames = await speak(GoogleTextToSpeech(client=client), "Bonjour.", voice="fr-FR-Wavenet-B")
    assert len(frames) == 5  # 0.1 s at 16 kHz is 1600 samples, five 20 ms frames


def test_wav_payload_strips_the_header_only_when_there_is_one():
    assert wav_payload(wav(pcm(10))) == (pcm(10), 16000)
    assert wav_payload(pcm(10)) == (pcm(10), 16000)


@pytest.mark.parametrize("voice", ["fr-FR-Chirp3-HD-Charon", "fr-FR-Neural2-A"])
async def test_the_first_frame_comes_before_the_rest_is_synthesised(voice):
    hold = asyncio.Event()
    client = FakeTtsClient(SENTENCES, hold=hold)
    tts = GoogleTextToSpeech(client=client)

    async with aclosing(tts.synthesize(TEXT, language="fr", voice=voice)) as frames:
        first = await asyncio.wait_for(anext(frames), 5)
        assert first.pcm == ALL_AUDIO[:FRAME_BYTES]
        hold.set()
        rest = [frame async for frame in frames]

    assert first.pcm + b"".join(f.pcm for f in rest) == padded(ALL_AUDIO)


@pytest.mark.parametrize(("error", "permanent", "timeout"), ERROR_CASES)
@pytest.mark.parametrize("voice", ["fr-FR-Chirp3-HD-Charon", "fr-FR-Neural2-A"])
async def test_tts_errors_are_mapped(error, permanent, timeout, voice):
    client = FakeTtsClient(SENTENCES, error=error("text was: Bonjour"))

    with pytest.raises(ProviderError) as raised:
        await speak(GoogleTextToSpeech(client=client), voice=voice)

    assert (raised.value.permanent, raised.value.timeout) == (permanent, timeout)
    assert "Bonjour" not in str(raised.value)


async def test_a_stalled_stream_times_out():
    never = asyncio.Event()
    client = FakeTtsClient(SENTENCES, hold=never)
    tts = GoogleTextToSpeech(client=client, timeout_s=0.2)

    with pytest.raises(ProviderError) as raised:
        await speak(tts, voice="fr-FR-Chirp3-HD-Charon")

    assert raised.value.timeout and not raised.value.permanent


async def test_unary_requests_carry_a_deadline():
    client = FakeTtsClient(SENTENCES)
    await speak(GoogleTextToSpeech(client=client, timeout_s=7.0), voice="fr-FR-Neural2-A")
    assert all(kwargs["timeout"] == 7.0 for kwargs in client.kwargs)


async def test_empty_text_synthesises_nothing():
    client = FakeTtsClient({})
    assert await speak(GoogleTextToSpeech(client=client), "  \n ") == []
    assert client.kwargs == []


async def test_real_tts_client_is_built_for_the_eu_endpoint():
    tts = GoogleTextToSpeech(credentials=AnonymousCredentials())
    client = tts.client()
    try:
        assert client.api_endpoint == "eu-texttospeech.googleapis.com"
    finally:
        await tts.aclose()
