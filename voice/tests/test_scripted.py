import asyncio
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import jsonschema
import pytest

from voice.extract import REPORT_SCHEMA
from voice.providers.base import ChatMessage, LanguageModel, LLMDelta
from voice.providers.scripted import (
    END_CALL_MARKER,
    MAX_ASKS,
    ScriptedDialogueEngine,
    ScriptSpec,
    ScriptStep,
    asks_for_human,
    transcript_from_messages,
)

# Relative days are read from the ``now`` given to the engine, which then reads no clock itself.
pytestmark = pytest.mark.clock

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=ZoneInfo("Europe/Paris"))  # a Thursday
TRANSFER = "[[transfer: caller asked for a human]]"

FRENCH = ScriptSpec(
    language="fr",
    greeting="Bonjour, cabinet Martin, je suis l'assistante virtuelle.",
    goal="Prendre rendez-vous pour un devis.",
    steps=[ScriptStep("name", "Puis-je avoir votre nom ?"),
           ScriptStep("company", "Quel est le nom de votre société ?"),
           ScriptStep("need", "Que puis-je faire pour vous ?"),
           ScriptStep("phone", "À quel numéro pouvons-nous vous rappeler ?"),
           ScriptStep("email", "Quelle est votre adresse e-mail ?"),
           ScriptStep("appointment", "Quel jour et à quelle heure ?")],
    closing="Merci, à bientôt.",
    fallback="Pardon, je n'ai pas compris.",
)
# questions without the usual keywords: the engine still knows which slot a bare answer fills
ENGLISH = ScriptSpec(
    language="en",
    greeting="Hello, Martin & Co, virtual assistant speaking.",
    goal="Book a demo.",
    steps=[ScriptStep("name", "Who am I talking with today?"),
           ScriptStep("company", "Which outfit are you with?"),
           ScriptStep("need", "What brings you to us?"),
           ScriptStep("phone", "Your best phone number?"),
           ScriptStep("email", "And your email?"),
           ScriptStep("appointment", "When shall we meet?")],
    closing="Thanks, goodbye.",
    fallback="Sorry, I missed that.",
)


def engine(spec=FRENCH):
    return ScriptedDialogueEngine(spec, now=NOW)


async def reply_to(model, messages):
    deltas = [delta async for delta in model.stream(messages)]
    return "".join(delta.text for delta in deltas)


async def converse(model, answers):
    """Play the caller's answers in turn and return the agent's lines, the first being the opening."""
    messages = [ChatMessage("system", "Tu es un agent téléphonique.")]
    lines = []
    for answer in [None, *answers]:
        if answer is not None:
            messages.append(ChatMessage("user", answer))
        line = await reply_to(model, messages)
        lines.append(line)
        messages.append(ChatMessage("assistant", line))
    return lines


def test_engine_is_a_local_language_model():
    model = engine()
    assert isinstance(model, LanguageModel)
    assert (model.info.slug, model.info.model, model.info.region) == ("local-scripted", "scripted-dialogue", "local")


def test_step_slot_must_be_a_report_slot():
    with pytest.raises(ValueError, match="unknown slot"):
        ScriptStep("shoe_size", "Quelle est votre pointure ?")


async def test_whole_french_conversation():
    lines = await converse(engine(), [
        "Jean Dupont",
        "Acme",
        "Je voudrais un devis pour une cuisine.",
        "C'est le zéro six douze trente-quatre cinquante-six soixante-dix-huit",
        "jean point dupont arobase exemple point fr",
        "Mardi prochain à 14h30",
    ])
    assert lines[:6] == [
        "Bonjour, cabinet Martin, je suis l'assistante virtuelle. Puis-je avoir votre nom ?",
        "Merci Jean. Quel est le nom de votre société ?",
        "Très bien. Que puis-je faire pour vous ?",
        "Entendu. À quel numéro pouvons-nous vous rappeler ?",
        "Merci, j'ai noté votre numéro. Quelle est votre adresse e-mail ?",
        "Merci, j'ai noté votre adresse e-mail. Quel jour et à quelle heure ?",
    ]
    spoken, marker = lines[6].rsplit("\n", 1)
    assert marker == END_CALL_MARKER
    assert spoken == ("Je récapitule : Jean Dupont, société Acme, demande : un devis pour une cuisine, "
                      "téléphone 06 12 34 56 78, e-mail jean.dupont@exemple.fr, "
                      "rendez-vous le mardi 1er décembre à 14h30. Merci, à bientôt.")
    assert all("[[" not in line for line in lines[:6])


async def test_whole_english_conversation():
    lines = await converse(engine(ENGLISH), [
        "Hi there.",
        "Sarah Connor",
        "Cyberdyne Systems",
        "A demo of your scheduling tool",
        "plus forty-four twenty seventy-nine forty-six zero nine fifty-eight",
        "sarah dot connor at cyberdyne dot com",
        "Next Tuesday at 2pm",
    ])
    assert lines[:7] == [
        "Hello, Martin & Co, virtual assistant speaking. Who am I talking with today?",
        "Sorry, I missed that. Who am I talking with today?",
        "Thank you, Sarah. Which outfit are you with?",
        "Great. What brings you to us?",
        "Understood. Your best phone number?",
        "Thank you, I have your number. And your email?",
        "Thank you, I have your email address. When shall we meet?",
    ]
    assert lines[7] == ("To recap: Sarah Connor, company Cyberdyne Systems, request: a demo of your scheduling tool, "
                        "phone +44 20 7946 0958, email sarah.connor@cyberdyne.com, "
                        "appointment on Tuesday, December 1 at 2 PM. Thanks, goodbye.\n[[end_call]]")


async def test_several_slots_in_one_line_are_acknowledged_and_skipped():
    lines = await converse(engine(), ["Bonjour, je m'appelle Jean Dupont de la société Acme, je voudrais un devis."])
    assert lines[1] == "Merci Jean. À quel numéro pouvons-nous vous rappeler ?"


async def test_appointment_is_acknowledged_with_its_day():
    spec = ScriptSpec("fr", "Bonjour.", "RDV", [ScriptStep("appointment", "Quand ?"), ScriptStep("name", "Nom ?")],
                      "Au revoir.", "Pardon ?")
    lines = await converse(engine(spec), ["demain à 10h"])
    assert lines[1] == "C'est noté pour le vendredi 27 novembre à 10h. Nom ?"


async def test_a_step_left_unanswered_is_skipped_after_the_last_try():
    lines = await converse(engine(), ["Jean Dupont", "Je suis un particulier.", "Je n'en ai pas."])
    assert lines[2] == "Pardon, je n'ai pas compris. Quel est le nom de votre société ?"
    assert lines[3] == "Que puis-je faire pour vous ?"
    assert sum("société ?" in line for line in lines) == MAX_ASKS


async def test_engine_ends_once_every_step_is_answered():
    spec = ScriptSpec("en", "Hi.", "Callback", [ScriptStep("name", "Your name?"), ScriptStep("phone", "Number?")],
                      "Bye.", "Sorry?")
    lines = await converse(engine(spec), ["My name is Ann Lee and my number is 06 12 34 56 78"])
    assert lines[1] == "To recap: Ann Lee, phone 06 12 34 56 78. Bye.\n[[end_call]]"
    assert lines[1].splitlines()[-1] == END_CALL_MARKER


@pytest.mark.parametrize(("spec", "ask"), [
    (FRENCH, "Je voudrais parler à un conseiller, s'il vous plaît."),
    (FRENCH, "Passez-moi quelqu'un de réel."),
    (FRENCH, "Est-ce que je peux parler à un humain ?"),
    (ENGLISH, "Can I speak to a real person?"),
    (ENGLISH, "Put me through to a representative."),
])
async def test_transfer_when_the_caller_asks_for_a_human(spec, ask):
    lines = await converse(engine(spec), ["Jean Dupont", ask])
    spoken, marker = lines[2].rsplit("\n", 1)
    assert marker == TRANSFER
    assert spoken in ("Je vous mets en relation avec un conseiller, merci de patienter.",
                      "I'll put you through to a colleague, please hold.")


@pytest.mark.parametrize("line", ["Je voudrais un devis", "My name is Ann", "Je suis disponible demain", "Humm."])
def test_ordinary_talk_is_not_a_request_for_a_human(line):
    assert not asks_for_human(line)


async def test_stream_yields_small_pieces_and_lets_other_tasks_run():
    messages = [ChatMessage("system", "x"), ChatMessage("assistant", "Puis-je avoir votre nom ?"),
                ChatMessage("user", "Jean Dupont")]
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    try:
        deltas = [delta async for delta in engine().stream(messages)]
    finally:
        task.cancel()
    texts = [delta.text for delta in deltas if delta.text]
    assert len(texts) > 5
    assert all(len(piece.strip()) <= 4 for piece in texts)
    assert "".join(texts) == "Merci Jean. Quel est le nom de votre société ?"
    assert isinstance(deltas[-1], LLMDelta) and deltas[-1].usage.completion_tokens == len(texts)
    assert ticks >= len(texts) - 1


async def test_reply_ignores_markers_and_the_system_prompt():
    messages = [ChatMessage("system", "Je m'appelle Système, 06 12 34 56 78."),
                ChatMessage("assistant", "Puis-je avoir votre nom ? [[noop]]"),
                ChatMessage("user", "Jean Dupont")]
    assert await reply_to(engine(), messages) == "Merci Jean. Quel est le nom de votre société ?"


LABELLED = ChatMessage("user", "\n".join([
    "Résume cet appel au format JSON.",
    "",
    "Agent: Bonjour, puis-je avoir votre nom ?",
    "Caller: Jean Dupont.",
    "Agent: Quel est le nom de votre société ?",
    "Caller: Acme. Je voudrais un devis",
    "pour une cuisine.",
    "Agent: Votre numéro ?",
    "Caller: 06 12 34 56 78, et je suis diabétique.",
    "Agent: Quand ?",
    "Caller: demain à 10h",
]))


def test_transcript_from_labelled_lines():
    turns = transcript_from_messages([ChatMessage("system", "Tu résumes des appels."), LABELLED])
    assert turns[0] == ("agent", "Bonjour, puis-je avoir votre nom ?")
    assert turns[3] == ("caller", "Acme. Je voudrais un devis pour une cuisine.")
    assert [speaker for speaker, _text in turns] == ["agent", "caller"] * 4


async def test_complete_json_reads_a_labelled_transcript():
    result = await engine().complete_json([ChatMessage("system", "Résume."), LABELLED], schema=REPORT_SCHEMA,
                                          schema_name="call_report")
    report = json.loads(result.text)
    jsonschema.validate(report, REPORT_SCHEMA)
    assert set(report) == set(REPORT_SCHEMA["required"])
    assert report["name"] == "Jean Dupont"
    assert report["company"] == "Acme"
    assert report["need"] == "un devis pour une cuisine"
    assert report["phone"] == "+33612345678"
    assert report["appointment"] == "2026-11-27T10:00:00+01:00"
    assert report["special_category"] is True
    assert report["special_category_terms"] == ["diabetique"]
    assert result.usage.completion_tokens > 0


async def test_complete_json_reads_alternating_messages():
    messages = [ChatMessage("system", "Summarise."), ChatMessage("assistant", "Who am I talking with today?"),
                ChatMessage("user", "Sarah Connor"), ChatMessage("assistant", "And your email?"),
                ChatMessage("user", "sarah@cyberdyne.com")]
    result = await engine(ENGLISH).complete_json(messages, schema=REPORT_SCHEMA, schema_name="call_report")
    report = json.loads(result.text)
    jsonschema.validate(report, REPORT_SCHEMA)
    assert (report["name"], report["email"], report["phone"]) == ("Sarah Connor", "sarah@cyberdyne.com", None)


async def test_complete_json_of_an_empty_conversation():
    result = await engine().complete_json([ChatMessage("system", "Résume.")], schema=REPORT_SCHEMA,
                                          schema_name="call_report")
    report = json.loads(result.text)
    jsonschema.validate(report, REPORT_SCHEMA)
    assert report["confidence"] == 0.0


@pytest.mark.parametrize("language", ["fr", "en", "fr-FR", "en-GB"])
async def test_default_script_runs_to_the_end(language):
    spec = ScriptSpec.default(language)
    answers = {"fr": ["Jean Dupont", "Acme", "Un devis", "06 12 34 56 78", "jean@acme.fr", "demain à 10h"],
               "en": ["John Smith", "Acme", "A quote", "06 12 34 56 78", "john@acme.com", "tomorrow at 10am"]}
    lines = await converse(engine(spec), answers[spec.language])
    assert lines[0].startswith(spec.greeting)
    assert lines[-1].endswith(f"{spec.closing}\n{END_CALL_MARKER}")
