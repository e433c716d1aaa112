"""Call recordings: both sides captured at 16 kHz by the transport, stored as an encrypted stereo WAV file.

The capture follows the call's clock: each side is padded with silence up to the time its next frame arrives, so
caller and agent stay aligned however bursty the transport. The file is encrypted with the same keys as personal
data in the database (``FIELD_ENCRYPTION_KEY``, rotation included) and only decrypted to be played to a member of
the call's tenant.
"""

from __future__ import annotations

import io
import time
import wave

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from encrypted_model_fields.fields import get_crypter

from voice.audio import SAMPLE_RATE, SAMPLE_WIDTH

from .models import Call, Recording

MAX_SECONDS = 3 * 3600


class CallRecorder:
    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.start = clock()
        self.caller = bytearray()
        self.agent = bytearray()

    def caller_frame(self, pcm: bytes) -> None:
        self._append(self.caller, pcm)

    def agent_frame(self, pcm: bytes) -> None:
        self._append(self.agent, pcm)

    def _append(self, track: bytearray, pcm: bytes) -> None:
        due = int((self.clock() - self.start) * SAMPLE_RATE) * SAMPLE_WIDTH - len(pcm)
        if due > len(track):
            track.extend(bytes(due - len(track)))
        if len(track) < MAX_SECONDS * SAMPLE_RATE * SAMPLE_WIDTH:
            track.extend(pcm)

    @property
    def duration_ms(self) -> int:
        return max(len(self.caller), len(self.agent)) * 1000 // (SAMPLE_RATE * SAMPLE_WIDTH)

    def wav(self) -> bytes:
        length = max(len(self.caller), len(self.agent)) // SAMPLE_WIDTH
        stereo = np.zeros((length, 2), dtype="<i2")
        for channel, track in enumerate((self.caller, self.agent)):
            samples = np.frombuffer(bytes(track), dtype="<i2")
            stereo[:samples.size, channel] = samples
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(2)
            out.setsampwidth(SAMPLE_WIDTH)
            out.setframerate(SAMPLE_RATE)
            out.writeframes(stereo.tobytes())
        return buffer.getvalue()


@transaction.atomic
def recording_store(*, call: Call, recorder: CallRecorder) -> Recording | None:
    """Encrypt and store the call's audio; nothing when nothing was heard or said."""
    if recorder.duration_ms == 0:
        return None
    token = get_crypter().encrypt(recorder.wav())
    path = default_storage.save(f"recordings/{call.tenant_id}/{call.pk}.wav.enc", ContentFile(token))
    recording = Recording(tenant_id=call.tenant_id, call=call, path=path, duration_ms=recorder.duration_ms,
                          size_bytes=len(token))
    recording.full_clean()
    recording.save()
    return recording


def recording_audio(recording: Recording) -> bytes:
    """Return the decrypted WAV bytes of a recording."""
    with default_storage.open(recording.path, "rb") as handle:
        return get_crypter().decrypt(handle.read())
