from voice.text import SentenceSplitter


def test_a_question_is_released_as_soon_as_its_mark_arrives():
    splitter = SentenceSplitter()
    assert splitter.push("Puis-je avoir votre nom") == []
    assert splitter.push(" ?") == ["Puis-je avoir votre nom ?"]
    assert splitter.push(" Merci") == []
    assert splitter.flush() == "Merci"


def test_a_full_stop_waits_for_the_next_token_so_addresses_stay_whole():
    splitter = SentenceSplitter()
    assert splitter.push("Payez sur www.") == []
    assert splitter.push("arnaque.") == []
    assert splitter.push("com maintenant.") == []
    assert splitter.push(" Merci") == ["Payez sur www.arnaque.com maintenant."]


def test_a_stop_after_a_digit_or_an_abbreviation_waits_for_what_follows():
    splitter = SentenceSplitter()
    assert splitter.push("Rendez-vous à 10.") == []
    assert splitter.push("30 avec M.") == []
    assert splitter.push(" Dupont, merci.") == []
    assert splitter.push(" Au") == ["Rendez-vous à 10.30 avec M. Dupont, merci."]
