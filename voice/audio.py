"""Internal audio: 16 kHz mono signed 16-bit little-endian PCM, in 20 ms frames. Transports convert at the edge."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import soxr

SAMPLE_RATE = 16_000
SAMPLE_WIDTH = 2  # bytes, signed 16-bit little-endian
FRAME_MS = 20
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000  # 320
FRAME_BYTES = FRAME_SAMPLES * SAMPLE_WIDTH  # 640


class BadAudio(ValueError):
    """Audio that cannot be accepted; the message says why and may be shown to the sender."""


@dataclass(frozen=True, slots=True)
class AudioFrame:
    pcm: bytes
    sample_rate: int = SAMPLE_RATE

    @property
    def samples(self) -> int:
        return len(self.pcm) // SAMPLE_WIDTH

    @property
    def duration_ms(self) -> float:
        return self.samples * 1000 / self.sample_rate


# --- validation, framing, resampling and test signals -------------------------------------------------------------

TRANSPORT_RATES = (8_000, 16_000, 24_000, 44_100, 48_000)
MAX_PAYLOAD_MS = 1_000
FULL_SCALE = 32_768.0
SILENCE_DBFS = -100.0  # what rms_dbfs reports for digital silence; nothing measured is lower


def validate_pcm(data: bytes, *, sample_rate: int) -> None:
    """Raise ``BadAudio`` unless ``data`` is a non-empty PCM16 payload of at most one second at an accepted rate."""
    if sample_rate not in TRANSPORT_RATES:
        accepted = ", ".join(str(rate) for rate in TRANSPORT_RATES)
        raise BadAudio(f"sample rate {sample_rate} Hz is not accepted; use one of {accepted} Hz")
    if not data:
        raise BadAudio("audio payload is empty")
    if len(data) % SAMPLE_WIDTH:
        raise BadAudio(f"audio payload has an odd number of bytes ({len(data)}); expected 16-bit samples")
    duration_ms = len(data) // SAMPLE_WIDTH * 1000 / sample_rate
    if duration_ms > MAX_PAYLOAD_MS:
        raise BadAudio(f"audio payload is {duration_ms:.0f} ms long; send at most {MAX_PAYLOAD_MS} ms per message")


def frames_from_pcm(pcm: bytes) -> list[AudioFrame]:
    """Split 16 kHz PCM into 20 ms frames, zero-padding the last one."""
    _check_even(pcm)
    frames = [AudioFrame(pcm[i:i + FRAME_BYTES]) for i in range(0, len(pcm), FRAME_BYTES)]
    if frames and len(frames[-1].pcm) < FRAME_BYTES:
        frames[-1] = AudioFrame(frames[-1].pcm.ljust(FRAME_BYTES, b"\x00"))
    return frames


class FrameBuffer:
    """Collect PCM chunks of any size (e.g. a resampler's bursty output) and hand them out as whole 20 ms frames."""

    def __init__(self) -> None:
        self._pending = bytearray()

    def push(self, pcm: bytes) -> list[AudioFrame]:
        """Add ``pcm`` and return every complete frame now available."""
        self._pending += pcm
        whole = len(self._pending) - len(self._pending) % FRAME_BYTES
        if not whole:
            return []
        frames = [AudioFrame(bytes(self._pending[i:i + FRAME_BYTES])) for i in range(0, whole, FRAME_BYTES)]
        del self._pending[:whole]
        return frames

    def flush(self) -> list[AudioFrame]:
        """Return what is left as one zero-padded frame (or nothing) and empty the buffer."""
        rest, self._pending = bytes(self._pending), bytearray()
        return frames_from_pcm(rest[:len(rest) - len(rest) % SAMPLE_WIDTH])

    def __len__(self) -> int:
        return len(self._pending)


def resample(pcm: bytes, from_rate: int, to_rate: int, *, quality: str = "HQ") -> bytes:
    """Resample a whole PCM16 buffer; use ``StreamResampler`` for audio that arrives in pieces."""
    _check_even(pcm)
    if from_rate == to_rate or not pcm:
        return bytes(pcm)
    out = soxr.resample(_as_int16(pcm), from_rate, to_rate, quality=quality)
    return out.astype("<i2", copy=False).tobytes()


class StreamResampler:
    """Resample a continuous PCM16 stream chunk by chunk, keeping the filter state between chunks.

    soxr buffers internally, so one call may return more or fewer samples than the ratio suggests (even none);
    pass the output through a ``FrameBuffer`` to get steady 20 ms frames. "LQ" is the default because it is
    steady after the first chunk and adds ~11 ms mean delay at 48 kHz <-> 16 kHz, where "HQ" emits bursts and adds
    ~22 ms (37 ms worst case) per direction; the quality difference does not matter for telephone speech.
    """

    def __init__(self, from_rate: int, to_rate: int, *, quality: str = "LQ") -> None:
        self.from_rate = from_rate
        self.to_rate = to_rate
        self._stream = None if from_rate == to_rate else soxr.ResampleStream(
            from_rate, to_rate, 1, dtype="int16", quality=quality)

    def process(self, pcm: bytes) -> bytes:
        """Resample the next chunk of the stream."""
        _check_even(pcm)
        if self._stream is None:
            return bytes(pcm)
        return self._stream.resample_chunk(_as_int16(pcm)).astype("<i2", copy=False).tobytes()

    def flush(self) -> bytes:
        """Return the samples still held in the filter and reset for a fresh stream."""
        if self._stream is None:
            return b""
        tail = self._stream.resample_chunk(np.zeros(0, dtype=np.int16), last=True)
        self._stream.clear()
        return tail.astype("<i2", copy=False).tobytes()


def rms_dbfs(pcm: bytes) -> float:
    """Return the RMS level in dB relative to full scale, never below ``SILENCE_DBFS``."""
    _check_even(pcm)
    if not pcm:
        return SILENCE_DBFS
    samples = _as_int16(pcm).astype(np.float64)
    mean_square = float(np.dot(samples, samples)) / samples.size
    if mean_square <= 0.0:
        return SILENCE_DBFS
    return max(SILENCE_DBFS, 10.0 * math.log10(mean_square / (FULL_SCALE * FULL_SCALE)))


def silence(ms: int, *, sample_rate: int = SAMPLE_RATE) -> bytes:
    """Return ``ms`` milliseconds of digital silence."""
    return bytes(_sample_count(ms, sample_rate) * SAMPLE_WIDTH)


def tone(ms: int, freq: float = 440.0, amplitude: float = 0.3, *, sample_rate: int = SAMPLE_RATE) -> bytes:
    """Return ``ms`` milliseconds of a sine tone; ``amplitude`` is a fraction of full scale."""
    t = np.arange(_sample_count(ms, sample_rate)) / sample_rate
    return _to_pcm(amplitude * np.sin(2.0 * np.pi * freq * t))


def noise(ms: int, amplitude: float = 0.01, *, seed: int = 0, sample_rate: int = SAMPLE_RATE) -> bytes:
    """Return ``ms`` milliseconds of reproducible Gaussian noise with RMS ``amplitude`` (a fraction of full scale)."""
    rng = np.random.default_rng(seed)
    return _to_pcm(rng.normal(0.0, amplitude, _sample_count(ms, sample_rate)))


def mix(*parts: bytes) -> bytes:
    """Add PCM16 buffers sample by sample (clipping at full scale); the result is as long as the longest."""
    arrays = [_as_int16(part).astype(np.int32) for part in parts]
    total = np.zeros(max((a.size for a in arrays), default=0), dtype=np.int32)
    for a in arrays:
        total[:a.size] += a
    return np.clip(total, -32_768, 32_767).astype("<i2").tobytes()


def _check_even(pcm: bytes) -> None:
    if len(pcm) % SAMPLE_WIDTH:
        raise BadAudio(f"PCM data has an odd number of bytes ({len(pcm)}); expected 16-bit samples")


def _as_int16(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2")


def _sample_count(ms: float, sample_rate: int) -> int:
    return round(ms * sample_rate / 1000)


def _to_pcm(signal: np.ndarray) -> bytes:
    return np.clip(np.round(signal * FULL_SCALE), -32_768, 32_767).astype("<i2").tobytes()
