"""The clock stamps of a caller turn (``TurnMetrics``) and the loop timers a session arms."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class TurnMetrics:
    """Clock stamps of one caller turn; ``to_dict`` turns them into latencies."""

    source: str  # "audio" | "text"
    final_at: float
    speech_end_at: float | None = None
    early_llm: str | None = None  # "hit" | "miss" | None (no speculative start)
    llm_started_at: float | None = None
    llm_first_token_at: float | None = None
    tts_started_at: float | None = None
    tts_first_frame_at: float | None = None
    first_audio_at: float | None = None
    interruptions: int = 0
    llm_error: bool = False
    closed: bool = False

    def to_dict(self, turn: int) -> dict[str, Any]:
        """Return the latencies in milliseconds; e2e runs from the end of caller speech (or the typed line)."""
        anchor = self.speech_end_at if self.speech_end_at is not None else self.final_at
        return {
            "turn": turn,
            "source": self.source,
            "stt_final_delay_ms": _ms(self.speech_end_at, self.final_at),
            "llm_first_token_ms": _ms(self.llm_started_at, self.llm_first_token_at),
            "tts_first_byte_ms": _ms(self.tts_started_at, self.tts_first_frame_at),
            "e2e_ms": _ms(anchor, self.first_audio_at),
            "interruptions": self.interruptions,
            "early_llm": self.early_llm,
            "llm_error": self.llm_error,
        }


def _ms(start: float | None, end: float | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start) * 1000.0, 1)


class Timer:
    """One pending loop callback that can be re-armed or cancelled; a timer costs no task."""

    __slots__ = ("_handle",)

    def __init__(self) -> None:
        self._handle: asyncio.TimerHandle | None = None

    def start(self, delay_s: float, callback: Callable[[], None]) -> None:
        self.cancel()
        self._handle = asyncio.get_running_loop().call_later(delay_s, callback)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
