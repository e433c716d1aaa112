from datetime import datetime
from zoneinfo import ZoneInfo

import jsonschema
import pytest

from voice.extract import (
    REPORT_KEYS,
    REPORT_SCHEMA,
    detect_special_category,
    digitise,
    extract_report,
    fold,
    format_appointment,
    summary_text,
)

# Relative days ("demain", "lundi") are read from the ``now`` given to the extractor, which reads no clock itself.
pytestmark = pytest.mark.clock

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=PARIS)  # a Thursday
BEFORE_DST_END = datetime(2026, 10, 23, 10, 0, tzinfo=PARIS)  # a Friday; summer time ends on Sunday 2026-10-25


def report_of(*caller_lines, language="fr", now=NOW, **kwargs):
    return extract_report([("caller", line) for line in caller_lines], language=language, now=now, **kwargs)


# --- text helpers --------------------------------------------------------------------------------------------------

def test_fold_keeps_length_and_drops_accents():
    text = "Éléonore DUPRÉ ’ çà"
    assert fold(text) == "eleonore dupre ' ca"
    assert len(fold(text)) == len(text)


@pytest.mark.parametrize(("spoken", "language", "digits"), [
    ("zero six douze trente-quatre cinquante-six soixante-dix-huit", "fr", "0 6 12 34 56 78"),
    ("quatre-vingt-dix-neuf soixante et onze vingt et un dix-sept", "fr", "99 71 21 17"),
    ("quatre vingts", "fr", "80"),
    ("zero six one two thirty four double five", "en", "0 6 1 2 34 55"),
    ("a quarter to three", "en", "a quarter to 3"),
])
def test_digitise(spoken, language, digits):
    assert digitise(spoken, language) == digits


# --- no data -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("transcript", [
    [],
    [("caller", "Bonjour.")],
    [("caller", "Hello, how are you?")],
    [("agent", "Je m'appelle Camille, je voudrais votre numéro : 06 12 34 56 78.")],
])
def test_no_data_gives_nulls(transcript):
    report = extract_report(transcript, language="fr", now=NOW)
    assert {key: report[key] for key in ("name", "phone", "email", "company", "need", "appointment")} == dict.fromkeys(
        ("name", "phone", "email", "company", "need", "appointment"))
    assert report["next_step"] is None
    assert report["special_category"] is False
    assert report["special_category_terms"] == []


def test_empty_transcript_has_zero_confidence():
    assert extract_report([], language="en", now=NOW)["confidence"] == 0.0


# --- name ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("line", "name"), [
    ("Je m'appelle Jean Dupont.", "Jean Dupont"),
    ("Bonjour, mon nom est Marie-Claire Martin", "Marie-Claire Martin"),
    ("je m'appelle jean dupont et je voudrais un devis", "Jean Dupont"),
    ("C'est Jean de la société Acme", "Jean"),
    ("Bonjour, ici Monsieur Durand.", "Durand"),
    ("Je suis Sophie Bernard, de chez Orange", "Sophie Bernard"),
    ("Je m’appelle Éloïse Lefèvre", "Éloïse Lefèvre"),
    ("My name is John Smith and I work for Acme", "John Smith"),
    ("Hi, this is Sarah from Globex", "Sarah"),
    ("I'm Peter O'Neil", "Peter O'Neil"),
    ("my name's anna", "Anna"),
    ("I'm Mrs. Taylor", "Taylor"),
])
def test_name(line, name):
    assert report_of(line)["name"] == name


@pytest.mark.parametrize("line", [
    "I'm calling about a quote",
    "C'est pour un devis",
    "I'm a union member",
    "Je suis disponible lundi",
    "This is Monday's order",
])
def test_no_name_in_ordinary_talk(line):
    assert report_of(line)["name"] is None


def test_name_correction_wins():
    assert report_of("Je m'appelle Jean.", "Pardon, mon nom est Jeanne Moreau.")["name"] == "Jeanne Moreau"


@pytest.mark.parametrize(("question", "answer", "name"), [
    ("Quel est votre nom ?", "Jean Dupont.", "Jean Dupont"),
    ("Merci. Puis-je avoir votre nom ?", "Oui, Dupont.", "Dupont"),
    ("What's your name?", "It's Smith.", "Smith"),
    ("Quel est votre nom ?", "06 12 34 56 78", None),
    ("Quel est votre nom ?", "Je ne sais pas pourquoi vous me demandez ça", None),
    ("Quel est votre numéro ?", "Jean Dupont", None),
])
def test_bare_answer_to_a_name_question(question, answer, name):
    report = extract_report([("agent", question), ("caller", answer)], language="fr", now=NOW)
    assert report["name"] == name


def test_bare_answer_to_a_scripted_question_without_keywords():
    transcript = [("agent", "Qui est en ligne ?"), ("caller", "Paul Girard")]
    assert extract_report(transcript, language="fr", now=NOW)["name"] is None
    questions = {"name": "Qui est en ligne ?"}
    assert extract_report(transcript, language="fr", now=NOW, questions=questions)["name"] == "Paul Girard"


# --- phone ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("line", "language", "phone"), [
    ("Mon numéro est le 06 12 34 56 78.", "fr", "+33612345678"),
    ("06.12.34.56.78", "fr", "+33612345678"),
    ("0612345678", "fr", "+33612345678"),
    ("+33 6 12 34 56 78", "fr", "+33612345678"),
    ("0033 6 12 34 56 78", "fr", "+33612345678"),
    ("06-12-34-56-78", "fr", "+33612345678"),
    ("zéro six douze trente-quatre cinquante-six soixante-dix-huit", "fr", "+33612345678"),
    ("zéro un, quarante-deux, quatre-vingt-six, quatre-vingt-dix-neuf, zéro zéro", "fr", "+33142869900"),
    ("plus trente-trois six douze trente-quatre cinquante-six soixante-dix-huit", "fr", "+33612345678"),
    ("Rappelez-moi demain à 10h au 07 81 23 45 67 merci", "fr", "+33781234567"),
    ("Je suis dispo à 10, 06 12 34 56 78", "fr", "+33612345678"),
    ("j'ai un 06 12 34 56 78", "fr", "+33612345678"),
    ("zero six one two three four five six seven eight", "en", "+33612345678"),
    ("my number is +44 20 7946 0958", "en", "+442079460958"),
    ("call me on +1 415 555 2671", "en", "+14155552671"),
])
def test_phone(line, language, phone):
    assert report_of(line, language=language)["phone"] == phone


@pytest.mark.parametrize("line", [
    "06 12 34",
    "00 00 00 00 00",
    "01 23",
    "J'ai 2 enfants et 3 chats",
    "le 03/12/2026 à 14h30",
    "9999 9999 9999",
])
def test_invalid_phone_is_null(line):
    assert report_of(line)["phone"] is None


def test_phone_region_is_configurable():
    assert report_of("0470 12 34 56", region="BE")["phone"] == "+32470123456"


def test_last_phone_wins():
    assert report_of("06 12 34 56 78", "non pardon, 07 81 23 45 67")["phone"] == "+33781234567"


# --- e-mail --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("line", "email"), [
    ("jean.dupont@exemple.fr", "jean.dupont@exemple.fr"),
    ("Mon email c'est jean point dupont arobase exemple point fr", "jean.dupont@exemple.fr"),
    ("c'est marie tiret martin arobase orange point fr merci", "marie-martin@orange.fr"),
    ("jean tiret bas dupont at gmail point com", "jean_dupont@gmail.com"),
    ("john dot smith at globex dot com", "john.smith@globex.com"),
    ("contact at acme dot co dot uk", "contact@acme.co.uk"),
    ("Écrivez à JEAN.Dupont@Exemple.FR. Merci", "jean.dupont@exemple.fr"),
    ("my email is anna_b+calls@mail.example.org, thanks", "anna_b+calls@mail.example.org"),
])
def test_email(line, email):
    assert report_of(line)["email"] == email


@pytest.mark.parametrize("line", [
    "I'll be at the office tomorrow",
    "Je n'en suis pas à ce point-là",
    "jean arobase exemple",
    "meet me at noon. com",
])
def test_no_email(line):
    assert report_of(line)["email"] is None


# --- company -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("line", "company"), [
    ("C'est Jean de la société Acme", "Acme"),
    ("Je travaille chez Orange", "Orange"),
    ("je suis chez Dupont Plomberie et je voudrais un devis", "Dupont Plomberie"),
    ("Je vous appelle de l'entreprise bati ouest.", "Bati Ouest"),
    ("Ma société s'appelle ACME Industries", "ACME Industries"),
    ("I work for Globex Corporation", "Globex Corporation"),
    ("This is Sarah from Initech", "Initech"),
    ("I'm calling on behalf of 3M France", "3M France"),
])
def test_company(line, company):
    assert report_of(line)["company"] == company


@pytest.mark.parametrize("line", [
    "I'm calling from home",
    "Je voudrais un devis",
    "from tomorrow on",
])
def test_no_company(line):
    assert report_of(line)["company"] is None


@pytest.mark.parametrize(("answer", "company"), [
    ("Acme Industries.", "Acme Industries"),
    ("C'est la société Acme", "Acme"),
    ("Je suis un particulier.", None),
    ("Non.", None),
])
def test_bare_answer_to_a_company_question(answer, company):
    transcript = [("agent", "Merci Jean. Quel est le nom de votre société ?"), ("caller", answer)]
    assert extract_report(transcript, language="fr", now=NOW)["company"] == company


# --- need ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("line", "need"), [
    ("Je voudrais un devis pour une cuisine, s'il vous plaît", "un devis pour une cuisine"),
    ("J'ai besoin d'un plombier en urgence.", "un plombier en urgence"),
    ("Bonjour, j'appelle pour prendre rendez-vous", "prendre rendez-vous"),
    ("c'est pour une fuite d'eau et mon numéro est le 06 12 34 56 78", "une fuite d'eau"),
    ("J’aimerais changer mon abonnement svp", "changer mon abonnement"),
    ("I'd like to book a demo please", "book a demo"),
    ("I need a quote for a new roof and my number is 06 12 34 56 78", "a quote for a new roof"),
    ("I'm calling about my invoice.", "my invoice"),
    ("Hi, I'm looking for a plumber", "a plumber"),
])
def test_need(line, need):
    assert report_of(line)["need"] == need


def test_first_need_wins():
    assert report_of("Je voudrais un devis.", "Je voudrais aussi un café.")["need"] == "un devis"


@pytest.mark.parametrize(("question", "answer", "need"), [
    ("Que puis-je faire pour vous ?", "Un devis pour une cuisine.", "un devis pour une cuisine"),
    ("How can I help you?", "Well, a quote for the roof", "a quote for the roof"),
    ("Comment puis-je vous aider ?", "Bonjour.", None),
])
def test_bare_answer_to_a_need_question(question, answer, need):
    transcript = [("agent", question), ("caller", answer)]
    assert extract_report(transcript, language="fr", now=NOW)["need"] == need


# --- appointment ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("line", "appointment"), [
    ("mardi prochain à 14h30", "2026-12-01T14:30:00+01:00"),
    ("demain à 10 heures", "2026-11-27T10:00:00+01:00"),
    ("le 3 décembre à 9h", "2026-12-03T09:00:00+01:00"),
    ("après-demain à 16h", "2026-11-28T16:00:00+01:00"),
    ("lundi à 11h", "2026-11-30T11:00:00+01:00"),
    ("jeudi à 10h", "2026-12-03T10:00:00+01:00"),
    ("le 1er décembre à 9h15", "2026-12-01T09:15:00+01:00"),
    ("le premier décembre à 9h", "2026-12-01T09:00:00+01:00"),
    ("le 3 janvier à 10h", "2027-01-03T10:00:00+01:00"),
    ("le 15 novembre à 10h", "2027-11-15T10:00:00+01:00"),
    ("le 3 décembre 2027 à 10h", "2027-12-03T10:00:00+01:00"),
    ("demain à 3 heures de l'après-midi", "2026-11-27T15:00:00+01:00"),
    ("demain à 2 heures et demie", "2026-11-27T14:30:00+01:00"),
    ("demain à 5 heures moins le quart", "2026-11-27T16:45:00+01:00"),
    ("demain à 9 heures du matin", "2026-11-27T09:00:00+01:00"),
    ("demain à 8 heures du soir", "2026-11-27T20:00:00+01:00"),
    ("vendredi à midi", "2026-11-27T12:00:00+01:00"),
    ("vendredi à midi et demi", "2026-11-27T12:30:00+01:00"),
    ("le trois décembre à quatorze heures trente", "2026-12-03T14:30:00+01:00"),
    ("le 03/12 à 10h", "2026-12-03T10:00:00+01:00"),
    ("demain vers 11", "2026-11-27T11:00:00+01:00"),
    ("aujourd'hui à 17h", "2026-11-26T17:00:00+01:00"),
])
def test_appointment_in_french(line, appointment):
    assert report_of(line)["appointment"] == appointment


@pytest.mark.parametrize(("line", "appointment"), [
    ("next Tuesday at 2pm", "2026-12-01T14:00:00+01:00"),
    ("tomorrow at 10", "2026-11-27T10:00:00+01:00"),
    ("December 3 at 9am", "2026-12-03T09:00:00+01:00"),
    ("on the 3rd of December at 9:30 am", "2026-12-03T09:30:00+01:00"),
    ("Monday at half past two", "2026-11-30T14:30:00+01:00"),
    ("the day after tomorrow at 4 p.m.", "2026-11-28T16:00:00+01:00"),
    ("tomorrow at noon", "2026-11-27T12:00:00+01:00"),
    ("Friday at 10 o'clock", "2026-11-27T10:00:00+01:00"),
    ("Could we say Wednesday at 15:45?", "2026-12-02T15:45:00+01:00"),
    ("tomorrow at ten thirty", "2026-11-27T10:30:00+01:00"),
    ("Jan 5th at 11am", "2027-01-05T11:00:00+01:00"),
])
def test_appointment_in_english(line, appointment):
    assert report_of(line, language="en")["appointment"] == appointment


@pytest.mark.parametrize(("lines", "appointment"), [
    (("Demain.", "À 10h."), "2026-11-27T10:00:00+01:00"),
    (("Tomorrow please.", "At 10 would be great."), "2026-11-27T10:00:00+01:00"),
    (("mardi à 10h", "finalement plutôt mercredi"), "2026-12-02T10:00:00+01:00"),
])
def test_appointment_over_several_lines(lines, appointment):
    assert report_of(*lines)["appointment"] == appointment


@pytest.mark.parametrize("line", [
    "demain",
    "à 14h",
    "je voudrais un rendez-vous",
    "tomorrow, call me at 06 12 34 56 78",
    "le 31 février à 10h",
    "I'll need 2 days",
    "j'ai attendu une heure, rappelez-moi demain",
    "demain, j'y serai dans 2 heures",
])
def test_no_appointment(line):
    assert report_of(line)["appointment"] is None


def test_weekday_in_the_past_means_the_next_one():
    assert report_of("lundi à 10h")["appointment"] == "2026-11-30T10:00:00+01:00"
    assert report_of("monday at 10am", language="en")["appointment"] == "2026-11-30T10:00:00+01:00"


@pytest.mark.parametrize(("line", "appointment"), [
    ("samedi à 10h", "2026-10-24T10:00:00+02:00"),
    ("dimanche à 10h", "2026-10-25T10:00:00+01:00"),
    ("après-demain à 10h", "2026-10-25T10:00:00+01:00"),
    ("le 25 octobre à 2h30 du matin", "2026-10-25T02:30:00+02:00"),  # the repeated hour: its first occurrence
    ("le 25 octobre à 3h30 du matin", "2026-10-25T03:30:00+01:00"),
    ("le 28 mars à 2h30 du matin", "2027-03-28T03:30:00+02:00"),  # the skipped hour: moved past the gap
])
def test_appointment_across_the_dst_change(line, appointment):
    assert report_of(line, now=BEFORE_DST_END)["appointment"] == appointment


def test_appointment_with_a_naive_now_and_another_zone():
    assert report_of("tomorrow at 10", language="en", now=datetime(2026, 11, 26, 9, 0))["appointment"] == (
        "2026-11-27T10:00:00+01:00")
    new_york = report_of("tomorrow at 10", language="en", tz="America/New_York")
    assert new_york["appointment"] == "2026-11-27T10:00:00-05:00"


def test_aware_now_is_read_in_the_call_zone():
    # 23:30 UTC on the 26th is already the 27th in Paris
    late = datetime(2026, 11, 26, 23, 30, tzinfo=ZoneInfo("UTC"))
    assert report_of("demain à 10h", now=late)["appointment"] == "2026-11-28T10:00:00+01:00"


@pytest.mark.parametrize(("iso", "language", "text"), [
    ("2026-12-01T14:30:00+01:00", "fr", "mardi 1er décembre 2026 à 14h30"),
    ("2026-12-03T09:00:00+01:00", "fr", "jeudi 3 décembre 2026 à 9h"),
    ("2026-12-01T14:30:00+01:00", "en", "Tuesday, December 1, 2026 at 2:30 PM"),
    ("2026-12-03T00:00:00+01:00", "en", "Thursday, December 3, 2026 at 12 AM"),
])
def test_format_appointment(iso, language, text):
    assert format_appointment(iso, language) == text


# --- special categories --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("line", "terms"), [
    ("je suis diabétique", ["diabetique"]),
    ("I'm a union member", ["union member"]),
    ("Je suis enceinte de trois mois", ["je suis enceinte"]),
    ("je suis syndiqué à la CGT", ["syndique", "cgt"]),
    ("I go to the mosque on Fridays", ["mosque"]),
    ("Mon fils est autiste", ["autiste"]),
    ("I'm gay and my partner is coming too", ["gay"]),
    ("ils ont fait un test ADN", ["adn"]),
    ("C'est au sujet de mon DIABÈTE", ["diabete"]),
    ("my religion forbids it", ["religion"]),
    ("j'ai voté pour le Rassemblement National", ["j'ai vote pour", "rassemblement national"]),
])
def test_special_category_detected(line, terms):
    report = report_of(line)
    assert report["special_category"] is True
    assert report["special_category_terms"] == terms


@pytest.mark.parametrize("line", [
    "Je voudrais un devis pour une cuisine",
    "I'd like to book a demo",
    "Je cherche une enceinte bluetooth",
    "Je suis disponible demain à 10h",
    "My office is on Union Street",
    "Mon nom est Jean Dupont, j'habite à Lyon",
    "We need a generator for the building",
])
def test_special_category_not_detected_in_ordinary_talk(line):
    report = report_of(line)
    assert report["special_category"] is False
    assert report["special_category_terms"] == []


def test_special_category_reads_only_the_caller():
    transcript = [("agent", "Êtes-vous diabétique ou syndiqué ?"), ("caller", "Non, pas du tout.")]
    assert extract_report(transcript, language="fr", now=NOW)["special_category"] is False


def test_detect_special_category_orders_terms_by_first_mention():
    assert detect_special_category(["my DNA test", "and I am diabetic, diabetic!"]) == ["dna", "diabetic"]


# --- the whole report ----------------------------------------------------------------------------------------------

FRENCH_CALL = [
    ("agent", "Bonjour, que puis-je faire pour vous ?"),
    ("caller", "Bonjour, je m'appelle Jean Dupont de la société Acme. Je voudrais un devis pour une cuisine."),
    ("agent", "Très bien. À quel numéro puis-je vous joindre ?"),
    ("caller", "Au zéro six douze trente-quatre cinquante-six soixante-dix-huit."),
    ("agent", "Et votre e-mail ?"),
    ("caller", "jean point dupont arobase exemple point fr"),
    ("agent", "Quand êtes-vous disponible ?"),
    ("caller", "Mardi prochain à 14h30."),
]
ENGLISH_CALL = [
    ("agent", "Hello, how can I help?"),
    ("caller", "Hi, this is John Smith from Globex. I'd like to book a demo."),
    ("caller", "My number is +44 20 7946 0958 and my email is john.smith@globex.com."),
    ("caller", "Next Tuesday at 2pm works."),
]


def test_full_french_report():
    report = extract_report(FRENCH_CALL, language="fr", now=NOW)
    assert report == {
        "name": "Jean Dupont", "phone": "+33612345678", "email": "jean.dupont@exemple.fr", "company": "Acme",
        "need": "un devis pour une cuisine", "appointment": "2026-12-01T14:30:00+01:00",
        "next_step": "Confirmer le rendez-vous du mardi 1er décembre 2026 à 14h30 avec Jean Dupont.",
        "confidence": 0.8, "special_category": False, "special_category_terms": [],
    }


def test_full_english_report():
    report = extract_report(ENGLISH_CALL, language="en", now=NOW)
    assert report["name"] == "John Smith"
    assert report["company"] == "Globex"
    assert report["phone"] == "+442079460958"
    assert report["email"] == "john.smith@globex.com"
    assert report["need"] == "book a demo"
    assert report["appointment"] == "2026-12-01T14:00:00+01:00"
    assert report["next_step"] == "Confirm the appointment on Tuesday, December 1, 2026 at 2 PM with John Smith."


@pytest.mark.parametrize(("lines", "language", "next_step"), [
    (("Je m'appelle Jean, rappelez-moi au 06 12 34 56 78",), "fr", "Rappeler Jean au 06 12 34 56 78."),
    (("call me on 06 12 34 56 78",), "en", "Call the caller back on 06 12 34 56 78."),
    (("my email is jo@example.com",), "en", "Reply to the caller by email (jo@example.com)."),
    (("Je voudrais un devis",), "fr", None),
])
def test_next_step(lines, language, next_step):
    assert report_of(*lines, language=language)["next_step"] == next_step


@pytest.mark.parametrize("transcript", [[], FRENCH_CALL, ENGLISH_CALL, [("caller", "je suis diabétique")]])
def test_report_matches_schema(transcript):
    report = extract_report(transcript, language="fr", now=NOW)
    jsonschema.validate(report, REPORT_SCHEMA)
    assert tuple(report) == REPORT_KEYS
    assert 0.0 <= report["confidence"] <= 1.0


def test_schema_requires_every_key():
    assert set(REPORT_SCHEMA["required"]) == set(REPORT_SCHEMA["properties"]) == set(REPORT_KEYS)
    assert REPORT_SCHEMA["additionalProperties"] is False


def test_confidence_grows_with_what_is_found():
    some = report_of("Je m'appelle Jean Dupont")["confidence"]
    full = extract_report(FRENCH_CALL, language="fr", now=NOW)["confidence"]
    assert 0.0 < some < full <= 1.0


# --- summary -------------------------------------------------------------------------------------------------------

def test_french_summary():
    report = extract_report(FRENCH_CALL, language="fr", now=NOW)
    text = summary_text(FRENCH_CALL, report, "fr")
    assert text.startswith("Jean Dupont (Acme) a appelé.")
    assert "Demande : un devis pour une cuisine." in text
    assert "Téléphone : 06 12 34 56 78." in text
    assert "Rendez-vous : mardi 1er décembre 2026 à 14h30." in text
    assert "RGPD" not in text


def test_english_summary():
    report = extract_report(ENGLISH_CALL, language="en", now=NOW)
    text = summary_text(ENGLISH_CALL, report, "en")
    assert text.startswith("John Smith (Globex) called.")
    assert "Phone: +44 20 7946 0958." in text
    assert "Appointment: Tuesday, December 1, 2026 at 2 PM." in text


def test_summary_of_an_empty_call():
    transcript = [("agent", "Bonjour ?"), ("caller", "Allô ?"), ("caller", "…")]
    report = extract_report(transcript, language="fr", now=NOW)
    assert summary_text(transcript, report, "fr") == (
        "Appel sans information exploitable (2 intervention(s) de l'appelant).")
    assert summary_text(transcript, report, "en") == "Call with no usable information (2 caller turn(s))."


def test_summary_flags_special_category_without_repeating_it():
    transcript = [("caller", "Je suis diabétique, je voudrais un rendez-vous demain à 10h")]
    text = summary_text(transcript, extract_report(transcript, language="fr", now=NOW), "fr")
    assert "art. 9 RGPD" in text
    assert "diab" not in text
