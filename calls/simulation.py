"""Drive a CallSession as a caller would, from lines of text or their synthesised speech (simulate_call, tests)."""

from __future__ import annotations

import asyncio
import contextlib

from voice.audio import FRAME_BYTES, AudioFrame, silence
from voice.pacing import AudioClosed
from voice.session import CallSession

TURN_TIMEOUT_S = 60.0


async def _drain(session: CallSession, realtime: bool) -> None:
    """Take the agent's frames as a listener would: at real time, or as fast as they come."""
    with contextlib.suppress(AudioClosed):
        while True:
            await session.audio_out.get()
            if realtime:
                await asyncio.sleep(0.02)


def _agent_lines(session: CallSession) -> int:
    return sum(1 for line in session.transcript if line["speaker"] == "agent")


async def _wait_for_agent(session: CallSession, run: asyncio.Task, after: int) -> None:
    """Wait until the agent said something new and listens again (or the call ended)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TURN_TIMEOUT_S
    while not run.done() and loop.time() < deadline:
        if _agent_lines(session) > after and session.state == "listening":
            return
        await asyncio.sleep(0.01)


async def _say(session: CallSession, speech: list[AudioFrame]) -> None:
    """Send the caller's speech at real time, then the silence that lets the VAD see the end of it."""
    tail = [AudioFrame(chunk) for chunk in _chunks(silence(900))]
    for frame in [*speech, *tail]:
        await session.push_audio(frame)
        await asyncio.sleep(0.02)


def _chunks(pcm: bytes):
    for start in range(0, len(pcm), FRAME_BYTES):
        yield pcm[start:start + FRAME_BYTES].ljust(FRAME_BYTES, b"\0")


async def converse(session: CallSession, lines: list[str], *, speech: dict[str, list[AudioFrame]] | None = None,
                   realtime: bool = False) -> str:
    """Run the session with the caller saying each line in turn; return the end reason."""
    run = asyncio.create_task(session.run())
    drain = asyncio.create_task(_drain(session, realtime or speech is not None))
    try:
        await _wait_for_agent(session, run, 0)
        for line in lines:
            if run.done():
                break
            before = _agent_lines(session)
            if speech is not None:
                await _say(session, speech[line])
            else:
                await session.push_text(line)
            await _wait_for_agent(session, run, before)
        if not run.done():
            await session.hangup("hangup")
        return await run
    finally:
        drain.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await drain
