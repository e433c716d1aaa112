"""Pipeline benchmark: N concurrent calls in one process, paced at real time, on fake providers.

Standard provider profile: the final transcript 300 ms after the end of speech, the LLM's first token 350 ms after
the request then 40 tokens/s, the TTS's first byte 150 ms after the request. The pipeline's *overhead* of a turn
is what it adds on top: measured end of caller speech → first agent audio frame, minus the latencies injected by
the fakes on that path (including the tokens the LLM needs to finish the first sentence).
"""

from __future__ import annotations

import asyncio
import random
import resource
import statistics
import time
from dataclasses import dataclass, field

from .audio import FRAME_MS, AudioFrame, silence, tone
from .gateway import InvocationRecorder, LanguageModelChain, SpeechToTextChain, TextToSpeechChain
from .pacing import PlayoutStats, play_out
from .protocols import ProviderChoice, ProviderSet
from .providers.fake import FakeLanguageModel, FakeSpeechToText, FakeTextToSpeech, split_pieces
from .runtime import freeze_startup_heap
from .session import CallSession, SessionConfig

STT_FINAL_MS = 300.0  # after the end of speech
STT_ENDPOINTING_MS = 100.0  # part of those 300 ms that the fake spends noticing the speech ended
LLM_FIRST_TOKEN_MS = 350.0
LLM_TOKENS_PER_S = 40.0
TTS_FIRST_BYTE_MS = 150.0
REPLY = "Très bien, c'est noté pour vous. Autre chose ?"
CALLER_SPEECH_MS = 1200
PAUSE_AFTER_AGENT_MS = 400


def injected_ms(reply: str = REPLY) -> float:
    """Return the provider latency on the path from end of speech to the first agent frame.

    That includes the LLM's pace up to the token that completes the first sentence; after a full stop, that is
    the token that follows it (the splitter waits for it on purpose, see ``voice.text``).
    """
    pieces = split_pieces(reply)
    text, needed = "", 0
    for needed, piece in enumerate(pieces, start=1):  # noqa: B007 - the count is the result
        text += piece
        if text.rstrip().endswith(("!", "?", "…")):
            break
        if text.rstrip().endswith(".") and needed < len(pieces):
            needed += 1
            break
    return STT_FINAL_MS + LLM_FIRST_TOKEN_MS + (needed - 1) * 1000 / LLM_TOKENS_PER_S + TTS_FIRST_BYTE_MS


@dataclass
class CallResult:
    turns: list[dict] = field(default_factory=list)
    playout: PlayoutStats = field(default_factory=PlayoutStats)
    end_reason: str = ""


def standard_providers(*, tenant=None, script=None, mode: str = "bench",
                       fake_options: dict | None = None) -> ProviderSet:
    """Return fakes with the standard profile, whatever the call (the default ``ProviderChoice``).

    No jitter: every call sees the same latencies.
    """
    utterances = [f"phrase numéro {i} du client" for i in range(10_000)]
    return ProviderSet(
        stt=[FakeSpeechToText(utterances, final_delay_ms=STT_FINAL_MS - STT_ENDPOINTING_MS,
                              endpointing_ms=STT_ENDPOINTING_MS)],
        llm=[FakeLanguageModel([REPLY], first_token_ms=LLM_FIRST_TOKEN_MS,
                               tokens_per_second=LLM_TOKENS_PER_S)],
        tts=[FakeTextToSpeech(first_byte_ms=TTS_FIRST_BYTE_MS)],
    )


def _session(choose: ProviderChoice) -> CallSession:
    """A session on the providers ``choose`` gives a benchmark call."""
    providers = choose(tenant=None, script=None, mode="bench")
    recorder = InvocationRecorder(None)
    config = SessionConfig(greeting="Bonjour, je suis l'assistant virtuel de Demo.", system_prompt="Benchmark.",
                           language="fr", early_llm_start=False, silence_timeout_s=60, max_duration_s=3600,
                           no_transcript_timeout_ms=None)
    return CallSession(config, SpeechToTextChain(providers.stt, recorder, first_output_timeout_s=5),
                       LanguageModelChain(providers.llm, recorder, first_output_timeout_s=5),
                       TextToSpeechChain(providers.tts, recorder, first_output_timeout_s=5))


async def _caller(session: CallSession, turns: int) -> None:
    """Send 20 ms frames on a fixed schedule: speech for each turn once the agent has finished, silence between."""
    loop = asyncio.get_running_loop()
    quiet = AudioFrame(silence(FRAME_MS))
    speech = [AudioFrame(tone(FRAME_MS, 300.0 + 10 * i, 0.3)) for i in range(CALLER_SPEECH_MS // FRAME_MS)]
    due, spoken, listening_since = loop.time(), 0, None
    queue: list[AudioFrame] = []
    while spoken < turns or queue or len(session.turns) < spoken or session.state != "listening":
        if not queue and spoken < turns and session.state == "listening" and session.audio_out.empty():
            listening_since = listening_since or loop.time()
            if loop.time() - listening_since >= PAUSE_AFTER_AGENT_MS / 1000:
                queue, spoken, listening_since = list(speech), spoken + 1, None
        elif session.state != "listening":
            listening_since = None
        await session.push_audio(queue.pop(0) if queue else quiet)
        due += FRAME_MS / 1000
        await asyncio.sleep(max(0.0, due - loop.time()))
        if session.state == "ended":
            return


async def run_call(turns: int, start_delay: float, *,
                   choose: ProviderChoice = standard_providers) -> CallResult:
    await asyncio.sleep(start_delay)
    session = _session(choose)
    result = CallResult()
    runner = asyncio.create_task(session.run())
    player = asyncio.create_task(play_out(session, lambda frame: None, stats=result.playout))
    try:
        await _caller(session, turns)
        await session.hangup("hangup")
        result.end_reason = await runner
    finally:
        player.cancel()
        await asyncio.gather(player, return_exceptions=True)
    result.turns = list(session.turns)
    return result


async def _timer_baseline(samples: list[float], stop: asyncio.Event) -> None:
    """Wait out the injected latencies alone, as the fakes do, under the same load: no pipeline at all.

    Each asyncio timer fires a little late (epoll rounds timeouts up to the millisecond, and the loop is busy with
    the calls), and the path waits on three of them in a row; that lateness is in the measured turns too.
    """
    loop = asyncio.get_running_loop()
    stt = STT_FINAL_MS / 1000
    llm = (injected_ms() - STT_FINAL_MS - TTS_FIRST_BYTE_MS) / 1000
    tts = TTS_FIRST_BYTE_MS / 1000
    while not stop.is_set():
        start = loop.time()
        for wait in (stt, llm, tts):
            await asyncio.sleep(wait)
        samples.append((loop.time() - start) * 1000 - injected_ms())


async def _loop_lag(samples: list[float], stop: asyncio.Event, interval: float = 0.01) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        before = loop.time()
        await asyncio.sleep(interval)
        samples.append((loop.time() - before - interval) * 1000)


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def _rss_sampler(peak: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], _rss_kib())
        await asyncio.sleep(0.2)


def _percentiles(values: list[float]) -> dict:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "n": 0}
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]  # noqa: E731
    return {"p50": round(statistics.median(ordered), 2), "p95": round(pick(0.95), 2), "p99": round(pick(0.99), 2),
            "n": len(ordered)}


async def bench(calls: int, turns: int, seed: int = 0, *,
                choose: ProviderChoice = standard_providers) -> dict:
    freeze_startup_heap()
    rss_before = _rss_kib()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    wall_before = time.perf_counter()
    stop, lag, peak, baseline = asyncio.Event(), [], [rss_before], []
    monitors = [asyncio.create_task(_loop_lag(lag, stop)), asyncio.create_task(_rss_sampler(peak, stop)),
                asyncio.create_task(_timer_baseline(baseline, stop))]
    rng = random.Random(seed)
    starts = [rng.uniform(0, 1.0) for _ in range(calls)]
    results = await asyncio.gather(*(run_call(turns, start, choose=choose) for start in starts))
    stop.set()
    await asyncio.gather(*monitors)
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    e2e = [t["e2e_ms"] for r in results for t in r.turns if t.get("e2e_ms") is not None]
    injected = injected_ms()
    return {
        "calls": calls,
        "turns_per_call": turns,
        "turns_measured": len(e2e),
        "injected_provider_ms": round(injected, 1),
        "overhead_ms": _percentiles([value - injected for value in e2e]),
        "timer_baseline_ms": _percentiles(baseline),
        "e2e_ms": _percentiles(e2e),
        "audio_underruns": sum(r.playout.underruns for r in results),
        "frames_played": sum(r.playout.frames for r in results),
        "event_loop_lag_ms": {**_percentiles(lag), "max": round(max(lag), 2) if lag else None},
        "cpu_seconds_per_call": round(cpu / calls, 3),
        "cpu_utilisation": round(cpu / (time.perf_counter() - wall_before), 3),
        "wall_seconds": round(time.perf_counter() - wall_before, 1),
        "peak_rss_mib": round(peak[0] / 1024, 1),
        "rss_growth_per_call_mib": round((peak[0] - rss_before) / 1024 / calls, 3),
        "end_reasons": sorted({r.end_reason for r in results}),
    }
