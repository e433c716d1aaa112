"""The one way to an AI provider. Every request passes here, is minimised, falls back, and is logged.

Each role (speech-to-text, language model, text-to-speech) gets a chain of adapters in order of preference. For
each request the chain:
- redacts card numbers and IBANs from whatever text it sends (the context was already minimised upstream);
- skips a provider whose circuit breaker is open (too many recent failures; it is probed again after a cool-down);
- gives a provider a budget for its first output, and on failure or timeout moves on to the next one;
- writes one row in the tenant's AI call log per attempt (``InvocationRecorder``), with digests and sizes of what
  was sent and received, never the content itself unless the tenant asked for the exact requests to be kept.

The log itself and the tenant's settings belong to the host: they come in as
``protocols.AIRequestLog`` and ``protocols.Minimisation``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass, field

from .audio import AudioFrame
from .protocols import AIRequestLog, Minimisation
from .providers.base import ChatMessage, JsonResult, LLMDelta, ProviderError, ProviderInfo, Transcript
from .safeguards import redact


class CircuitBreaker:
    """Open after ``threshold`` consecutive failures; after ``cooldown_s`` let one probe through."""

    def __init__(self, threshold: int = 3, cooldown_s: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self.clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self.probing = False

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half-open" if self.clock() - self.opened_at >= self.cooldown_s else "open"

    def allow(self) -> bool:
        state = self.state
        if state == "closed":
            return True
        if state == "half-open" and not self.probing:
            self.probing = True
            return True
        return False

    def succeeded(self) -> None:
        self.failures = 0
        self.opened_at = None
        self.probing = False

    def failed(self) -> None:
        self.failures += 1
        self.probing = False
        if self.failures >= self.threshold:
            self.opened_at = self.clock()


_breakers: dict[str, CircuitBreaker] = {}


def breaker_for(slug: str) -> CircuitBreaker:
    """Return the process-wide breaker of a provider (shared by every call in this process)."""
    return _breakers.setdefault(slug, CircuitBreaker())


def reset_breakers() -> None:
    _breakers.clear()


@dataclass
class Attempt:
    """What one request to one provider sent and received, for the log."""

    info: ProviderInfo
    role: str
    request: hashlib._Hash = field(default_factory=hashlib.sha256)
    response: hashlib._Hash = field(default_factory=hashlib.sha256)
    request_bytes: int = 0
    response_bytes: int = 0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    redactions: int = 0
    payload: str = ""
    started_wall: datetime.datetime = field(default_factory=lambda: datetime.datetime.now(datetime.UTC))
    started: float = field(default_factory=time.perf_counter)

    def sent(self, data: bytes) -> None:
        self.request.update(data)
        self.request_bytes += len(data)

    def received(self, data: bytes) -> None:
        self.response.update(data)
        self.response_bytes += len(data)


class InvocationRecorder:
    """Collect log rows of one call and write them without holding up the conversation.

    ``log`` receives the rows one after another, in order, from a task of its own; without one
    the rows stay in ``rows``. ``minimised_fields`` names the context fields removed for this
    call; ``minimisation`` says whether rows keep the text sent.
    """

    def __init__(self, log: AIRequestLog | None, *, minimisation: Minimisation | None = None,
                 minimised_fields: Collection[str] = (), register_version: str = ""):
        self.log = log
        self.register_version = register_version  # the subprocessor list version the chains were built under
        self.minimised_fields = sorted(minimised_fields)
        self.keep_payloads = minimisation is not None and minimisation.keep_payloads
        self.rows: list[dict] = []
        self.listeners: list[Callable[[dict], None]] = []  # told of each row (live views), never of the payload
        self._queue: asyncio.Queue | None = None
        self._writer: asyncio.Task | None = None

    def record(self, attempt: Attempt, outcome: str, error: BaseException | None = None) -> None:
        row = {
            "provider": attempt.info.slug,
            "role": attempt.role,
            "model": attempt.info.model,
            "region": attempt.info.region,
            "started_at": attempt.started_wall,
            "duration_ms": round((time.perf_counter() - attempt.started) * 1000),
            "outcome": outcome,
            "error_class": type(error).__name__ if error else "",
            "request_sha256": attempt.request.hexdigest(),
            "request_bytes": attempt.request_bytes,
            "response_sha256": attempt.response.hexdigest() if attempt.response_bytes else "",
            "response_bytes": attempt.response_bytes,
            "prompt_tokens": attempt.prompt_tokens,
            "completion_tokens": attempt.completion_tokens,
            "minimised_fields": self.minimised_fields,
            "redactions": attempt.redactions,
            "no_training": attempt.info.no_training,
            "register_version": self.register_version,
            "payload": attempt.payload if self.keep_payloads else "",
        }
        self.rows.append(row)
        for listener in self.listeners:
            listener({key: value for key, value in row.items() if key != "payload"})
        if self.log is not None:
            self._ensure_writer()
            self._queue.put_nowait(row)

    def _ensure_writer(self) -> None:
        if self._writer is None:
            self._queue = asyncio.Queue()
            self._writer = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        while True:
            row = await self._queue.get()
            try:
                await self.log.write(row)
            finally:
                self._queue.task_done()

    async def flush(self) -> None:
        """Wait until every recorded row is written, then stop the writer."""
        if self._writer is None:
            return
        await self._queue.join()
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer
        self._writer = None


def _canonical(messages: list[ChatMessage]) -> str:
    return json.dumps([[m.role, m.content] for m in messages], ensure_ascii=False, separators=(",", ":"))


def _redact_messages(messages: list[ChatMessage]) -> tuple[list[ChatMessage], int]:
    total = 0
    cleaned = []
    for message in messages:
        text, count = redact(message.content)
        total += count
        cleaned.append(ChatMessage(message.role, text))
    return cleaned, total


def _outcome(error: BaseException) -> str:
    is_timeout = isinstance(error, TimeoutError) or getattr(error, "timeout", False)
    return "timeout" if is_timeout else "error"


class AllProvidersFailed(ProviderError):
    def __init__(self, role: str):
        super().__init__(f"every {role} provider failed or is unavailable", permanent=False)


class _Chain:
    role = ""

    def __init__(self, providers: list, recorder: InvocationRecorder, *, first_output_timeout_s: float):
        if not providers:
            raise ValueError(f"no {self.role} provider is available")
        self.providers = providers
        self.recorder = recorder
        self.first_output_timeout_s = first_output_timeout_s
        self.used: list[str] = []

    @property
    def info(self) -> ProviderInfo:
        return self.providers[0].info

    def _candidates(self):
        for provider in self.providers:
            if breaker_for(provider.info.slug).allow():
                yield provider

    def _failed(self, provider, attempt: Attempt, error: BaseException) -> None:
        breaker_for(provider.info.slug).failed()
        self.recorder.record(attempt, _outcome(error), error)

    def _succeeded(self, provider, attempt: Attempt) -> None:
        breaker_for(provider.info.slug).succeeded()
        if provider.info.slug not in self.used:
            self.used.append(provider.info.slug)
        self.recorder.record(attempt, "ok")

    async def _first(self, iterator):
        async with asyncio.timeout(self.first_output_timeout_s):
            return await anext(iterator)


class LanguageModelChain(_Chain):
    role = "llm"

    async def stream(self, messages: list[ChatMessage], *, max_tokens: int | None = None,
                     temperature: float = 0.3, role: str = "llm") -> AsyncIterator[LLMDelta]:
        cleaned, redactions = _redact_messages(messages)
        body = _canonical(cleaned).encode()
        for provider in self._candidates():
            attempt = Attempt(provider.info, role, redactions=redactions, payload=body.decode())
            attempt.sent(body)
            produced = False
            iterator = provider.stream(cleaned, max_tokens=max_tokens, temperature=temperature)
            try:
                async with contextlib.aclosing(iterator):
                    delta = await self._first(iterator)
                    while True:
                        self._note(attempt, delta)
                        produced = produced or bool(delta.text)
                        yield delta
                        delta = await anext(iterator)
            except StopAsyncIteration:
                self._succeeded(provider, attempt)
                return
            except (ProviderError, TimeoutError) as error:
                self._failed(provider, attempt, error)
                if produced:  # the caller already has part of a reply: it cannot be replaced silently
                    raise ProviderError(f"{provider.info.slug} failed mid-reply", permanent=False) from None
            except (asyncio.CancelledError, GeneratorExit):
                self.recorder.record(attempt, "ok" if produced else "error", None)
                raise
        raise AllProvidersFailed(role)

    @staticmethod
    def _note(attempt: Attempt, delta: LLMDelta) -> None:
        if delta.text:
            attempt.received(delta.text.encode())
        if delta.usage:
            attempt.prompt_tokens = delta.usage.prompt_tokens
            attempt.completion_tokens = delta.usage.completion_tokens

    async def complete_json(self, messages: list[ChatMessage], *, schema: dict, schema_name: str,
                            role: str = "extraction") -> JsonResult:
        cleaned, redactions = _redact_messages(messages)
        body = _canonical(cleaned).encode()
        for provider in self._candidates():
            attempt = Attempt(provider.info, role, redactions=redactions, payload=body.decode())
            attempt.sent(body)
            try:
                async with asyncio.timeout(self.first_output_timeout_s * 4):
                    result = await provider.complete_json(cleaned, schema=schema, schema_name=schema_name)
            except (ProviderError, TimeoutError) as error:
                self._failed(provider, attempt, error)
                continue
            attempt.received(result.text.encode())
            if result.usage:
                attempt.prompt_tokens = result.usage.prompt_tokens
                attempt.completion_tokens = result.usage.completion_tokens
            self._succeeded(provider, attempt)
            return result
        raise AllProvidersFailed(role)


class TextToSpeechChain(_Chain):
    role = "tts"

    async def synthesize(self, text: str, *, language: str, voice: str | None = None) -> AsyncIterator[AudioFrame]:
        cleaned, redactions = redact(text)
        for provider in self._candidates():
            attempt = Attempt(provider.info, self.role, redactions=redactions, payload=cleaned)
            attempt.sent(cleaned.encode())
            produced = False
            iterator = provider.synthesize(cleaned, language=language, voice=voice)
            try:
                async with contextlib.aclosing(iterator):
                    frame = await self._first(iterator)
                    while True:
                        attempt.received(frame.pcm)
                        produced = True
                        yield frame
                        frame = await anext(iterator)
            except StopAsyncIteration:
                self._succeeded(provider, attempt)
                return
            except (ProviderError, TimeoutError) as error:
                self._failed(provider, attempt, error)
                if produced:
                    raise ProviderError(f"{provider.info.slug} failed mid-sentence", permanent=False) from None
            except (asyncio.CancelledError, GeneratorExit):
                self.recorder.record(attempt, "ok" if produced else "error", None)
                raise
        raise AllProvidersFailed(self.role)


class SpeechToTextChain(_Chain):
    """Speech-to-text over one long stream per provider; if it fails, the next provider takes the rest."""

    role = "stt"

    async def stream(self, frames: AsyncIterator[AudioFrame], *, language: str) -> AsyncIterator[Transcript]:
        pending = frames.__aiter__()
        for provider in self._candidates():
            attempt = Attempt(provider.info, self.role)
            source = _Tee(pending, attempt)
            iterator = provider.stream(source, language=language)
            try:
                async with contextlib.aclosing(iterator):
                    async for transcript in iterator:
                        if transcript.is_final:
                            attempt.received(transcript.text.encode())
                        yield transcript
                if attempt.request_bytes:
                    self._succeeded(provider, attempt)
                return
            except ProviderError as error:
                self._failed(provider, attempt, error)
                if source.exhausted:
                    return
            except (asyncio.CancelledError, GeneratorExit):
                if attempt.request_bytes:  # no audio was sent (a typed call): no request to log
                    self.recorder.record(attempt, "ok", None)
                raise
        raise AllProvidersFailed(self.role)


class _Tee:
    """Pass caller audio on to one provider while counting and hashing it for the log."""

    def __init__(self, frames, attempt: Attempt):
        self.frames = frames
        self.attempt = attempt
        self.exhausted = False

    def __aiter__(self):
        return self

    async def __anext__(self) -> AudioFrame:
        try:
            frame = await anext(self.frames)
        except StopAsyncIteration:
            self.exhausted = True
            raise
        self.attempt.sent(frame.pcm)
        return frame
