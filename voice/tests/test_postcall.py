import datetime
import json
import zoneinfo

import pytest
import time_machine

from voice.gateway import InvocationRecorder, LanguageModelChain, reset_breakers
from voice.postcall import summarise, validation_error
from voice.providers.fake import FakeLanguageModel

# "Demain" is read from NOW; the tests that summarise are frozen at NOW, so that the AI requests the gateway records
# carry the same time.
NOW = datetime.datetime(2026, 11, 27, 10, 0, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
TRANSCRIPT = [
    ("agent", "Bonjour, je suis l'assistant virtuel de Demo. Puis-je avoir votre nom ?"),
    ("caller", "Je m'appelle Jean Dupont."),
    ("agent", "Quel est votre projet ?"),
    ("caller", "Je voudrais refaire ma cuisine. Je suis diabétique, il me faut un plan de travail bas."),
    ("agent", "Quand seriez-vous disponible ?"),
    ("caller", "Demain à 14h30."),
]
VALID = {"name": "Jean Dupont", "phone": None, "email": None, "company": None, "need": "refaire sa cuisine",
         "appointment": "2026-11-28T14:30:00+01:00", "next_step": "confirmer", "confidence": 0.7,
         "special_category": False, "special_category_terms": [], "summary": "Jean Dupont veut refaire sa cuisine."}


async def run(json_replies):
    reset_breakers()
    recorder = InvocationRecorder(None)
    chain = LanguageModelChain([FakeLanguageModel(["-"], first_token_ms=1, tokens_per_second=5000,
                                                 json_replies=json_replies)], recorder,
                               first_output_timeout_s=2)
    result = await summarise(transcript=TRANSCRIPT, language="fr", llm=chain, now=NOW, tz="Europe/Paris")
    return result, recorder


@pytest.mark.clock
@time_machine.travel(NOW, tick=False)
async def test_valid_json_is_used_as_is():
    result, recorder = await run([json.dumps(VALID)])
    assert result.source == "llm"
    assert result.summary == "Jean Dupont veut refaire sa cuisine."
    assert result.report["appointment"] == "2026-11-28T14:30:00+01:00"
    assert [r["role"] for r in recorder.rows] == ["extraction"]


@pytest.mark.clock
@time_machine.travel(NOW, tick=False)
async def test_invalid_json_gets_one_repair():
    result, recorder = await run(['{"name": "Jean"', json.dumps(VALID)])
    assert result.source == "llm_repaired"
    assert len(recorder.rows) == 2


@pytest.mark.clock
@time_machine.travel(NOW, tick=False)
async def test_twice_invalid_falls_back_to_the_local_extractor():
    result, _ = await run(["not json", json.dumps({**VALID, "confidence": 7})])
    assert result.source == "local"
    assert result.report["name"] == "Jean Dupont"
    assert result.report["appointment"].startswith("2026-11-28T14:30")


@pytest.mark.clock
@time_machine.travel(NOW, tick=False)
async def test_special_category_is_flagged_even_when_the_model_misses_it():
    result, _ = await run([json.dumps(VALID)])
    assert result.report["special_category"] is True
    assert result.report["special_category_terms"]


def test_validation_errors_say_where():
    assert "not JSON" in validation_error("{")
    assert "confidence" in validation_error(json.dumps({**VALID, "confidence": "high"}))
    assert "appointment" in validation_error(json.dumps({**VALID, "appointment": "tomorrow"}))
    assert validation_error(json.dumps(VALID)) == ""
