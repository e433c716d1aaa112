"""A fake LiveKit room: the ``livekit.rtc`` surface the bridge uses (see ``calls.bridge.RtcMedia``), for tests and
benchmarks. Audio frames and events are livekit's own classes; the room, its streams and the agent's source are not.

``FakeAudioStream`` yields 10 ms 48 kHz frames at real time, as ``rtc.AudioStream`` does: what the caller says live
(``FakeTrack.say``) first, else the track's ``pcm`` from the start of the stream, then silence until the stream is
closed. Nothing here goes through WebRTC or Opus.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque

from livekit import rtc

from .bridge import RtcMedia

RATE = 48_000
CHUNK = RATE // 100  # samples in 10 ms, as LiveKit's AudioStream delivers them
QUIET = bytes(CHUNK * 2)


class FakeParticipant:
    def __init__(self, identity, kind=rtc.ParticipantKind.PARTICIPANT_KIND_SIP, attributes=None):
        self.identity, self.kind, self.attributes = identity, kind, dict(attributes or {})


class FakeTrack:
    kind = rtc.TrackKind.KIND_AUDIO

    def __init__(self, pcm: bytes = b""):
        self.pcm = pcm  # what the caller says, at 48 kHz; silence follows until the stream is closed
        self.said: deque[bytes] = deque()  # 10 ms chunks said live, not heard yet

    def say(self, pcm: bytes) -> None:
        """Speak now: the track's stream plays ``pcm`` (48 kHz) from its next frame on."""
        step = CHUNK * 2
        self.said.extend(pcm[i:i + step].ljust(step, b"\0") for i in range(0, len(pcm), step))


class FakeAudioStream:
    """Yield the track's audio as 10 ms ``AudioFrameEvent``s at real time, like ``rtc.AudioStream``."""

    def __init__(self, track: FakeTrack):
        self.track, self.closed, self.frames = track, False, 0

    def __aiter__(self):
        return self._frames()

    def chunk(self, index: int) -> bytes:
        """Return the 10 ms of 16-bit PCM that frame ``index`` of this stream carries."""
        if self.track.said:
            return self.track.said.popleft()
        start = index * CHUNK * 2
        if start >= len(self.track.pcm):
            return QUIET
        return self.track.pcm[start:start + CHUNK * 2].ljust(CHUNK * 2, b"\0")

    async def _frames(self):
        loop = asyncio.get_running_loop()
        due = loop.time()
        while not self.closed:
            pcm = self.chunk(self.frames)
            self.frames += 1
            yield rtc.AudioFrameEvent(rtc.AudioFrame(pcm, RATE, 1, CHUNK))
            due += 0.01
            await asyncio.sleep(max(0.0, due - loop.time()))

    async def aclose(self):
        self.closed = True


class FakeAudioSource:
    """The agent's published source: counts the frames it is given and keeps them (``pcm()`` joins them)."""

    def __init__(self, keep: bool = True):
        self.keep, self.count, self.frames = keep, 0, []
        self.first_at: float | None = None
        self.last_at: float | None = None

    async def capture_frame(self, frame):
        self.last_at = asyncio.get_running_loop().time()
        if self.first_at is None:
            self.first_at = self.last_at
        self.count += 1
        if self.keep:
            self.frames.append(frame)

    async def wait_for_playout(self):
        return None

    def pcm(self) -> bytes:
        return b"".join(bytes(frame.data) for frame in self.frames)


class FakeLocalParticipant:
    def __init__(self):
        self.published = []

    async def publish_track(self, track, options=None):
        self.published.append((track, options))


class FakeRoom:
    """Records the handlers the bridge registers; ``emit`` plays a room event to them, on the caller's loop."""

    def __init__(self):
        self.handlers = defaultdict(list)
        self.local_participant = FakeLocalParticipant()
        self.connected = asyncio.Event()
        self.url = self.token = None
        self.left = False

    def on(self, event, callback=None):
        self.handlers[event].append(callback)
        return callback

    def emit(self, event, *args):
        for callback in self.handlers[event]:
            callback(*args)

    async def connect(self, url, token, options=None):
        self.url, self.token = url, token
        self.connected.set()

    async def disconnect(self):
        self.left = True


class FakeMedia(RtcMedia):
    """``RtcMedia`` with the room, its streams and the agent's source replaced; the rest is livekit's own."""

    def __init__(self):
        self.the_room, self.source, self.streams = FakeRoom(), FakeAudioSource(), []

    def room(self):
        return self.the_room

    def audio_stream(self, track):
        stream = FakeAudioStream(track)
        self.streams.append(stream)
        return stream

    def audio_source(self):
        return self.source

    def local_track(self, source):
        return ("agent-voice", source)
