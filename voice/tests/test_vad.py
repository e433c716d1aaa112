import time

import pytest

from voice.audio import frames_from_pcm, mix, noise, silence, tone
from voice.vad import VadEvent, VoiceActivityDetector


def signal(*parts: tuple[str, int], noise_amplitude: float = 0.003, seed: int = 0) -> bytes:
    """Concatenate ("tone"|"gap", ms) parts and lay background noise (-50 dBFS by default) under all of it."""
    speech = b"".join(tone(ms, 300.0, 0.2) if kind == "tone" else silence(ms) for kind, ms in parts)
    return mix(speech, noise(len(speech) // 32, noise_amplitude, seed=seed))


def run(vad: VoiceActivityDetector, pcm: bytes) -> list[tuple[float, VadEvent]]:
    """Return each event with the stream time at which it was reported."""
    out = []
    for frame in frames_from_pcm(pcm):
        event = vad.process(frame)
        if event is not None:
            out.append((vad.now_ms, event))
    return out


def test_speech_start_and_end_timing_on_tone_in_noise():
    events = run(VoiceActivityDetector(), signal(("gap", 500), ("tone", 600), ("gap", 1000)))
    assert events == [
        (560.0, VadEvent("speech_start", at_ms=500.0, speech_ms=60.0)),
        (1400.0, VadEvent("speech_end", at_ms=1100.0, speech_ms=600.0)),
    ]


def test_onset_not_aligned_to_frames_is_within_one_frame():
    events = run(VoiceActivityDetector(), signal(("gap", 510), ("tone", 400), ("gap", 600)))
    start, end = events[0][1], events[1][1]
    assert start.kind == "speech_start" and 500 <= start.at_ms <= 520
    assert end.kind == "speech_end" and 900 <= end.at_ms <= 940


def test_blip_shorter_than_start_duration_is_ignored():
    assert run(VoiceActivityDetector(), signal(("gap", 500), ("tone", 40), ("gap", 500))) == []
    assert len(run(VoiceActivityDetector(start_ms=40), signal(("gap", 500), ("tone", 40), ("gap", 500)))) == 2


def test_pause_shorter_than_hangover_keeps_one_run_and_hangover_is_configurable():
    pcm = signal(("gap", 400), ("tone", 300), ("gap", 200), ("tone", 300), ("gap", 800))
    default = [e.kind for _, e in run(VoiceActivityDetector(), pcm)]
    short = [e.kind for _, e in run(VoiceActivityDetector(hangover_ms=150), pcm)]
    assert default == ["speech_start", "speech_end"]
    assert short == ["speech_start", "speech_end"] * 2


def test_is_speaking_and_speech_ms_follow_the_run():
    vad = VoiceActivityDetector()
    frames = frames_from_pcm(signal(("gap", 300), ("tone", 500), ("gap", 600)))
    seen = []
    for frame in frames:
        vad.process(frame)
        seen.append((vad.now_ms, vad.is_speaking, vad.speech_ms))
    by_time = {t: (speaking, ms) for t, speaking, ms in seen}
    assert by_time[340.0] == (False, 0.0)  # still a candidate
    assert by_time[360.0] == (True, 60.0)
    assert by_time[700.0] == (True, 400.0)
    assert by_time[1000.0] == (True, 500.0)  # in the hangover: the run does not grow during silence
    assert by_time[1100.0] == (False, 0.0)


def test_quiet_speech_at_the_very_start_is_detected():
    events = run(VoiceActivityDetector(), signal(("tone", 300), ("gap", 500)))
    assert [(e.kind, e.at_ms) for _, e in events] == [("speech_start", 0.0), ("speech_end", 300.0)]


def test_noise_floor_adapts_to_louder_background_and_still_finds_speech():
    quiet = noise(1000, 0.002, seed=1)
    loud = noise(6000, 0.012, seed=2)  # about -38 dBFS, 16 dB louder
    speech = mix(tone(500, 300.0, 0.2), noise(500, 0.012, seed=3))
    tail = noise(1000, 0.012, seed=4)
    vad = VoiceActivityDetector()
    events = run(vad, quiet + loud + speech + tail)
    # The step up looks like speech at first, but the floor catches up within its 3 s window.
    early = [e for t, e in events if t < 7000]
    assert [e.kind for e in early] == ["speech_start", "speech_end"]
    assert early[0].at_ms == 1000.0 and early[1].at_ms <= 1000 + 3200
    late = [(t, e) for t, e in events if t >= 7000]
    assert [(e.kind, e.at_ms) for _, e in late] == [("speech_start", 7000.0), ("speech_end", 7500.0)]
    assert vad.noise_floor_dbfs == pytest.approx(-38.4, abs=2.0)


def test_floor_follows_quieter_background_at_once():
    vad = VoiceActivityDetector()
    run(vad, noise(2000, 0.01, seed=5))
    assert vad.noise_floor_dbfs == pytest.approx(-40.0, abs=1.5)
    run(vad, noise(200, 0.001, seed=6))
    assert vad.noise_floor_dbfs == pytest.approx(-60.0, abs=1.5)


def test_digital_silence_does_not_drag_the_floor_down():
    vad = VoiceActivityDetector()
    pcm = noise(1500, 0.005, seed=7) + silence(1000) + noise(1500, 0.005, seed=8)
    assert run(vad, pcm) == []
    assert vad.noise_floor_dbfs == pytest.approx(-46.0, abs=1.5)


def test_loud_continuous_sound_stays_speech_because_the_floor_is_capped():
    vad = VoiceActivityDetector()
    events = run(vad, tone(5000, 300.0, 0.2))
    assert [e.kind for _, e in events] == ["speech_start"]
    assert vad.is_speaking and vad.noise_floor_dbfs == -35.0


def test_reset_forgets_the_stream():
    vad = VoiceActivityDetector()
    run(vad, signal(("gap", 200), ("tone", 200)))
    assert vad.is_speaking
    vad.reset()
    assert not vad.is_speaking and vad.now_ms == 0.0 and vad.speech_ms == 0.0


def test_invalid_settings_are_rejected():
    with pytest.raises(ValueError):
        VoiceActivityDetector(hangover_ms=-1)
    with pytest.raises(ValueError):
        VoiceActivityDetector(min_floor_dbfs=-20, max_floor_dbfs=-40)


def test_processing_is_cheap_per_frame():
    frames = frames_from_pcm(signal(("gap", 2000), ("tone", 2000), ("gap", 2000)))
    vad = VoiceActivityDetector()
    started = time.perf_counter()
    for _ in range(34):  # ~10,000 frames, i.e. 100 calls for two seconds
        for frame in frames:
            vad.process(frame)
    assert time.perf_counter() - started < 2.0  # measured ~5 us per frame; generous for loaded CI machines
