"""What the engine needs from the application that hosts it, as small protocols the host implements.

The engine imports no web framework and no application code; the host (``calls``) passes these in:

- ``ProviderChoice``: which providers a call may use, per role, in order of preference. Only the host knows its
  subprocessor register, the tenant's objections and region policy, and its credentials.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from .providers.base import LanguageModel, SpeechToText, TextToSpeech


@dataclass
class ProviderSet:
    """The providers one call may use, per role, best first; the host's local engine comes last."""

    stt: list[SpeechToText] = field(default_factory=list)
    llm: list[LanguageModel] = field(default_factory=list)
    tts: list[TextToSpeech] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # slugs the host left out (for logs and tests)
    skip_reasons: dict[str, str] = field(default_factory=dict)  # slug -> why
    register_version: str = ""  # the host's provider list version in force, recorded with each request


class ProviderChoice(Protocol):
    """Choose the providers of one call."""

    def __call__(self, *, tenant: Any, script: Any, mode: str = "auto",
                 fake_options: dict | None = None) -> ProviderSet:
        """Return the providers a call of ``tenant`` on ``script`` may use (host objects, opaque here).

        ``mode``: "auto" (the vendors the host has credentials for, then the local engines), "local" (local
        engines only), "fake" (fakes set up by ``fake_options``), "bench" (fakes with the benchmark's
        standard latencies, see ``voice.benchmark``).
        """
        ...
