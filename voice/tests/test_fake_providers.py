import asyncio
import json
import math

import pytest

from voice.audio import FRAME_BYTES, frames_from_pcm, mix, noise, rms_dbfs, tone
from voice.providers.base import (
    ChatMessage,
    LanguageModel,
    LLMDelta,
    ProviderError,
    SpeechToText,
    TextToSpeech,
    Transcript,
    Usage,
)
from voice.providers.fake import FakeLanguageModel, FakeSpeechToText, FakeTextToSpeech, split_pieces

SLACK = 0.5  # seconds of upper-bound tolerance for a loaded machine; lower bounds are exact (sleep never wakes early)
EPS = 0.005  # event-loop clock granularity


def now() -> float:
    return asyncio.get_running_loop().time()


def speech(*parts: tuple[str, int]) -> bytes:
    pcm = b"".join(tone(ms, 300.0, 0.2) if kind == "tone" else bytes(ms * 32) for kind, ms in parts)
    return mix(pcm, noise(len(pcm) // 32, 0.003))


async def feed(pcm: bytes, log: list, *, pace_s: float = 0.0, hold: asyncio.Event | None = None):
    """Yield the frames of ``pcm``, logging when each is taken, then keep the stream open until ``hold`` is set."""
    for frame in frames_from_pcm(pcm):
        log.append(("frame", now()))
        yield frame
        await asyncio.sleep(pace_s)
    log.append(("fed", now()))
    if hold is not None:
        await hold.wait()


USER = [ChatMessage("user", "Wann habt ihr morgen offen?")]


# --- protocols ------------------------------------------------------------------------------------------------------

def test_fakes_implement_the_protocols_and_name_themselves():
    stt, llm, tts = FakeSpeechToText([]), FakeLanguageModel(["x"]), FakeTextToSpeech()
    assert isinstance(stt, SpeechToText) and isinstance(llm, LanguageModel) and isinstance(tts, TextToSpeech)
    assert [p.info.slug for p in (stt, llm, tts)] == ["fake-stt", "fake-llm", "fake-tts"]
    assert {(p.info.model, p.info.region) for p in (stt, llm, tts)} == {("fake", "local")}


# --- speech to text -------------------------------------------------------------------------------------------------

async def test_stt_yields_growing_interims_then_the_final_after_the_delay():
    stt = FakeSpeechToText(["ich hätte gern einen Termin"], final_delay_ms=150, interim_every_ms=100)
    log, hold, got = [], asyncio.Event(), []
    async for transcript in stt.stream(feed(speech(("gap", 200), ("tone", 500), ("gap", 500)), log, hold=hold),
                                       language="de"):
        got.append((now(), transcript))
        if transcript.is_final:
            hold.set()
    interims = [t for _, t in got if not t.is_final]
    final_at, final = got[-1]
    assert final == Transcript("ich hätte gern einen Termin", is_final=True, end_of_utterance=True,
                               stability=1.0, confidence=0.95)
    assert [t.text for t in interims] == ["ich", "ich hätte", "ich hätte gern", "ich hätte gern einen",
                                          "ich hätte gern einen Termin"]  # one per 100 ms of the 500 ms of speech
    assert all(0 < t.stability < 1 for t in interims)
    assert [t.stability for t in interims] == sorted(t.stability for t in interims)
    first_frame, fed = log[0][1], log[-1][1]
    assert first_frame + 0.150 - EPS <= final_at <= fed + 0.150 + SLACK


async def test_stt_keeps_consuming_frames_while_a_final_is_pending():
    stt = FakeSpeechToText(["hallo"], final_delay_ms=100, interim_every_ms=None)
    log = []
    async for transcript in stt.stream(feed(speech(("tone", 200), ("gap", 1400)), log, pace_s=0.005),
                                       language="de"):
        log.append(("final" if transcript.is_final else "interim", now()))
    kinds = [kind for kind, _ in log]
    assert kinds.count("final") == 1 and "interim" not in kinds
    final = kinds.index("final")
    assert "frame" in kinds[final:]  # frames were still being taken after the final arrived
    assert kinds[-1] == "fed"


async def test_stt_uses_the_script_in_order_and_ignores_speech_once_it_is_used_up():
    stt = FakeSpeechToText(["eins", "zwei"], final_delay_ms=20, interim_every_ms=None)
    pcm = speech(("gap", 200), ("tone", 200), ("gap", 500), ("tone", 200), ("gap", 500), ("tone", 200), ("gap", 500))
    finals = [t.text async for t in stt.stream(feed(pcm, []), language="de") if t.is_final]
    assert finals == ["eins", "zwei"]
    assert stt.remaining == 0
    assert [t async for t in stt.stream(feed(pcm, []), language="de")] == []


async def test_stt_finalises_speech_that_is_cut_off_by_the_end_of_the_frames():
    stt = FakeSpeechToText(["bis dann"], final_delay_ms=30)
    got = [t async for t in stt.stream(feed(speech(("gap", 100), ("tone", 300)), []), language="de")]
    assert got[-1].text == "bis dann" and got[-1].is_final


async def test_stt_failure_raises_provider_error_where_the_final_would_be():
    stt = FakeSpeechToText(["a", "b"], final_delay_ms=20, interim_every_ms=100, fail_rate=1.0, fail_kind="permanent")
    got = []
    with pytest.raises(ProviderError, match="fake-stt: simulated permanent failure") as excinfo:
        async for transcript in stt.stream(feed(speech(("tone", 300), ("gap", 400)), []), language="de"):
            got.append(transcript)
    assert excinfo.value.permanent and not excinfo.value.timeout
    assert got and not any(t.is_final for t in got)


async def test_stt_closing_the_stream_early_stops_the_reader():
    stt = FakeSpeechToText(["eins zwei drei"], final_delay_ms=5000, interim_every_ms=60)
    log, hold = [], asyncio.Event()
    stream = stt.stream(feed(speech(("tone", 300), ("gap", 400)), log, hold=hold), language="de")
    first = await anext(stream)
    assert not first.is_final
    while log[-1][0] != "fed":  # all frames taken: speech has ended and its final is pending
        await asyncio.sleep(0.005)
    assert len(asyncio.all_tasks()) > 1  # the reader runs beside this test
    await stream.aclose()
    await asyncio.sleep(0.01)
    assert asyncio.all_tasks() == {asyncio.current_task()}  # the reader and any pending final are gone
    assert stt.cancelled == 1 and stt.requests == 1


# --- language model -------------------------------------------------------------------------------------------------

def test_split_pieces_is_lossless_and_token_sized():
    text = "  Guten Tag, Zahnarztpraxis Dr. Müller!\nWie kann ich helfen?  "
    pieces = split_pieces(text)
    assert "".join(pieces) == text
    assert all(len(p.strip()) <= 4 for p in pieces)
    assert len(pieces) > len(text.split())


async def test_llm_streams_pieces_at_the_configured_rate_then_usage():
    reply = "Wir haben morgen von acht bis zwölf Uhr geöffnet."
    llm = FakeLanguageModel([reply], first_token_ms=100, tokens_per_second=200)
    started = now()
    deltas: list[tuple[float, LLMDelta]] = [(now(), d) async for d in llm.stream(USER)]
    texts = [d.text for _, d in deltas[:-1]]
    assert "".join(texts) == reply
    assert deltas[-1][1] == LLMDelta(usage=Usage(prompt_tokens=len(split_pieces(USER[0].content)) + 4,
                                                 completion_tokens=len(texts)))
    first_at, last_at = deltas[0][0], deltas[-2][0]
    assert started + 0.100 - EPS <= first_at <= started + 0.100 + SLACK
    # Pieces follow a fixed schedule from the request start, so a late first piece is not added to the later ones.
    assert last_at >= started + 0.100 + (len(texts) - 1) / 200 - EPS


async def test_llm_replies_cycle_or_come_from_a_function_and_respect_max_tokens():
    llm = FakeLanguageModel(["eins", "zwei"], first_token_ms=0, tokens_per_second=1000)

    async def reply(**kwargs) -> str:
        return "".join([d.text async for d in llm.stream(USER, **kwargs)])

    assert [await reply(), await reply(), await reply()] == ["eins", "zwei", "eins"]
    assert llm.requests == 3

    llm = FakeLanguageModel(lambda messages: f"{len(messages)} Nachrichten, zuletzt: {messages[-1].content}",
                            first_token_ms=0, tokens_per_second=1000)
    assert await reply() == "1 Nachrichten, zuletzt: Wann habt ihr morgen offen?"
    assert await reply(max_tokens=3) == "1 Nachrich"  # pieces "1", " Nach", "rich"


async def test_llm_cancellation_stops_the_stream_promptly():
    llm = FakeLanguageModel(["ein langer Satz " * 50], first_token_ms=10, tokens_per_second=50)
    got: list[LLMDelta] = []

    async def consume():
        async for delta in llm.stream(USER):
            got.append(delta)

    task = asyncio.create_task(consume())
    while len(got) < 2:
        await asyncio.sleep(0.005)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=0.5)
    count = len(got)
    await asyncio.sleep(0.1)
    assert len(got) == count < 5
    assert llm.cancelled == 1


async def test_llm_fail_after_tokens_yields_then_raises():
    llm = FakeLanguageModel(["eins zwei drei vier"], first_token_ms=0, tokens_per_second=1000, fail_after_tokens=2,
                            fail_kind="timeout")
    got = []
    with pytest.raises(ProviderError, match="after 2 tokens") as excinfo:
        async for delta in llm.stream(USER):
            got.append(delta.text)
    assert got == ["eins", " zwei"] and excinfo.value.timeout and not excinfo.value.permanent


async def test_llm_fail_rate_is_reproducible_with_a_seed():
    async def pattern(seed: int) -> list[bool]:
        llm = FakeLanguageModel(["ok"], first_token_ms=0, tokens_per_second=1000, fail_rate=0.5, seed=seed)
        outcome = []
        for _ in range(20):
            try:
                [d async for d in llm.stream(USER)]
                outcome.append(True)
            except ProviderError as exc:
                assert not exc.permanent
                outcome.append(False)
        return outcome

    first = await pattern(7)
    assert first == await pattern(7)
    assert 0 < first.count(False) < 20


async def test_llm_jitter_only_adds_latency_and_does_not_depend_on_the_fail_rate():
    llm = FakeLanguageModel(["x"], first_token_ms=20, tokens_per_second=1000, jitter_ms=60, seed=3)
    for _ in range(3):
        started = now()
        async for _delta in llm.stream(USER):
            assert started + 0.020 - EPS <= now() <= started + 0.080 + SLACK
            break
    steady = FakeLanguageModel(["x"], jitter_ms=60, seed=3)
    flaky = FakeLanguageModel(["x"], jitter_ms=60, seed=3, fail_rate=0.9)
    assert [steady._roll()[1] for _ in range(5)] == [flaky._roll()[1] for _ in range(5)]


async def test_llm_complete_json_returns_scripted_text_even_if_invalid():
    llm = FakeLanguageModel(["-"], first_token_ms=10, tokens_per_second=1000,
                            json_replies=['{"intent": "booking"}', "{not json"])
    first = await llm.complete_json(USER, schema={"type": "object"}, schema_name="intent")
    second = await llm.complete_json(USER, schema={"type": "object"}, schema_name="intent")
    assert json.loads(first.text) == {"intent": "booking"}
    assert second.text == "{not json" and second.usage.completion_tokens == len(split_pieces("{not json"))
    unscripted = await FakeLanguageModel(["-"], first_token_ms=0).complete_json(USER, schema={}, schema_name="x")
    assert unscripted.text == "{}"
    with pytest.raises(ProviderError):
        await FakeLanguageModel(["-"], fail_rate=1.0).complete_json(USER, schema={}, schema_name="x")


# --- text to speech -------------------------------------------------------------------------------------------------

async def test_tts_yields_quiet_20ms_frames_as_long_as_the_text_faster_than_real_time():
    text = "Gern, ich trage Sie für morgen ein."  # 35 characters -> 2.1 s of audio
    tts = FakeTextToSpeech(first_byte_ms=50, realtime_factor=0.1, ms_per_char=60)
    started = now()
    frames = []
    async for frame in tts.synthesize(text, language="de"):
        frames.append((now(), frame))
    elapsed = now() - started
    assert len(frames) == math.ceil(35 * 60 / 20) == tts.frame_count(text)
    assert all(len(f.pcm) == FRAME_BYTES and f.sample_rate == 16000 for _, f in frames)
    audio_s = sum(f.duration_ms for _, f in frames) / 1000
    assert audio_s == pytest.approx(2.1)
    assert started + 0.050 - EPS <= frames[0][0] <= started + 0.050 + SLACK
    assert elapsed >= 0.050 + (len(frames) - 1) * 0.002 - EPS
    assert elapsed < audio_s  # synthesis runs ahead of playout
    level = rms_dbfs(b"".join(f.pcm for _, f in frames))
    assert level == pytest.approx(-29.0, abs=0.5)


async def test_tts_empty_text_yields_nothing_and_ms_per_char_scales():
    assert [f async for f in FakeTextToSpeech(first_byte_ms=0).synthesize("   ", language="de")] == []
    slow = FakeTextToSpeech(first_byte_ms=0, realtime_factor=0, ms_per_char=100)
    assert len([f async for f in slow.synthesize("abcd", language="de")]) == 20


async def test_tts_failures_raise_provider_error():
    with pytest.raises(ProviderError, match="fake-tts: simulated transient failure"):
        [f async for f in FakeTextToSpeech(fail_rate=1.0).synthesize("hallo", language="de")]
    tts = FakeTextToSpeech(first_byte_ms=0, realtime_factor=0, fail_after_frames=3)
    got = []
    with pytest.raises(ProviderError, match="after 3 frames"):
        async for frame in tts.synthesize("hallo welt", language="de"):
            got.append(frame)
    assert len(got) == 3


async def test_tts_cancellation_is_counted():
    tts = FakeTextToSpeech(first_byte_ms=0, realtime_factor=1.0)
    stream = tts.synthesize("ein ganzer Satz", language="de")
    await anext(stream)
    await stream.aclose()
    assert tts.cancelled == 1 and tts.requests == 1


def test_invalid_fake_settings_are_rejected():
    with pytest.raises(ValueError):
        FakeLanguageModel(["x"], fail_rate=1.5)
    with pytest.raises(ValueError):
        FakeTextToSpeech(fail_kind="sometimes")
    with pytest.raises(ValueError):
        FakeLanguageModel(["x"], tokens_per_second=0)
