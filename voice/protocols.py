"""What the engine needs from the application that hosts it: small protocols the host implements.

The engine imports no web framework and no application code; the host (``calls``) passes these in:

- ``ProviderChoice``: which providers a call may use, per role, in order of preference. Only the
  host knows its subprocessor register, the tenant's objections and region policy, its credentials.
- ``Minimisation``: the tenant's choices on what reaches an AI provider and what the AI log keeps.
- ``AIRequestLog``: where each AI request's row goes (the host's append-only AI call log).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .providers.base import LanguageModel, SpeechToText, TextToSpeech


@dataclass
class ProviderSet:
    """The providers one call may use, per role, best first; the host's local engine comes last."""

    stt: list[SpeechToText] = field(default_factory=list)
    llm: list[LanguageModel] = field(default_factory=list)
    tts: list[TextToSpeech] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # slugs the host left out (logs, tests)
    skip_reasons: dict[str, str] = field(default_factory=dict)  # slug -> why
    register_version: str = ""  # the host's provider list version in force, logged per request


class ProviderChoice(Protocol):
    """Choose the providers of one call."""

    def __call__(self, *, tenant: Any, script: Any, mode: str = "auto",
                 fake_options: dict | None = None) -> ProviderSet:
        """Return the providers a call of ``tenant`` on ``script`` may use (host objects).

        ``mode``: "auto" (the vendors the host has credentials for, then the local engines),
        "local" (local engines only), "fake" (fakes set up by ``fake_options``), "bench" (fakes
        with the benchmark's standard latencies, see ``voice.benchmark``).
        """
        ...


class Minimisation(Protocol):
    """The tenant's data-minimisation settings, as far as the engine applies them."""

    @property
    def excluded_fields(self) -> Collection[str]:
        """Name the context fields that never reach an AI (see ``safeguards.minimise_context``)."""
        ...

    @property
    def keep_payloads(self) -> bool:
        """Say whether the log keeps the exact text sent, not only its digest and size."""
        ...


class AIRequestLog(Protocol):
    """Store the rows of one call's AI requests (see ``gateway.InvocationRecorder``)."""

    async def write(self, row: Mapping[str, Any]) -> None:
        """Store one row.

        Its keys: provider, role, model, region, started_at, duration_ms, outcome, error_class,
        request_sha256, request_bytes, response_sha256, response_bytes, prompt_tokens,
        completion_tokens, minimised_fields, redactions, no_training, register_version, and
        payload ("" unless kept). Rows come one at a time, in order, from a task apart from the
        conversation: a slow store delays only the log.
        """
        ...
