"""The local providers: espeak-ng speech and PocketSphinx recognition, with no account and no network."""

import asyncio

import numpy as np
import pytest

from voice.audio import FRAME_BYTES, SAMPLE_RATE, AudioFrame
from voice.providers.base import ProviderError, SpeechToText, TextToSpeech
from voice.providers.espeak import EspeakTextToSpeech, split_sentences
from voice.providers.pocketsphinx_stt import PocketsphinxSpeechToText

FRENCH = "Bonjour, vous êtes bien chez le cabinet du docteur Martin. Que puis-je faire pour vous ?"
ENGLISH = "Hello, you have reached the office of doctor Martin. How can I help you?"


async def speak(text: str, language: str, **kwargs) -> list[AudioFrame]:
    return [frame async for frame in EspeakTextToSpeech(**kwargs).synthesize(text, language=language)]


def pcm_of(frames: list[AudioFrame]) -> bytes:
    return b"".join(frame.pcm for frame in frames)


def silence(seconds: float) -> bytes:
    return bytes(int(seconds * SAMPLE_RATE) * 2)


async def as_frames(pcm: bytes, consumed: list | None = None):
    for start in range(0, len(pcm), FRAME_BYTES):
        if consumed is not None:
            consumed.append(start)
        yield AudioFrame(pcm=pcm[start:start + FRAME_BYTES])


async def transcribe(pcm: bytes, language: str = "en") -> list:
    return [transcript async for transcript in PocketsphinxSpeechToText().stream(as_frames(pcm), language=language)]


def envelope(pcm: bytes) -> np.ndarray:
    """Return the loudness of each 20 ms frame."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    frames = samples[: len(samples) // 320 * 320].reshape(-1, 320)
    return np.sqrt((frames**2).mean(axis=1))


def same_speech(a: bytes, b: bytes) -> bool:
    """Tell whether two syntheses say the same thing with the same voice (espeak-ng is not bit-exact)."""
    return len(a) == len(b) and np.corrcoef(envelope(a), envelope(b))[0, 1] > 0.9


def words(text: str) -> set[str]:
    return set(text.lower().replace(",", " ").split())


def test_providers_match_the_protocols():
    assert isinstance(EspeakTextToSpeech(), TextToSpeech)
    assert isinstance(PocketsphinxSpeechToText(), SpeechToText)
    assert EspeakTextToSpeech.info.slug == "local-espeak"
    assert PocketsphinxSpeechToText.info.slug == "local-pocketsphinx"


@pytest.mark.parametrize(("text", "language"), [(FRENCH, "fr"), (ENGLISH, "en"), (FRENCH, "fr-FR")])
async def test_espeak_speaks_16khz_20ms_frames(text, language):
    frames = await speak(text, language)

    assert frames and all(len(frame.pcm) == FRAME_BYTES and frame.sample_rate == SAMPLE_RATE for frame in frames)
    seconds = len(frames) * 0.02
    assert 1.0 < seconds < 10.0
    samples = np.frombuffer(pcm_of(frames), dtype="<i2").astype(np.float64)
    assert np.sqrt(np.mean(samples**2)) > 500  # clearly audible, not silence or noise


async def test_espeak_voices_and_rate_change_the_audio():
    french = await speak("Bonjour", "fr")
    english = await speak("Bonjour", "en")
    fast = await speak(ENGLISH, "en", rate=350)
    normal = await speak(ENGLISH, "en")

    assert pcm_of(french) != pcm_of(english)
    assert len(fast) < 0.8 * len(normal)


async def test_espeak_voice_override_takes_precedence():
    default = pcm_of(await speak("Hello there", "en"))
    american = pcm_of(await speak("Hello there", "en", voice="en-us"))
    per_request = [f async for f in EspeakTextToSpeech().synthesize("Hello there", language="en", voice="en-us")]

    assert not same_speech(american, default)
    assert same_speech(pcm_of(per_request), american)


async def test_espeak_is_serialised_across_concurrent_tasks():
    texts = [(FRENCH, "fr"), (ENGLISH, "en")] * 4
    expected = [pcm_of(await speak(text, language)) for text, language in texts]

    results = await asyncio.gather(*(speak(text, language) for text, language in texts))

    assert all(same_speech(pcm_of(frames), alone) for frames, alone in zip(results, expected, strict=True))


async def test_espeak_refuses_unknown_voice_and_language_permanently():
    with pytest.raises(ProviderError) as unknown_voice:
        await speak("Hello", "en", voice="no-such-voice")
    with pytest.raises(ProviderError) as unknown_language:
        await speak("Hallo", "xx")

    assert unknown_voice.value.permanent and unknown_language.value.permanent


def test_sentences_are_split_but_not_at_abbreviations():
    text = "Bonjour M. Dupont. Votre rendez-vous est à 10:30 !\nÇa vous va ?  "

    assert split_sentences(text) == ["Bonjour M. Dupont.", "Votre rendez-vous est à 10:30 !", "Ça vous va ?"]
    assert split_sentences("   ") == []


async def test_espeak_yields_nothing_for_blank_text():
    assert await speak("  \n ", "en") == []


async def test_round_trip_from_espeak_to_pocketsphinx():
    sentence = "yes i would like to book an appointment for tomorrow"
    # the American voice is the one the en-us acoustic model recognises best
    speech = pcm_of(await speak(sentence, "en", voice="en-us"))

    transcripts = await transcribe(silence(0.5) + speech + silence(1.0))

    finals = [t for t in transcripts if t.is_final]
    assert len(finals) == 1 and finals[0].end_of_utterance
    assert transcripts[-1] is finals[0]
    assert len(words(finals[0].text) & words(sentence)) >= 5
    assert any(not t.is_final for t in transcripts)


async def test_pocketsphinx_hears_a_lone_short_answer():
    speech = pcm_of(await speak("yes", "en", voice="en-us"))

    transcripts = await transcribe(silence(0.5) + speech + silence(1.0))

    assert [t.text for t in transcripts if t.is_final] == ["yes"]


async def test_pocketsphinx_ends_one_utterance_per_pause_and_at_end_of_audio():
    first = pcm_of(await speak("i would like to book an appointment for tomorrow", "en", voice="en-us"))
    second = pcm_of(await speak("i would like to speak to someone about my account", "en", voice="en-us"))

    # no trailing silence: the second utterance only ends with the audio
    transcripts = await transcribe(silence(0.3) + first + silence(1.5) + second)

    finals = [t for t in transcripts if t.is_final]
    assert len(finals) == 2 and all(t.end_of_utterance for t in finals)
    assert words(finals[0].text) & {"book", "appointment", "tomorrow"}
    assert words(finals[1].text) & {"speak", "someone", "about", "account"}


async def test_pocketsphinx_recovers_after_a_stream_is_abandoned_mid_utterance():
    sentence = "yes i would like to book an appointment for tomorrow"
    audio = silence(0.5) + pcm_of(await speak(sentence, "en", voice="en-us")) + silence(1.0)
    abandoned = PocketsphinxSpeechToText().stream(as_frames(audio), language="en")
    first = await anext(abandoned)
    await abandoned.aclose()

    transcripts = await transcribe(audio)

    assert not first.is_final
    assert len(words(transcripts[-1].text) & words(sentence)) >= 5


async def test_pocketsphinx_refuses_french_before_reading_audio():
    consumed = []
    stream = PocketsphinxSpeechToText().stream(as_frames(silence(1.0), consumed), language="fr")

    with pytest.raises(ProviderError, match="only an English model") as error:
        await anext(stream)

    assert error.value.permanent
    assert consumed == []


async def test_pocketsphinx_hears_nothing_in_silence_or_faint_noise():
    noise = (np.random.default_rng(7).standard_normal(2 * SAMPLE_RATE) * 100).astype("<i2").tobytes()

    assert await transcribe(silence(2.0)) == []
    assert [t for t in await transcribe(noise) if t.is_final] == []


async def test_pocketsphinx_refuses_audio_at_another_rate():
    async def frames():
        yield AudioFrame(pcm=bytes(960), sample_rate=24_000)

    with pytest.raises(ProviderError) as error:
        async for _ in PocketsphinxSpeechToText().stream(frames(), language="en"):
            pass

    assert error.value.permanent
