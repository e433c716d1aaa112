"""Energy-based voice activity detection, fed one frame at a time.

A frame is voiced when its level is ``threshold_db`` above an adaptive noise floor. The floor is the quietest frame
level of the last few seconds (minimum statistics): it follows a drop in background noise at once and a rise after
``floor_window_ms``, and it is clamped so that digital silence cannot make every faint hiss count as speech and a
loud start cannot hide the speech itself. The cost per frame is one dot product plus a few comparisons.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Literal

from .audio import AudioFrame, rms_dbfs

# Lost packets and muted legs arrive as (near) zero frames; they say nothing about the background noise.
DIGITAL_SILENCE_DBFS = -90.0
FLOOR_BLOCK_MS = 200.0


@dataclass(frozen=True, slots=True)
class VadEvent:
    """A speech boundary on the stream clock (milliseconds of audio processed since the detector was created).

    For ``speech_start``, ``at_ms`` is the onset of the first voiced frame and ``speech_ms`` the voiced time so far;
    for ``speech_end``, ``at_ms`` is the end of the last voiced frame and ``speech_ms`` the whole run. Either event is
    reported when it is certain, i.e. ``start_ms`` after the onset or ``hangover_ms`` after the last voiced frame.
    """

    kind: Literal["speech_start", "speech_end"]
    at_ms: float
    speech_ms: float


class VoiceActivityDetector:
    """Detect the start and end of speech in a stream of frames.

    ``start_ms`` of continuously voiced audio starts speech; ``hangover_ms`` without a voiced frame ends it. While
    speaking, the threshold is lowered by ``hysteresis_db`` so that trailing syllables keep the run alive.
    """

    def __init__(self, *, threshold_db: float = 12.0, start_ms: float = 60.0, hangover_ms: float = 300.0,
                 hysteresis_db: float = 3.0, floor_window_ms: float = 3000.0, min_floor_dbfs: float = -70.0,
                 max_floor_dbfs: float = -35.0) -> None:
        if start_ms < 0 or hangover_ms < 0 or floor_window_ms < FLOOR_BLOCK_MS:
            raise ValueError("start_ms and hangover_ms must be >= 0 and floor_window_ms >= 200")
        if min_floor_dbfs > max_floor_dbfs:
            raise ValueError("min_floor_dbfs must not exceed max_floor_dbfs")
        self.threshold_db = threshold_db
        self.start_ms = start_ms
        self.hangover_ms = hangover_ms
        self.hysteresis_db = hysteresis_db
        self.min_floor_dbfs = min_floor_dbfs
        self.max_floor_dbfs = max_floor_dbfs
        self._blocks: deque[float] = deque(maxlen=max(1, round(floor_window_ms / FLOOR_BLOCK_MS)))
        self.reset()

    def reset(self) -> None:
        """Forget all state, including the noise floor and the stream clock."""
        self._blocks.clear()
        self._blocks_min = math.inf
        self._block_min = math.inf
        self._block_elapsed_ms = 0.0
        self._floor = self.min_floor_dbfs
        self._level = -math.inf
        self._now_ms = 0.0
        self._speaking = False
        self._onset_ms: float | None = None
        self._last_voiced_ms = 0.0

    @property
    def is_speaking(self) -> bool:
        return self._speaking

    @property
    def speech_ms(self) -> float:
        """Return the voiced length of the current run (onset to last voiced frame), 0 when not speaking."""
        if not self._speaking or self._onset_ms is None:
            return 0.0
        return self._last_voiced_ms - self._onset_ms

    @property
    def now_ms(self) -> float:
        return self._now_ms

    @property
    def noise_floor_dbfs(self) -> float:
        return self._floor

    @property
    def level_dbfs(self) -> float:
        """Return the level of the last frame processed."""
        return self._level

    def process(self, frame: AudioFrame) -> VadEvent | None:
        """Feed the next frame; return an event when speech starts or ends."""
        duration_ms = frame.duration_ms
        frame_start = self._now_ms
        self._now_ms += duration_ms
        self._level = level = rms_dbfs(frame.pcm)
        self._update_floor(level, duration_ms)
        threshold = self._floor + self.threshold_db - (self.hysteresis_db if self._speaking else 0.0)
        voiced = level >= threshold
        if self._speaking:
            return self._while_speaking(voiced)
        return self._while_quiet(voiced, frame_start)

    def _while_quiet(self, voiced: bool, frame_start: float) -> VadEvent | None:
        if not voiced:
            self._onset_ms = None
            return None
        if self._onset_ms is None:
            self._onset_ms = frame_start
        self._last_voiced_ms = self._now_ms
        run_ms = self._now_ms - self._onset_ms
        if run_ms < self.start_ms:
            return None
        self._speaking = True
        return VadEvent("speech_start", self._onset_ms, run_ms)

    def _while_speaking(self, voiced: bool) -> VadEvent | None:
        if voiced:
            self._last_voiced_ms = self._now_ms
            return None
        if self._now_ms - self._last_voiced_ms < self.hangover_ms:
            return None
        event = VadEvent("speech_end", self._last_voiced_ms, self.speech_ms)
        self._speaking = False
        self._onset_ms = None
        return event

    def _update_floor(self, level: float, duration_ms: float) -> None:
        if level > DIGITAL_SILENCE_DBFS and level < self._block_min:
            self._block_min = level
        self._block_elapsed_ms += duration_ms
        if self._block_elapsed_ms >= FLOOR_BLOCK_MS:
            self._blocks.append(self._block_min)
            self._blocks_min = min(self._blocks)
            self._block_min = math.inf
            self._block_elapsed_ms = 0.0
        lowest = min(self._blocks_min, self._block_min)
        if lowest != math.inf:
            self._floor = min(self.max_floor_dbfs, max(self.min_floor_dbfs, lowest))
