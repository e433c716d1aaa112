"""The three provider roles and what they exchange. One module per vendor implements one or more roles.

Every adapter is created for one call (it may keep per-call state) and never logs or stores what it is sent:
the chokepoint in ``voice.gateway`` minimises each request before it reaches an adapter and writes the
AI call log around it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from ..audio import AudioFrame


class ProviderError(Exception):
    """A provider request failed. ``permanent`` says a retry of the same request cannot help."""

    def __init__(self, message: str, *, permanent: bool = False, timeout: bool = False):
        super().__init__(message)
        self.permanent = permanent
        self.timeout = timeout


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    """Who a request goes to: ``slug`` matches the Subprocessor slug in the public register."""

    slug: str
    model: str
    region: str
    no_training: bool = True


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    is_final: bool
    end_of_utterance: bool = False
    stability: float | None = None
    confidence: float | None = None


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class LLMDelta:
    """A piece of the reply; the last one may carry the token usage instead of text."""

    text: str = ""
    usage: Usage | None = None


@dataclass(frozen=True, slots=True)
class JsonResult:
    text: str  # the raw JSON text as returned; the caller validates it
    usage: Usage | None = None


@runtime_checkable
class SpeechToText(Protocol):
    info: ProviderInfo

    def stream(self, frames: AsyncIterator[AudioFrame], *, language: str) -> AsyncIterator[Transcript]:
        """Transcribe until ``frames`` ends; yield interim and final transcripts (final ones flag end of turn)."""
        ...


@runtime_checkable
class LanguageModel(Protocol):
    info: ProviderInfo

    def stream(self, messages: list[ChatMessage], *, max_tokens: int | None = None,
               temperature: float = 0.3) -> AsyncIterator[LLMDelta]:
        """Yield the reply as it is generated."""
        ...

    async def complete_json(self, messages: list[ChatMessage], *, schema: dict, schema_name: str) -> JsonResult:
        """Return a reply constrained to the JSON schema (the caller still validates it)."""
        ...


@runtime_checkable
class TextToSpeech(Protocol):
    info: ProviderInfo

    def synthesize(self, text: str, *, language: str, voice: str | None = None) -> AsyncIterator[AudioFrame]:
        """Yield 16 kHz, 20 ms frames of the spoken text, the first as early as the vendor allows."""
        ...


@dataclass
class ProviderConfig:
    """Per-provider knobs from settings or tests (credentials stay in the environment)."""

    options: dict = field(default_factory=dict)


@asynccontextmanager
async def closing_stream(iterator: AsyncIterator) -> AsyncIterator:
    """Close a provider's async generator however the loop over it ends."""
    try:
        yield iterator
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()
