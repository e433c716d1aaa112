"""Language model with Mistral's chat completions API (``mistralai`` SDK), served from Mistral's EU endpoint.

Only the messages, the model and the generation knobs are sent: no ``metadata``, no extra headers. The SDK's own
debug logging and opt-in telemetry are switched off for this client because either would copy the prompts.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator

import httpx2
from mistralai.client import Mistral, errors, models
from mistralai.client.utils.logger import NoOpLogger

from .base import ChatMessage, JsonResult, LLMDelta, ProviderConfig, ProviderError, ProviderInfo, Usage

DEFAULT_MODEL = "mistral-small-latest"
DEFAULT_TIMEOUT_MS = 15_000
TRANSIENT_STATUSES = frozenset({408, 429})


class MistralLanguageModel:
    """LanguageModel with Mistral: streamed replies and strict JSON-schema replies."""

    def __init__(self, api_key: str, *, model: str = DEFAULT_MODEL, server_url: str | None = None,
                 timeout_ms: int = DEFAULT_TIMEOUT_MS, region: str = "eu"):
        if not api_key:
            raise ValueError("a Mistral API key is required")
        self.info = ProviderInfo(slug="mistral", model=model, region=region, no_training=True)
        self.model = model
        self.timeout_ms = timeout_ms
        # without a server_url the SDK picks its endpoint by region name ("eu" is api.eu.mistral.ai)
        self._client = Mistral(api_key=api_key, server_url=server_url, server=None if server_url else region,
                               timeout_ms=timeout_ms, debug_logger=NoOpLogger())
        # the SDK reads MISTRAL_SDK_TELEMETRY to export request spans; a falsy setting here overrides it
        self._client.sdk_configuration.telemetry = False

    @classmethod
    def from_config(cls, config: ProviderConfig) -> MistralLanguageModel:
        """Build from ``MISTRAL_API_KEY`` / ``MISTRAL_SERVER_URL`` and the options ``model`` and ``timeout_ms``."""
        options = config.options
        return cls(os.environ.get("MISTRAL_API_KEY", ""),
                   model=options.get("model", DEFAULT_MODEL),
                   server_url=options.get("server_url") or os.environ.get("MISTRAL_SERVER_URL") or None,
                   timeout_ms=int(options.get("timeout_ms", DEFAULT_TIMEOUT_MS)),
                   region=options.get("region", "eu"))

    async def stream(self, messages: list[ChatMessage], *, max_tokens: int | None = None,
                     temperature: float = 0.3) -> AsyncIterator[LLMDelta]:
        """Yield the reply's text as it arrives, then its token usage if Mistral reports it.

        The HTTP stream is closed when the consumer is cancelled or stops iterating (use ``contextlib.aclosing``
        so that also happens promptly when it stops between two deltas).
        """
        usage = None
        try:
            events = await self._client.chat.stream_async(
                model=self.model, messages=_wire_messages(messages), temperature=temperature,
                **_max_tokens(max_tokens))
            async with events:
                async for event in events:
                    chunk = event.data
                    usage = _usage(chunk.usage) or usage
                    for choice in chunk.choices:
                        text = _text(choice.delta.content)
                        if text:
                            yield LLMDelta(text=text)
        except (errors.MistralError, errors.NoResponseError, httpx2.HTTPError) as exc:
            raise provider_error(exc) from None
        if usage is not None:
            yield LLMDelta(usage=usage)

    async def complete_json(self, messages: list[ChatMessage], *, schema: dict, schema_name: str) -> JsonResult:
        """Return the reply constrained to ``schema`` (strict mode) as raw JSON text."""
        response_format = models.ResponseFormat(
            type="json_schema",
            json_schema=models.JSONSchema(name=schema_name, schema_definition=schema, strict=True))
        try:
            response = await self._client.chat.complete_async(
                model=self.model, messages=_wire_messages(messages), response_format=response_format)
        except (errors.MistralError, errors.NoResponseError, httpx2.HTTPError) as exc:
            raise provider_error(exc) from None
        text = _text(response.choices[0].message.content) if response.choices and response.choices[0].message else ""
        if not text:
            raise ProviderError("mistral: empty structured reply")
        return JsonResult(text=text, usage=_usage(response.usage))

    async def aclose(self) -> None:
        """Close the HTTP connections; the instance cannot be used afterwards."""
        await self._client.__aexit__(None, None, None)


def _wire_messages(messages: list[ChatMessage]) -> list[dict]:
    return [{"role": message.role, "content": message.content} for message in messages]


def _max_tokens(max_tokens: int | None) -> dict:
    # an explicit null would be sent as such; leaving the field out lets the model use its own limit
    return {} if max_tokens is None else {"max_tokens": max_tokens}


def _text(content) -> str:
    """Return the plain text of a message or delta content (a string or a list of chunks, thinking skipped)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(chunk.text for chunk in content if isinstance(chunk, models.TextChunk))
    return ""


def _usage(info: models.UsageInfo | None) -> Usage | None:
    if info is None:
        return None
    return Usage(prompt_tokens=info.prompt_tokens, completion_tokens=info.completion_tokens)


def provider_error(exc: Exception) -> ProviderError:
    """Translate an SDK or transport failure; the message never repeats the response body, which may echo input."""
    if isinstance(exc, httpx2.TimeoutException):
        return ProviderError(f"mistral: timed out ({type(exc).__name__})", timeout=True)
    if isinstance(exc, errors.MistralError):
        status = exc.status_code
        if status < 400:
            return ProviderError(f"mistral: unreadable response (HTTP {status})")
        detail = _error_kind(exc.body)
        message = f"mistral: HTTP {status}{f' ({detail})' if detail else ''}"
        if 400 <= status < 500 and status not in TRANSIENT_STATUSES:
            return ProviderError(message, permanent=True)
        return ProviderError(message, timeout=status == 408)
    return ProviderError(f"mistral: {type(exc).__name__}")


def _error_kind(body: str | None) -> str:
    """Return the machine-readable ``type``/``code`` of an error body, never its free-text message."""
    try:
        data = json.loads(body or "")
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    return "/".join(str(data[key]) for key in ("type", "code") if isinstance(data.get(key), str | int))
