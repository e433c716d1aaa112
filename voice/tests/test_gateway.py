import asyncio
import dataclasses

import pytest

from voice.gateway import (
    AllProvidersFailed,
    CircuitBreaker,
    InvocationRecorder,
    LanguageModelChain,
    TextToSpeechChain,
    breaker_for,
    reset_breakers,
)
from voice.providers.base import ChatMessage, ProviderError
from voice.providers.fake import FakeLanguageModel, FakeTextToSpeech
from voice.providers.mistral import MistralLanguageModel
from voice.safeguards import PromptParts, build_system_prompt, minimise_context

CARD = "4111 1111 1111 1111"


@pytest.fixture(autouse=True)
def _fresh_breakers():
    reset_breakers()
    yield
    reset_breakers()


def named(provider, slug):
    provider.info = dataclasses.replace(provider.info, slug=slug)
    return provider


def llm(slug, **kwargs):
    kwargs.setdefault("first_token_ms", 1)
    kwargs.setdefault("tokens_per_second", 2000)
    return named(FakeLanguageModel(["Bonjour et bienvenue."], **kwargs), slug)


async def reply(chain, text="Bonjour"):
    return "".join([d.text async for d in chain.stream([ChatMessage("user", text)])])


async def test_a_failing_provider_falls_back_and_both_attempts_are_logged():
    recorder = InvocationRecorder(None)
    chain = LanguageModelChain([llm("a", fail_rate=1.0), llm("b")], recorder, first_output_timeout_s=2)
    assert await reply(chain) == "Bonjour et bienvenue."
    assert [(r["provider"], r["outcome"]) for r in recorder.rows] == [("a", "error"), ("b", "ok")]
    assert recorder.rows[0]["error_class"] == "ProviderError"
    assert recorder.rows[1]["response_bytes"] == len(b"Bonjour et bienvenue.")


async def test_a_slow_first_token_times_out_to_the_next_provider():
    recorder = InvocationRecorder(None)
    chain = LanguageModelChain([llm("slow", first_token_ms=2000), llm("fast")], recorder, first_output_timeout_s=0.1)
    assert await reply(chain) == "Bonjour et bienvenue."
    assert [r["outcome"] for r in recorder.rows] == ["timeout", "ok"]


class MemoryLog:
    """An ``AIRequestLog`` that keeps its rows, taking a moment per row as a database would."""

    def __init__(self):
        self.rows = []

    async def write(self, row):
        await asyncio.sleep(0.001)
        self.rows.append(dict(row))


@dataclasses.dataclass(frozen=True)
class Minimisation:
    excluded_fields: tuple = ()
    keep_payloads: bool = False


@pytest.mark.parametrize("keep", [False, True])
async def test_rows_reach_the_log_in_order_with_the_text_sent_only_when_kept(keep):
    log = MemoryLog()
    recorder = InvocationRecorder(log, minimisation=Minimisation(keep_payloads=keep))
    chain = LanguageModelChain([llm("a", fail_rate=1.0), llm("b")], recorder,
                               first_output_timeout_s=2)
    assert await reply(chain) == "Bonjour et bienvenue."
    await recorder.flush()
    assert [(r["provider"], r["outcome"]) for r in log.rows] == [("a", "error"), ("b", "ok")]
    assert [bool(r["payload"]) for r in log.rows] == [keep, keep]


async def test_every_provider_failing_raises():
    chain = LanguageModelChain([llm("a", fail_rate=1.0)], InvocationRecorder(None), first_output_timeout_s=1)
    with pytest.raises(AllProvidersFailed):
        await reply(chain)


async def test_failure_mid_reply_is_not_hidden():
    recorder = InvocationRecorder(None)
    chain = LanguageModelChain([llm("a", fail_after_tokens=2), llm("b")], recorder, first_output_timeout_s=1)
    with pytest.raises(ProviderError, match="mid-reply"):
        await reply(chain)
    assert [r["provider"] for r in recorder.rows] == ["a"]


async def test_circuit_opens_after_repeated_failures_then_probes():
    recorder = InvocationRecorder(None)
    flaky = llm("flaky", fail_rate=1.0)
    chain = LanguageModelChain([flaky, llm("backup")], recorder, first_output_timeout_s=1)
    for _ in range(5):
        await reply(chain)
    tried = [r["provider"] for r in recorder.rows]
    assert tried.count("flaky") == breaker_for("flaky").threshold
    assert breaker_for("flaky").state == "open"


def test_breaker_half_opens_after_cool_down():
    now = [0.0]
    breaker = CircuitBreaker(threshold=2, cooldown_s=10, clock=lambda: now[0])
    breaker.failed()
    breaker.failed()
    assert not breaker.allow()
    now[0] = 11
    assert breaker.allow() and not breaker.allow()  # one probe at a time
    breaker.succeeded()
    assert breaker.state == "closed"


async def test_tts_chain_falls_back_and_logs_sizes():
    recorder = InvocationRecorder(None)
    primary = named(FakeTextToSpeech(first_byte_ms=1, fail_rate=1.0), "tts-a")
    backup = named(FakeTextToSpeech(first_byte_ms=1, realtime_factor=0.0), "tts-b")
    chain = TextToSpeechChain([primary, backup], recorder, first_output_timeout_s=1)
    frames = [f async for f in chain.synthesize("Bonjour", language="fr")]
    assert frames and all(len(f.pcm) == 640 for f in frames)
    assert recorder.rows[1]["response_bytes"] == 640 * len(frames)


async def test_excluded_fields_and_card_numbers_never_reach_the_provider(stand_in, no_proxy):
    context, removed = minimise_context(
        {"name": "Jean Martin", "email": "jean.secret@example.fr", "notes": f"carte {CARD}"}, ["email"])
    prompt = build_system_prompt(PromptParts(company="Demo", language="fr", goal="Rendez-vous"), context)
    recorder = InvocationRecorder(None, minimised_fields=removed)
    mistral = MistralLanguageModel("test-key", server_url=stand_in.url)
    chain = LanguageModelChain([mistral], recorder, first_output_timeout_s=5)
    messages = [ChatMessage("system", prompt), ChatMessage("user", f"ma carte c'est le {CARD}")]
    await asyncio.wait_for(reply_messages(chain, messages), 10)
    await mistral.aclose()
    sent = str(stand_in.requests)
    assert "Jean Martin" in sent
    assert "jean.secret" not in sent and "4111" not in sent
    assert recorder.rows[0]["minimised_fields"] == ["email"]
    assert recorder.rows[0]["redactions"] == 1  # the prompt was redacted when built; the user line here


async def reply_messages(chain, messages):
    return "".join([d.text async for d in chain.stream(messages)])
