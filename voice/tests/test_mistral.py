"""MistralLanguageModel against a local stand-in that speaks Mistral's chat completions wire protocol."""

from __future__ import annotations

import asyncio
import socket

import pytest

from voice.providers.base import ChatMessage, LanguageModel, LLMDelta, ProviderError, Usage
from voice.providers.mistral import MistralLanguageModel

MESSAGES = [ChatMessage("system", "Tu es l'assistant du cabinet."), ChatMessage("user", "Bonjour")]
SCHEMA = {
    "type": "object",
    "properties": {"intent": {"type": "string"}},
    "required": ["intent"],
    "additionalProperties": False,
}
# what an HTTP client sends on its own; anything else would be data added by the adapter or the SDK
EXPECTED_HEADERS = {"host", "accept", "accept-encoding", "connection", "user-agent", "content-type",
                    "content-length", "authorization"}


@pytest.fixture(autouse=True)
def _no_proxy(no_proxy):
    pass


@pytest.fixture
async def llm(stand_in):
    model = MistralLanguageModel("test-key", server_url=stand_in.url)
    yield model
    await model.aclose()


async def collect(model: MistralLanguageModel, **kwargs) -> list[LLMDelta]:
    return [delta async for delta in model.stream(MESSAGES, **kwargs)]


def test_info_and_protocol():
    model = MistralLanguageModel("test-key", model="mistral-medium-latest")
    assert isinstance(model, LanguageModel)
    assert (model.info.slug, model.info.model, model.info.region, model.info.no_training) == (
        "mistral", "mistral-medium-latest", "eu", True)


async def test_stream_yields_deltas_in_order_then_usage(llm, stand_in):
    deltas = await collect(llm, max_tokens=50, temperature=0.2)

    assert deltas == [LLMDelta("Bon"), LLMDelta("jour"), LLMDelta(" !"),
                      LLMDelta(usage=Usage(prompt_tokens=12, completion_tokens=3))]
    [request] = stand_in.requests
    assert request["path"] == "/v1/chat/completions"
    body = request["body"]
    assert body["model"] == "mistral-small-latest"
    assert body["stream"] is True
    assert body["messages"] == [{"role": "system", "content": "Tu es l'assistant du cabinet."},
                                {"role": "user", "content": "Bonjour"}]
    assert body["max_tokens"] == 50 and body["temperature"] == 0.2
    assert "metadata" not in body and "safe_prompt" not in body
    headers = request["headers"]
    assert headers["authorization"] == "Bearer test-key"
    assert headers["accept"] == "text/event-stream"
    assert set(headers) <= EXPECTED_HEADERS


async def test_stream_without_max_tokens_leaves_the_field_out(llm, stand_in):
    await collect(llm)
    assert "max_tokens" not in stand_in.requests[0]["body"]


async def test_stream_without_reported_usage_ends_after_the_text(llm, stand_in):
    stand_in.usage = None
    assert await collect(llm) == [LLMDelta("Bon"), LLMDelta("jour"), LLMDelta(" !")]


async def test_complete_json_sends_a_strict_schema_and_returns_the_text(llm, stand_in):
    result = await llm.complete_json(MESSAGES, schema=SCHEMA, schema_name="caller_intent")

    assert result.text == '{"intent": "rendez-vous"}'
    assert result.usage == Usage(prompt_tokens=12, completion_tokens=3)
    [request] = stand_in.requests
    body = request["body"]
    assert request["path"] == "/v1/chat/completions"
    assert body["model"] == "mistral-small-latest"
    assert not body.get("stream")
    assert body["messages"][1] == {"role": "user", "content": "Bonjour"}
    assert body["response_format"] == {"type": "json_schema",
                                       "json_schema": {"name": "caller_intent", "schema": SCHEMA, "strict": True}}
    assert "metadata" not in body
    assert set(request["headers"]) <= EXPECTED_HEADERS


@pytest.mark.parametrize(("status", "permanent", "timeout"), [
    (400, True, False), (401, True, False), (403, True, False), (422, True, False),
    (408, False, True), (429, False, False), (500, False, False), (503, False, False),
])
async def test_http_errors_are_mapped(llm, stand_in, status, permanent, timeout):
    stand_in.mode, stand_in.status = "status", status

    with pytest.raises(ProviderError) as streamed:
        await collect(llm)
    with pytest.raises(ProviderError) as completed:
        await llm.complete_json(MESSAGES, schema=SCHEMA, schema_name="caller_intent")

    for error in (streamed.value, completed.value):
        assert (error.permanent, error.timeout) == (permanent, timeout)
        assert str(status) in str(error)
        assert "Bonjour" not in str(error)  # the body may echo the input; it stays out of the message


async def test_unreachable_server_is_transient(stand_in):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    model = MistralLanguageModel("test-key", server_url=f"http://127.0.0.1:{port}")
    try:
        with pytest.raises(ProviderError) as raised:
            await collect(model)
    finally:
        await model.aclose()
    assert not raised.value.permanent and not raised.value.timeout


async def test_stalled_stream_raises_a_timeout(stand_in):
    stand_in.mode = "stall"
    model = MistralLanguageModel("test-key", server_url=stand_in.url, timeout_ms=300)
    received = []
    try:
        with pytest.raises(ProviderError) as raised:
            async for delta in model.stream(MESSAGES):
                received.append(delta)
    finally:
        await model.aclose()
    assert received == [LLMDelta("Bon")]
    assert raised.value.timeout and not raised.value.permanent


async def test_stalled_completion_raises_a_timeout(stand_in):
    stand_in.mode = "stall"
    model = MistralLanguageModel("test-key", server_url=stand_in.url, timeout_ms=300)
    try:
        with pytest.raises(ProviderError) as raised:
            await model.complete_json(MESSAGES, schema=SCHEMA, schema_name="caller_intent")
    finally:
        await model.aclose()
    assert raised.value.timeout and not raised.value.permanent


async def test_cancelling_the_consumer_closes_the_stream(llm, stand_in):
    stand_in.mode = "stall"  # one delta, then the connection stays open
    first = asyncio.Event()
    received = []

    async def consume():
        async for delta in llm.stream(MESSAGES):
            received.append(delta)
            first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert received == [LLMDelta("Bon")]
    assert await asyncio.to_thread(stand_in.disconnected.wait, 5)


async def test_sdk_debug_logging_and_telemetry_stay_off(stand_in, monkeypatch, caplog):
    monkeypatch.setenv("MISTRAL_DEBUG", "1")
    monkeypatch.setenv("MISTRAL_SDK_TELEMETRY", "dedicated")
    caplog.set_level("DEBUG")
    model = MistralLanguageModel("test-key", server_url=stand_in.url)
    try:
        assert (await collect(model))[0] == LLMDelta("Bon")
    finally:
        await model.aclose()
    assert "Bonjour" not in caplog.text
