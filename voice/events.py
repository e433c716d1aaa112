"""What a call session reports, and the outbox that delivers it without holding up the audio.

Events: the agent's state, transcript lines, turn metrics, interruptions and resumptions, transfer
requests, tool calls, errors, the end.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SessionEvent:
    """Something the session reports; ``at`` is the session clock in seconds."""

    type: ClassVar[str] = "event"
    at: float = field(default=0.0, kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        """Return the event as a JSON-ready dict, ``type`` first."""
        return {"type": self.type, **{f.name: getattr(self, f.name) for f in fields(self)}}


@dataclass(frozen=True, slots=True)
class StateChanged(SessionEvent):
    """The agent's state: "thinking", "speaking", "listening" or "ended"."""

    type: ClassVar[str] = "state"
    state: str


@dataclass(frozen=True, slots=True)
class TranscriptEvent(SessionEvent):
    """A line of the conversation; agent lines are what was spoken (only the heard part when interrupted)."""

    type: ClassVar[str] = "transcript"
    speaker: str  # "caller" | "agent"
    text: str
    final: bool = True
    interrupted: bool = False


@dataclass(frozen=True, slots=True)
class TurnMetricsEvent(SessionEvent):
    """Latencies of one caller turn in milliseconds (None when a stage did not run)."""

    type: ClassVar[str] = "turn_metrics"
    turn: int
    source: str
    stt_final_delay_ms: float | None = None
    llm_first_token_ms: float | None = None
    tts_first_byte_ms: float | None = None
    e2e_ms: float | None = None
    interruptions: int = 0
    early_llm: str | None = None
    llm_error: bool = False


@dataclass(frozen=True, slots=True)
class Interrupted(SessionEvent):
    """The caller spoke over the agent; queued audio was dropped."""

    type: ClassVar[str] = "interrupted"
    heard_text: str
    heard_ms: float
    dropped_frames: int


@dataclass(frozen=True, slots=True)
class Resumed(SessionEvent):
    """The interruption was false (no transcript followed); the unheard rest of the reply is spoken."""

    type: ClassVar[str] = "resumed"
    text: str


@dataclass(frozen=True, slots=True)
class TransferRequested(SessionEvent):
    type: ClassVar[str] = "transfer_requested"
    reason: str


@dataclass(frozen=True, slots=True)
class ToolCalled(SessionEvent):
    type: ClassVar[str] = "tool_call"
    name: str
    argument: str


@dataclass(frozen=True, slots=True)
class ErrorEvent(SessionEvent):
    """A stage failed ("audio", "stt", "llm", "tts", "tool", "filter" or "session"); ``recoverable`` says the call
    goes on."""

    type: ClassVar[str] = "error"
    stage: str
    message: str
    recoverable: bool = True


@dataclass(frozen=True, slots=True)
class Ended(SessionEvent):
    type: ClassVar[str] = "ended"
    reason: str


Emit = Callable[[SessionEvent], Awaitable[None] | None]


class EventOutbox:
    """Deliver events to the consumer in order from one task, so that emitting never blocks the caller."""

    def __init__(self, consumer: Emit | None) -> None:
        self._consumer = consumer
        self._queue: asyncio.Queue[SessionEvent | None] = asyncio.Queue()
        self._task: asyncio.Task | None = None
        self._closed = False

    def put(self, event: SessionEvent) -> None:
        if self._consumer is not None and not self._closed:
            self._queue.put_nowait(event)

    def start(self) -> None:
        if self._consumer is not None and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._deliver())

    async def close(self, timeout_s: float = 2.0) -> None:
        """Deliver what is queued (for at most ``timeout_s``) and stop."""
        self._closed = True
        if self._task is None:
            return
        self._queue.put_nowait(None)
        done, _ = await asyncio.wait({self._task}, timeout=timeout_s)
        if not done:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _deliver(self) -> None:
        while (event := await self._queue.get()) is not None:
            try:
                result = self._consumer(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                logger.exception("session event consumer failed on a %s event", event.type)
