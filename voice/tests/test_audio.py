import numpy as np
import pytest

from voice.audio import (
    FRAME_BYTES,
    SILENCE_DBFS,
    AudioFrame,
    BadAudio,
    FrameBuffer,
    StreamResampler,
    frames_from_pcm,
    mix,
    noise,
    resample,
    rms_dbfs,
    silence,
    tone,
    validate_pcm,
)


def dominant_hz(pcm: bytes, sample_rate: int) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.argmax(spectrum)) * sample_rate / samples.size


# --- validate_pcm ---------------------------------------------------------------------------------------------------

def test_validate_pcm_accepts_a_frame_and_a_full_second_at_every_transport_rate():
    for rate in (8000, 16000, 24000, 44100, 48000):
        validate_pcm(bytes(640), sample_rate=rate)
        validate_pcm(bytes(rate * 2), sample_rate=rate)


def test_validate_pcm_rejects_empty_payload():
    with pytest.raises(BadAudio, match="empty"):
        validate_pcm(b"", sample_rate=16000)


def test_validate_pcm_rejects_odd_byte_count():
    with pytest.raises(BadAudio, match=r"odd number of bytes \(641\)"):
        validate_pcm(bytes(641), sample_rate=16000)


def test_validate_pcm_rejects_unknown_sample_rate_and_lists_the_accepted_ones():
    with pytest.raises(BadAudio, match="11025 Hz is not accepted") as excinfo:
        validate_pcm(bytes(640), sample_rate=11025)
    assert "8000, 16000, 24000, 44100, 48000" in str(excinfo.value)


def test_validate_pcm_rejects_more_than_one_second():
    with pytest.raises(BadAudio, match="1500 ms long; send at most 1000 ms"):
        validate_pcm(bytes(48000), sample_rate=16000)
    with pytest.raises(BadAudio, match="at most 1000 ms"):
        validate_pcm(bytes(48000 * 2 + 2), sample_rate=48000)


def test_bad_audio_is_a_value_error():
    assert issubclass(BadAudio, ValueError)


# --- framing --------------------------------------------------------------------------------------------------------

def test_frames_from_pcm_splits_and_zero_pads_the_last_frame():
    pcm = tone(50)  # 2.5 frames
    frames = frames_from_pcm(pcm)
    assert [len(f.pcm) for f in frames] == [FRAME_BYTES] * 3
    assert all(f.sample_rate == 16000 and f.duration_ms == 20 for f in frames)
    assert b"".join(f.pcm for f in frames)[: len(pcm)] == pcm
    assert frames[-1].pcm[FRAME_BYTES // 2:] == bytes(FRAME_BYTES // 2)


def test_frames_from_pcm_handles_exact_multiples_and_empty_input():
    assert len(frames_from_pcm(silence(100))) == 5
    assert frames_from_pcm(b"") == []
    with pytest.raises(BadAudio):
        frames_from_pcm(b"\x00")


def test_frame_buffer_regroups_uneven_chunks_into_whole_frames():
    buffer = FrameBuffer()
    pcm = tone(110)
    out: list[AudioFrame] = []
    for size in (100, 900, 1, 1, 1000, 1518):
        out += buffer.push(pcm[:size])
        pcm = pcm[size:]
    assert len(out) == 5 and all(len(f.pcm) == FRAME_BYTES for f in out)
    assert len(buffer) == 3520 - 5 * FRAME_BYTES
    rest = buffer.flush()
    assert len(rest) == 1 and len(rest[0].pcm) == FRAME_BYTES
    assert len(buffer) == 0 and buffer.flush() == []


# --- resampling -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("from_rate,to_rate", [(48000, 16000), (16000, 48000), (8000, 16000), (44100, 16000),
                                               (24000, 16000), (16000, 8000)])
def test_resample_keeps_duration_and_frequency(from_rate, to_rate):
    source = tone(500, 440.0, sample_rate=from_rate)
    out = resample(source, from_rate, to_rate)
    assert len(out) // 2 == pytest.approx(to_rate // 2, abs=2)
    assert dominant_hz(out, to_rate) == pytest.approx(440.0, abs=4.0)


def test_resample_same_rate_and_empty_are_passthrough():
    pcm = tone(20)
    assert resample(pcm, 16000, 16000) == pcm
    assert resample(b"", 48000, 16000) == b""
    with pytest.raises(BadAudio):
        resample(b"\x00\x00\x00", 48000, 16000)


def test_stream_resampler_frame_by_frame_matches_length_and_frequency():
    source = tone(1000, 440.0, sample_rate=48000)
    stream = StreamResampler(48000, 16000)
    chunk = 48000 * 2 // 50  # 20 ms at 48 kHz
    out = b"".join(stream.process(source[i:i + chunk]) for i in range(0, len(source), chunk))
    assert 16000 * 2 - len(out) <= 2 * 16000 * 2 // 50  # at most ~40 ms held back by the filter
    out += stream.flush()
    assert len(out) == 32000
    assert dominant_hz(out, 16000) == pytest.approx(440.0, abs=3.0)


def test_stream_resampler_upsamples_for_playout_and_passes_through_equal_rates():
    stream = StreamResampler(16000, 48000)
    out = b"".join(stream.process(frame.pcm) for frame in frames_from_pcm(tone(400)))
    out += stream.flush()
    assert len(out) == 400 * 48 * 2
    assert dominant_hz(out, 48000) == pytest.approx(440.0, abs=5.0)
    same = StreamResampler(16000, 16000)
    assert same.process(b"\x01\x02") == b"\x01\x02" and same.flush() == b""


# --- levels and test signals ----------------------------------------------------------------------------------------

def test_rms_dbfs_levels():
    assert rms_dbfs(silence(20)) == SILENCE_DBFS
    assert rms_dbfs(b"") == SILENCE_DBFS
    assert rms_dbfs(tone(100, amplitude=0.3)) == pytest.approx(20 * np.log10(0.3 / np.sqrt(2)), abs=0.05)
    assert rms_dbfs(tone(100, amplitude=0.15)) == pytest.approx(rms_dbfs(tone(100, amplitude=0.3)) - 6.02, abs=0.05)
    assert rms_dbfs(noise(200, 0.01)) == pytest.approx(-40.0, abs=0.5)
    assert rms_dbfs(b"\x01\x00" * 320) >= SILENCE_DBFS
    with pytest.raises(BadAudio):
        rms_dbfs(b"\x00")


def test_silence_tone_and_noise_lengths():
    assert silence(20) == bytes(640)
    assert len(tone(20)) == 640
    assert len(tone(20, sample_rate=48000)) == 1920
    assert len(noise(30)) == 960
    assert noise(20, seed=1) == noise(20, seed=1) != noise(20, seed=2)
    assert dominant_hz(tone(500, 1000.0), 16000) == pytest.approx(1000.0, abs=2.0)


def test_tone_clips_instead_of_wrapping_and_mix_adds():
    loud = np.frombuffer(tone(20, amplitude=2.0), dtype="<i2")
    assert loud.max() == 32767 and loud.min() == -32768
    mixed = mix(tone(20), silence(40))
    assert len(mixed) == len(silence(40)) and mixed[:640] == tone(20)
