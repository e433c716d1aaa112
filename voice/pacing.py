"""The agent's outgoing audio: a frame queue that knows what has been played, and a real-time playout loop.

The session puts synthesized frames into an ``AudioOutQueue`` (usually faster than real time); the transport takes
them out at real time, one per 20 ms, with ``play_out`` or its own loop. Taking a frame is what counts as playing
it: the session works out how much of an interrupted reply the caller heard from the number of frames taken, so a
transport must take each frame only when it sends it, never pre-fetch a large buffer.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .audio import FRAME_MS, AudioFrame

FRAME_SECONDS = FRAME_MS / 1000.0


class AudioClosed(Exception):
    """The queue was closed: the call is over and no frame will come."""


class AudioOutQueue:
    """A FIFO of outgoing frames numbered by sequence, with the position of the next frame to play.

    Every frame put gets the next sequence number; ``taken`` is the sequence number of the next frame to be
    taken, so frames below it have been played (or dropped by ``clear``). ``mid_utterance`` is set by the
    session while the agent is still producing an utterance, which lets a player tell an underrun (speech is
    late) from a pause (nothing to say).
    """

    def __init__(self) -> None:
        self._frames: deque[AudioFrame] = deque()
        self._getters: deque[asyncio.Future] = deque()
        self._waiters: list[tuple[int, asyncio.Future]] = []
        self.put_count = 0
        self.taken = 0
        self.closed = False
        self.mid_utterance = False

    def __len__(self) -> int:
        return len(self._frames)

    def qsize(self) -> int:
        return len(self._frames)

    def empty(self) -> bool:
        return not self._frames

    def put(self, frame: AudioFrame) -> int:
        """Append a frame and return its sequence number; frames put after ``close`` are discarded."""
        seq = self.put_count
        if self.closed:
            return seq
        self.put_count += 1
        self._frames.append(frame)
        if self._getters:
            _wake_all(self._getters)
        return seq

    def get_nowait(self) -> AudioFrame:
        """Take the next frame; raise ``asyncio.QueueEmpty`` if none is ready."""
        if not self._frames:
            raise asyncio.QueueEmpty
        frame = self._frames.popleft()
        self.taken += 1
        if self._waiters:
            self._release_waiters()
        return frame

    async def get(self) -> AudioFrame:
        """Wait for the next frame; raise ``AudioClosed`` once the queue is closed and empty."""
        if not await self.wait_ready():
            raise AudioClosed
        return self.get_nowait()

    async def wait_ready(self) -> bool:
        """Wait until a frame is ready (True) or the queue is closed and empty (False)."""
        while not self._frames:
            if self.closed:
                return False
            getter = asyncio.get_running_loop().create_future()
            self._getters.append(getter)
            try:
                await getter
            finally:
                if getter in self._getters:
                    self._getters.remove(getter)
        return True

    async def wait_taken(self, seq: int) -> None:
        """Wait until every frame before sequence number ``seq`` has been taken, dropped, or the queue closed."""
        if self.taken >= seq or self.closed:
            return
        waiter = asyncio.get_running_loop().create_future()
        entry = (seq, waiter)
        self._waiters.append(entry)
        try:
            await waiter
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)

    def clear(self) -> int:
        """Drop every queued frame (barge-in) and return how many were dropped."""
        dropped = len(self._frames)
        self._frames.clear()
        self.taken = self.put_count
        self.mid_utterance = False
        if self._waiters:
            self._release_waiters()
        return dropped

    def close(self) -> None:
        """Drop what is queued and end the stream: waiting getters and players return."""
        self.clear()
        self.closed = True
        _wake_all(self._getters)
        for _, waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

    def __aiter__(self) -> AudioOutQueue:
        return self

    async def __anext__(self) -> AudioFrame:
        try:
            return await self.get()
        except AudioClosed:
            raise StopAsyncIteration from None

    def _release_waiters(self) -> None:
        for seq, waiter in self._waiters:
            if self.taken >= seq and not waiter.done():
                waiter.set_result(None)


def _wake_all(futures: deque[asyncio.Future]) -> None:
    while futures:
        future = futures.popleft()
        if not future.done():
            future.set_result(None)


@dataclass
class PlayoutStats:
    """What ``play_out`` did: frames sent, idle frames sent, underruns, and schedule resets after a stall."""

    frames: int = 0
    idle_frames: int = 0
    underruns: int = 0
    resyncs: int = 0


Sink = Callable[[AudioFrame], Awaitable[None] | None]


async def play_out(source, sink: Sink, *, idle_frame: AudioFrame | None = None, max_lag_frames: int = 5,
                   stats: PlayoutStats | None = None) -> PlayoutStats:
    """Send the agent's frames to ``sink`` one every 20 ms until the call ends; return what happened.

    ``source`` is a session (its ``audio_out`` is used) or an ``AudioOutQueue``. Due times are fixed offsets from
    a monotonic start, so late wake-ups do not accumulate into drift; after a stall of more than
    ``max_lag_frames`` the schedule restarts from now rather than bursting the backlog. An underrun is a due
    time at which the agent is mid-utterance but no frame is ready. Between utterances nothing is sent unless
    ``idle_frame`` is given (e.g. comfort silence for a transport that needs a continuous stream); without it
    the loop sleeps until the next utterance instead of waking every 20 ms.
    """
    audio: AudioOutQueue = getattr(source, "audio_out", source)
    stats = stats if stats is not None else PlayoutStats()
    loop = asyncio.get_running_loop()
    due = loop.time()
    while True:
        if idle_frame is None and not audio and not audio.mid_utterance:
            if not await audio.wait_ready():
                break
            due = loop.time()
        elif audio.closed and not audio:
            break
        await _send_due_frame(audio, sink, idle_frame, stats)
        due += FRAME_SECONDS
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -max_lag_frames * FRAME_SECONDS:
            stats.resyncs += 1
            due = loop.time()
    return stats


async def _send_due_frame(audio: AudioOutQueue, sink: Sink, idle_frame: AudioFrame | None,
                          stats: PlayoutStats) -> None:
    if audio:
        frame = audio.get_nowait()
        stats.frames += 1
    else:
        if audio.mid_utterance:
            stats.underruns += 1
        if idle_frame is None:
            return
        frame = idle_frame
        stats.idle_frames += 1
    result = sink(frame)
    if inspect.isawaitable(result):
        await result
