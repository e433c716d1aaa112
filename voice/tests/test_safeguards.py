import pytest

from voice.safeguards import (
    CARD_PLACEHOLDER,
    IBAN_PLACEHOLDER,
    OutputFilter,
    PromptParts,
    build_system_prompt,
    greeting_with_disclosure,
    minimise_context,
    redact,
)

VISA = "4111 1111 1111 1111"
IBAN = "FR76 3000 6000 0112 3456 7890 189"


@pytest.mark.parametrize("text", [f"ma carte est {VISA} merci", "card 4111-1111-1111-1111.", "4111111111111111"])
def test_luhn_valid_card_numbers_are_redacted(text):
    redacted, count = redact(text)
    assert count == 1 and CARD_PLACEHOLDER in redacted and "1111" not in redacted


def test_numbers_that_are_not_cards_stay():
    text = "commande 4111 1111 1111 1112 et téléphone 06 12 34 56 78"
    assert redact(text) == (text, 0)


def test_valid_iban_is_redacted_and_invalid_is_not():
    redacted, count = redact(f"mon IBAN {IBAN} pour le virement")
    assert count == 1 and IBAN_PLACEHOLDER in redacted
    assert redact("FR76 3000 6000 0112 3456 7890 188")[1] == 0


def test_minimise_context_drops_excluded_fields_and_names_them():
    kept, removed = minimise_context({"name": "Jean", "email": "j@x.fr", "company": "ACME", "notes": ""},
                                     ["email", "notes"])
    assert kept == {"name": "Jean", "company": "ACME"}
    assert removed == ["email"]


def test_system_prompt_carries_context_but_no_card():
    prompt = build_system_prompt(
        PromptParts(company="Demo", language="fr", goal="Prendre rendez-vous", steps=[{"question": "Votre nom ?"}],
                    allowed_tools=["transfer"]),
        {"name": "Jean", "notes": f"payé avec {VISA}"},
    )
    assert "Prendre rendez-vous" in prompt and "Votre nom ?" in prompt and "Jean" in prompt
    assert "[[transfer:" in prompt and "[[end_call]]" not in prompt
    assert "4111" not in prompt


@pytest.mark.parametrize("language,greeting,expected_prefix", [
    ("fr", "Bonjour, je suis l'assistant virtuel de Demo. Comment puis-je aider ?", "Bonjour, je suis l'assistant"),
    ("fr", "Bonjour, ici Demo Cuisines.", "Bonjour, je suis l'assistant virtuel de Demo"),
    ("en", "Hi, this is Demo.", "Hello, I am Demo's virtual assistant"),
])
def test_greeting_always_discloses_the_ai(language, greeting, expected_prefix):
    assert greeting_with_disclosure(greeting, language=language, company="Demo").startswith(expected_prefix)


@pytest.mark.parametrize("reply,reason", [
    ("Vous êtes un idiot.", "blocked_term"),
    ("Allez sur www.arnaque.com pour payer.", "unknown_url"),
    ("Appelez le 06 99 88 77 66.", "unknown_phone_number"),
    ("x" * 700, "too_long"),
    ("Mme Durand a dit que son code est 1234", "other_call_content"),
])
def test_output_filter_replaces_bad_replies(reply, reason):
    output_filter = OutputFilter(language="fr", allowed_text="Notre site demo.fr, tél. 01 23 45 67 89",
                                 other_call_snippets=["Mme Durand a dit que"])
    verdict = output_filter.check(reply)
    assert verdict.reason == reason
    assert verdict.text.startswith("Je préfère vérifier")


def test_output_filter_lets_script_urls_and_numbers_through():
    output_filter = OutputFilter(language="fr", allowed_text="Notre site demo.fr, tél. 01 23 45 67 89")
    reply = "Vous trouverez tout sur demo.fr ou au 01 23 45 67 89."
    assert output_filter.check(reply).text == reply
    assert not output_filter.check(reply).replaced


def test_agent_may_repeat_the_callers_own_details_but_not_others():
    output_filter = OutputFilter(language="fr")
    output_filter.note_caller("mon mail c'est jean.dupont@exemple.fr et mon numéro 06 12 34 56 78")
    assert not output_filter.check("Je note jean.dupont@exemple.fr et le 06 12 34 56 78.").replaced
    assert output_filter.check("Appelez plutôt le 06 99 99 99 99.").reason == "unknown_phone_number"
    assert output_filter.check("Voir www.ailleurs.com").reason == "unknown_url"
