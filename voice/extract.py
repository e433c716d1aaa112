"""Deterministic, local extraction of the call report from a transcript.

This is the last fallback after a call when the language model's JSON is invalid, and the understanding of the
scripted engine during a call. It uses rules only (no network, no model): what it does not recognise stays null.
Only the caller's lines are read for the slots; an agent line is used only to know which question a short bare
answer ("Jean Dupont.") replies to.

Matching is done on a *folded* copy of each line (lower case, accents removed) that has the same length as the
line, so a span found in the folded text slices the original text with its case and accents.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import phonenumbers

DEFAULT_PHONE_REGION = "FR"
DEFAULT_TZ = "Europe/Paris"
SLOTS = ("name", "phone", "email", "company", "need", "appointment")
REPORT_KEYS = (*SLOTS, "next_step", "confidence", "special_category", "special_category_terms")

REPORT_SCHEMA: dict = {
    "type": "object",
    "additionalProperties": False,
    "required": list(REPORT_KEYS),
    "properties": {
        "name": {"type": ["string", "null"], "description": "The caller's name as they said it."},
        "phone": {"type": ["string", "null"], "description": "The caller's phone number in E.164 (+33612345678)."},
        "email": {"type": ["string", "null"], "description": "The caller's e-mail address."},
        "company": {"type": ["string", "null"], "description": "The caller's company or organisation."},
        "need": {"type": ["string", "null"], "description": "A short phrase of what the caller wants."},
        "appointment": {"type": ["string", "null"],
                        "description": "The agreed appointment, ISO 8601 date-time with UTC offset."},
        "next_step": {"type": ["string", "null"], "description": "What the business should do next."},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1,
                       "description": "How sure the report is, from 0 to 1."},
        "special_category": {"type": "boolean",
                             "description": "Whether the caller mentioned GDPR Art. 9 special-category data."},
        "special_category_terms": {"type": "array", "items": {"type": "string"},
                                   "description": "The special-category keywords found in the caller's lines."},
    },
}

Turn = tuple[str, str]


# --- text helpers --------------------------------------------------------------------------------------------------

_SPACES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "\u00a0": " ", "\u202f": " ", "\t": " "})


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    # one character in, one out: keeps folded spans aligned with the original text
    return unicodedata.normalize("NFKD", char.lower())[:1] or char


def fold(text: str) -> str:
    """Return ``text`` in lower case without accents, with straight apostrophes, character for character."""
    return "".join(_fold_char(char) for char in text.translate(_SPACES))


def language_key(language: str) -> str:
    """Return ``"fr"`` for any French language tag and ``"en"`` otherwise."""
    return "fr" if (language or "").lower().startswith("fr") else "en"


@dataclass(frozen=True, slots=True)
class _Line:
    text: str  # apostrophes and spaces normalised; case and accents kept
    folded: str  # same length as ``text``

    @classmethod
    def of(cls, text: str) -> _Line:
        clean = (text or "").translate(_SPACES)
        return cls(clean, fold(clean))


def _is_caller(speaker: str) -> bool:
    return speaker.strip().lower() == "caller"


def _caller_lines(transcript: Sequence[Turn]) -> list[_Line]:
    return [_Line.of(text) for speaker, text in transcript if _is_caller(speaker) and text and text.strip()]


def _words_after(text: str, pos: int, word: re.Pattern) -> Iterator[tuple[str, int]]:
    """Yield the words that follow ``pos`` separated by spaces only, with their start offsets."""
    while match := word.match(text, pos):
        yield match.group(1), match.start(1)
        pos = match.end()


def _capitalise(word: str) -> str:
    # only all-lower-case words are fixed ("jean" -> "Jean"); "McDonald" or "ACME" are kept as said
    if not word.islower():
        return word
    return re.sub(r"(^|[-'])(\w)", lambda m: m.group(1) + m.group(2).upper(), word)


# --- number words --------------------------------------------------------------------------------------------------

_FR_UNITS = {"zero": 0, "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6, "sept": 7,
             "huit": 8, "neuf": 9, "dix": 10, "onze": 11, "douze": 12, "treize": 13, "quatorze": 14, "quinze": 15,
             "seize": 16}
_FR_TENS = {"vingt": 20, "vingts": 20, "trente": 30, "quarante": 40, "cinquante": 50, "soixante": 60,
            "septante": 70, "huitante": 80, "octante": 80, "nonante": 90}
_EN_UNITS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
             "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
             "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}
_EN_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
            "ninety": 90}
_REPEATS = {"double": 2, "triple": 3}
_NUMBER_TABLES = {"fr": (_FR_UNITS, _FR_TENS, ("et",)), "en": (_EN_UNITS, _EN_TENS, tuple(_REPEATS))}


def _alternation(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


@lru_cache(maxsize=2)
def _number_run(lang: str) -> re.Pattern:
    units, tens, joiners = _NUMBER_TABLES[lang]
    first = _alternation([*units, *tens, *(j for j in joiners if j in _REPEATS)])
    inner = _alternation([*units, *tens, *joiners])
    return re.compile(rf"(?<![a-z'])(?:{first})(?:[\s-]+(?:{inner}))*(?![a-z])")


def _read_tens(value: int, words: list[str], j: int, units: dict) -> tuple[str, int]:
    if j + 1 < len(words) and words[j] == "et" and units.get(words[j + 1]) in (1, 11):
        j += 1
    if j < len(words) and words[j] in units:
        unit = units[words[j]]
        if value in (60, 80) and words[j] == "dix" and j + 1 < len(words) and units.get(words[j + 1]) in (7, 8, 9):
            return str(value + 10 + units[words[j + 1]]), j + 2
        if 1 <= unit <= 9 or (value in (60, 80) and 10 <= unit <= 16):
            return str(value + unit), j + 1
    return str(value), j


def _read_number(words: list[str], i: int, units: dict, tens: dict) -> tuple[str, int] | None:
    """Read one spoken number below 100 at ``words[i]``; return its digits and the next index."""
    word, after = words[i], words[i + 1] if i + 1 < len(words) else ""
    if word in _REPEATS and after in units:
        return str(units[after]) * _REPEATS[word], i + 2
    if word == "quatre" and after in ("vingt", "vingts"):
        return _read_tens(80, words, i + 2, units)
    if word in tens:
        return _read_tens(tens[word], words, i + 1, units)
    if word == "dix" and units.get(after) in (7, 8, 9):
        return str(10 + units[after]), i + 2
    if word in units:
        return str(units[word]), i + 1
    return None


def digitise(folded: str, language: str) -> str:
    """Replace spoken numbers below 100 by digits ("zero six douze" -> "0 6 12") in folded text."""
    units, tens, _ = _NUMBER_TABLES[language_key(language)]

    def replace(match: re.Match) -> str:
        words, out, i = re.split(r"[\s-]+", match.group(0)), [], 0
        while i < len(words):
            read = _read_number(words, i, units, tens)
            if read is None:
                out.append(words[i])
                i += 1
            else:
                out.append(read[0])
                i = read[1]
        return " ".join(out)

    text = _number_run(language_key(language)).sub(replace, folded)
    return re.sub(r"(?<![a-z])plus\s+(?=\d)", "+", text)


# --- name ----------------------------------------------------------------------------------------------------------

_CIVILITY = r"(?:(?:monsieur|madame|mademoiselle|mme|mlle|mr|mrs|ms|miss|dr|docteur|doctor|m)\.?\s+)?"
_NAME_SAID = re.compile(r"(?<![a-z])(?:je m'appelle|je me nomme|mon nom,? (?:est|c'est)|my name is|my name's|"
                        r"name's|i am called|i'm called)\s+" + _CIVILITY)
# these also introduce ordinary talk ("c'est pour", "I'm calling"), so the words after them must be capitalised
_NAME_INTRODUCED = re.compile(r"(?<![a-z])(?:c'est|ici|je suis|this is|i am|i'm)\s+" + _CIVILITY)
_NAME_WORD = re.compile(r"\s*([^\W\d_]+(?:['-][^\W\d_]+)*)")
_NAME_STOP = frozenset(
    "de du des la le les et chez pour avec au aux a en sur dans je j moi mon ma mes qui que ici oui non bonjour "
    "from and of at with for to in on the a an i my me who here calling speaking yes no hello hi please merci "
    "societe entreprise company madame monsieur mademoiselle sir madam there".split())
_CALENDAR_WORDS = frozenset(
    "lundi mardi mercredi jeudi vendredi samedi dimanche monday tuesday wednesday thursday friday saturday sunday "
    "demain tomorrow today janvier fevrier mars avril mai juin juillet aout septembre octobre novembre decembre "
    "january february march april june july august september october november december".split())


def _name_at(line: _Line, pos: int, *, capitalised: bool) -> str | None:
    words = []
    for word, _start in _words_after(line.text, pos, _NAME_WORD):
        key = fold(word)
        possessive = key.endswith("'s")  # "this is Monday's order", "it's John's phone": not an introduction
        if key in _NAME_STOP or key in _CALENDAR_WORDS or possessive or (capitalised and not word[0].isupper()):
            break
        words.append(_capitalise(word))
        if len(words) == 3:
            break
    return " ".join(words) or None


def _said_names(lines: Sequence[_Line], pattern: re.Pattern, *, capitalised: bool) -> list[str]:
    found = (_name_at(line, m.end(), capitalised=capitalised) for line in lines for m in pattern.finditer(line.folded))
    return [name for name in found if name]


def _extract_name(lines: Sequence[_Line], answers: Sequence[_Line]) -> str | None:
    """Return the last "my name is" name, else the first "this is" name, else a bare answer to a name question."""
    said = _said_names(lines, _NAME_SAID, capitalised=False)
    if said:
        return said[-1]
    introduced = _said_names(lines, _NAME_INTRODUCED, capitalised=True)
    if introduced:
        return introduced[0]
    return next(filter(None, map(_bare_name, answers)), None)


# --- company -------------------------------------------------------------------------------------------------------

_COMPANY_SAID = re.compile(
    r"(?<![a-z])(?:(?:de |pour |a )?(?:la societe|l'entreprise|la boite|l'agence|le cabinet|le groupe|la start-?up)|"
    r"je travaille (?:chez|pour)|je bosse (?:chez|pour)|de chez|je suis chez|je represente|"
    r"(?:ma|notre) (?:societe|entreprise|boite) (?:s'appelle|c'est|est)|"
    r"i work (?:for|at)|i'm with|i am with|(?:my|our) company(?: is| is called|'s| called)|"
    r"the company(?: is)? called|on behalf of)\s+")
# "from" often precedes a place or a date, so only capitalised words after it count
_COMPANY_FROM = re.compile(r"(?<![a-z])from\s+")
_COMPANY_WORD = re.compile(r"\s*([^\W_][\w&]*(?:[.'&-][\w&]+)*)")
_COMPANY_STOP = frozenset(
    "et pour je j nous qui a au en de du depuis sur avec mais car parce and for i we who at in on but because with "
    "since to my mon ma".split())


def _company_at(line: _Line, pos: int, *, capitalised: bool, limit: int = 4) -> str | None:
    words = []
    for word, _start in _words_after(line.text, pos, _COMPANY_WORD):
        key = fold(word)
        if key in _COMPANY_STOP or key in _CALENDAR_WORDS or (capitalised and not word[0].isupper()
                                                               and not word[0].isdigit()):
            break
        words.append(_capitalise(word))
        if len(words) == limit:
            break
    return " ".join(words) or None


def _companies(lines: Sequence[_Line], pattern: re.Pattern, *, capitalised: bool) -> list[str]:
    found = (_company_at(line, match.end(), capitalised=capitalised)
             for line in lines for match in pattern.finditer(line.folded))
    return [company for company in found if company]


def _extract_company(lines: Sequence[_Line], answers: Sequence[_Line]) -> str | None:
    """Return the last company named ("de la société X", "I work for X"), else the first "from X", else a bare one."""
    said = _companies(lines, _COMPANY_SAID, capitalised=False)
    if said:
        return said[-1]
    after_from = _companies(lines, _COMPANY_FROM, capitalised=True)
    if after_from:
        return after_from[0]
    return next(filter(None, map(_bare_company, answers)), None)


# --- need ----------------------------------------------------------------------------------------------------------

_NEED_SAID = re.compile(
    r"(?<![a-z])(?:je voudrais|j'aimerais bien|j'aimerais|je souhaiterais|je souhaite|je veux|je desire|"
    r"il me faudrait|il me faut|j'ai besoin d(?:e|')|je cherche|je recherche|"
    r"(?:je vous |j')appelle (?:pour|au sujet d(?:e|u|es|')|concernant|a propos d(?:e|u|es|'))|"
    r"c'est pour|c'etait pour|ce serait pour|je suis interessee? par|"
    r"i'd like to|i'd like|i would like to|i would like|i want to|i want|i need to|i need|"
    r"i'm looking for|i am looking for|(?:i'm|i am) calling (?:about|regarding|for|to|because)|"
    r"(?:i'm|i am) interested in|it's about|it is about|it's regarding)(?:(?<=')\s*|\s+)")
_CLAUSE_END = re.compile(
    r"[.!?;,]|\s(?:et|and|mais|but|parce que|because)\s+(?:mon|ma|mes|my|je|j'|i|i'm|moi)(?![a-z])|"
    r"\s(?:mon|my) (?:numero|number|nom|name|e-?mail|adresse|address)(?![a-z])")
_POLITENESS = re.compile(r"\s*(?:s'il vous plait|s'il te plait|svp|please|merci)\s*$")


def _clause(line: _Line, pos: int, *, max_words: int = 12) -> str | None:
    end = _CLAUSE_END.search(line.folded, pos)
    stop = end.start() if end else len(line.text)
    polite = _POLITENESS.search(line.folded, pos, stop)
    if polite:
        stop = polite.start()
    words = line.text[pos:stop].split()[:max_words]
    return " ".join(words) or None


def _extract_need(lines: Sequence[_Line], answers: Sequence[_Line]) -> str | None:
    """Return the first request the caller states ("je voudrais ...", "I need ..."), else a bare answer."""
    for line in lines:
        for match in _NEED_SAID.finditer(line.folded):
            need = _clause(line, match.end())
            if need:
                return need
    return next(filter(None, map(_bare_need, answers)), None)


# --- bare answers to the agent's questions -------------------------------------------------------------------------

_FILLERS = re.compile(
    r"(?:\s*(?:oui|yes|yeah|yep|euh|heu|hum|um|uh|alors|donc|ben|bah|well|so|ok|okay|d'accord|bien sur|sure|"
    r"of course|bonjour|allo|hello there|hi there|hello|hi|c'est|it's|it is|je suis|i'm|i am|moi c'est|"
    r"ce serait|ca serait|"
    r"la societe|l'entreprise|ma societe|the company|my company|chez)(?![a-z'])[\s,.!]*)+")
_NO_ANSWER = re.compile(r"^(?:non|no|aucune?|rien|nothing|none|pas de .*|no .*|(?:je suis )?(?:un )?particulier|"
                        r"individual|private individual|just me|moi-meme|myself|je ne sais pas|"
                        r"i don't know)[\s.!]*$")


def _answer_start(line: _Line) -> int:
    match = _FILLERS.match(line.folded)
    return match.end() if match else 0


def _first_sentence(line: _Line, start: int) -> str:
    return re.split(r"[.!?;]\s", line.folded[start:] + " ", maxsplit=1)[0].strip(" .!?;")


def _bare_name(line: _Line) -> str | None:
    start = _answer_start(line)
    rest = _first_sentence(line, start)
    if re.search(r"\d", rest) or len(rest.split()) > 4 or _NO_ANSWER.match(rest):
        return None
    return _name_at(line, start, capitalised=False)


def _bare_company(line: _Line) -> str | None:
    start = _answer_start(line)
    rest = _first_sentence(line, start)
    if not rest or len(rest.split()) > 6 or _NO_ANSWER.match(rest):
        return None
    return _company_at(line, start, capitalised=False, limit=5)


def _bare_need(line: _Line) -> str | None:
    start = _answer_start(line)
    rest = line.folded[start:].strip()
    if not rest or _NO_ANSWER.match(rest):
        return None
    need = _clause(line, start, max_words=15)
    # the capital is the start of the caller's sentence, not part of the request ("Un devis" -> "un devis")
    first = need.split()[0] if need else ""
    sentence_start = first != "I" and (len(first) == 1 or first[1:].islower())
    return need[0].lower() + need[1:] if sentence_start else need


_QUESTION_HINTS = (
    ("company", re.compile(r"(?<![a-z])(?:societe|entreprise|company|business|organisation|organization|"
                           r"employeur|employer)")),
    ("name", re.compile(r"(?<![a-z])(?:nom|name|qui est a l'appareil|who am i speaking|vous appelez-vous)"
                        r"(?![a-z])")),
    ("need", re.compile(r"(?<![a-z])(?:besoin|aider|raison|objet|motif|help|need|reason|looking for|"
                        r"que puis-je faire|what can i do)(?![a-z])")),
)


def _asked_slot(agent_text: str, questions: Mapping[str, str]) -> str | None:
    """Return the free-text slot the agent's line asks for, from the script's questions or from keywords."""
    folded = fold(agent_text)
    asked = [(folded.rfind(fold(q).strip()), slot) for slot, q in questions.items() if q and fold(q).strip() in folded]
    if asked:
        return max(asked)[1]
    last_question = re.findall(r"[^.!?]*\?", folded)
    if not last_question:
        return None
    return next((slot for slot, hint in _QUESTION_HINTS if hint.search(last_question[-1])), None)


def _answers(transcript: Sequence[Turn], questions: Mapping[str, str]) -> dict[str, list[_Line]]:
    """Group the caller lines that directly follow an agent question by the slot that question asks for."""
    answers: dict[str, list[_Line]] = {}
    asked = None
    for speaker, text in transcript:
        if not _is_caller(speaker):
            asked = _asked_slot(text or "", questions)
        elif asked and text and text.strip():
            answers.setdefault(asked, []).append(_Line.of(text))
            asked = None
    return answers


# --- phone ---------------------------------------------------------------------------------------------------------

_DIGIT_RUN = re.compile(r"\+?\d(?:[\d\s.,()-]*\d)?")
_MIN_DIGITS, _MAX_DIGITS = 6, 15


def _phone_candidates(run: str) -> Iterator[str]:
    groups = re.findall(r"\+?\d+", run)
    for start in range(len(groups)):
        for end in range(len(groups), start, -1):
            candidate = "".join(groups[start:end])
            if _MIN_DIGITS <= len(candidate.lstrip("+")) <= _MAX_DIGITS and "+" not in candidate[1:]:
                yield candidate


def _valid_phone(candidate: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return None
    if not (phonenumbers.is_possible_number(number) and phonenumbers.is_valid_number(number)):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _phone_in(line: _Line, lang: str, region: str) -> str | None:
    # a run of digit groups may hold more than the number ("a 10, 06 12 ..."): the longest valid part wins
    best = None
    for run in _DIGIT_RUN.findall(digitise(line.folded, lang)):
        for candidate in _phone_candidates(run):
            phone = _valid_phone(candidate, region)
            if phone and (best is None or len(candidate) > len(best[0])):
                best = (candidate, phone)
    return best[1] if best else None


def _extract_phone(lines: Sequence[_Line], lang: str, region: str) -> str | None:
    """Return the last valid phone number the caller gave, in E.164."""
    found = [phone for line in lines if (phone := _phone_in(line, lang, region))]
    return found[-1] if found else None


# --- e-mail --------------------------------------------------------------------------------------------------------

_LOCAL_SEP = r"(?:[._+-]|\s+(?:point|dot|tiret bas|underscore|tiret|dash|hyphen)\s+)"
_DOMAIN_SEP = r"(?:\.|\s+(?:point|dot)\s+)"
_AT = r"(?:\s*@\s*|\s+(?:arobase|arrobase|at)\s+)"
_EMAIL = re.compile(rf"(?<![a-z0-9._+-])([a-z0-9]+(?:{_LOCAL_SEP}[a-z0-9]+)*){_AT}"
                    rf"([a-z0-9]+(?:-[a-z0-9]+)*(?:{_DOMAIN_SEP}[a-z0-9]+(?:-[a-z0-9]+)*)+)(?![a-z0-9])")
_SPOKEN_SYMBOLS = {"point": ".", "dot": ".", "tiret bas": "_", "underscore": "_", "tiret": "-", "dash": "-",
                   "hyphen": "-"}
_SPOKEN_SYMBOL = re.compile(r"\s*(?<![a-z])(" + _alternation(_SPOKEN_SYMBOLS) + r")(?![a-z])\s*")
_VALID_EMAIL = re.compile(r"[a-z0-9](?:[a-z0-9._+-]*[a-z0-9])?@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}")


def _unspeak(part: str) -> str:
    return re.sub(r"\s+", "", _SPOKEN_SYMBOL.sub(lambda m: _SPOKEN_SYMBOLS[m.group(1)], part))


def _emails_in(line: _Line) -> Iterator[str]:
    for match in _EMAIL.finditer(line.folded):
        email = f"{_unspeak(match.group(1))}@{_unspeak(match.group(2))}"
        if _VALID_EMAIL.fullmatch(email) and ".." not in email:
            yield email


def _extract_email(lines: Sequence[_Line]) -> str | None:
    """Return the last e-mail address the caller gave, written or spelt out ("jean point dupont arobase ...")."""
    found = [email for line in lines for email in _emails_in(line)]
    return found[-1] if found else None


# --- appointment ---------------------------------------------------------------------------------------------------

_MONTHS = {"janvier": 1, "janv": 1, "january": 1, "jan": 1, "fevrier": 2, "fevr": 2, "fev": 2, "february": 2,
           "feb": 2, "mars": 3, "march": 3, "mar": 3, "avril": 4, "avr": 4, "april": 4, "apr": 4, "mai": 5,
           "may": 5, "juin": 6, "june": 6, "jun": 6, "juillet": 7, "juil": 7, "july": 7, "jul": 7, "aout": 8,
           "august": 8, "aug": 8, "septembre": 9, "september": 9, "sept": 9, "sep": 9, "octobre": 10,
           "october": 10, "oct": 10, "novembre": 11, "november": 11, "nov": 11, "decembre": 12, "december": 12,
           "dec": 12}
_WEEKDAYS = {"lundi": 0, "monday": 0, "mardi": 1, "tuesday": 1, "mercredi": 2, "wednesday": 2, "jeudi": 3,
             "thursday": 3, "vendredi": 4, "friday": 4, "samedi": 5, "saturday": 5, "dimanche": 6, "sunday": 6}
_MONTH = _alternation(_MONTHS)
_ISO_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")
_NUMERIC_DATE = re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})(?:/(\d{4}|\d{2}))?(?![\d/])")
_DAY_MONTH = re.compile(rf"(?<![\d.])(\d{{1,2}}|premier)(?:er|re|st|nd|rd|th|e)?\s+(?:of\s+|de\s+)?({_MONTH})"
                        rf"(?![a-z])\.?(?:\s+(\d{{4}}))?")
_MONTH_DAY = re.compile(rf"(?<![a-z])({_MONTH})\.?\s+(?:the\s+)?(\d{{1,2}})(?:st|nd|rd|th)?(?![\d:h])"
                        rf"(?:,?\s+(\d{{4}}))?")
_RELATIVE_DAYS = ((re.compile(r"(?<![a-z])(?:apres[- ]demain|(?:the )?day after tomorrow)(?![a-z])"), 2),
                  (re.compile(r"(?<![a-z])(?:demain|tomorrow)(?![a-z])"), 1),
                  (re.compile(r"(?<![a-z])(?:aujourd'hui|today|ce jour)(?![a-z])"), 0))
_WEEKDAY = re.compile(rf"(?<![a-z])({_alternation(_WEEKDAYS)})(?![a-z])")

_DAYPART = (r"(?:\s+(du matin|de l'apres[- ]midi|de l'aprem|du soir|in the morning|in the afternoon|"
            r"in the evening|at night))?")
_TIME_AMPM = re.compile(r"(?<![\d:])(\d{1,2})(?:[:.h](\d{2}))?\s*([ap])\.?\s?m(?![a-z])\.?")
_TIME_H = re.compile(r"(?<![\d:])(\d{1,2})\s*(?:h|heures?)(?![a-z])(?:\s*(\d{2})(?!\d))?"
                     r"(?:\s+(et demie?|et quart|moins le quart|moins quart))?" + _DAYPART)
_TIME_COLON = re.compile(r"(?<![\d:])(\d{1,2}):(\d{2})(?![\d:])" + _DAYPART)
_TIME_OCLOCK = re.compile(r"(?<![\d:])(\d{1,2})\s*o'?\s?clock(?![a-z])" + _DAYPART)
_TIME_NOON = re.compile(r"(?<![a-z])(midi|noon|midday)(?:\s+(et demie?|et quart|thirty|30))?(?![a-z])")
_TIME_PAST = re.compile(r"(?<![a-z])(half|quarter)\s+(past|to)\s+(\d{1,2})(?!\d)" + _DAYPART)
# a bare "at 10" is only read once a day is known, and never when more digit groups follow (a phone number)
_TIME_BARE = re.compile(r"(?<![a-z])(?:a|at|vers|around|for)\s+(\d{1,2})(?:[\s:.](\d{2}))?(?![\d:/])(?!\s*\d)"
                        r"(?!\s*(?:minutes?|mins?|jours?|days?|semaines?|weeks?|mois|months?|ans|years?|"
                        r"personnes?|people|euros?|%))")
_DURATION_BEFORE = re.compile(r"(?<![a-z])(?:pendant|depuis|dans|durant|attendu|il y a|en)\s+$")
_MORNING = ("du matin", "in the morning")
_AFTERNOON = ("de l'apres-midi", "de l'apres midi", "de l'aprem", "du soir", "in the afternoon", "in the evening",
              "at night")
_MINUTES_WORDS = {"et demi": 30, "et demie": 30, "et quart": 15, "moins le quart": -15, "moins quart": -15,
                  "thirty": 30, "30": 30}


def _resolve_day(day: int, month: int, year: int | None, today: date) -> date | None:
    try:
        when = date(year or today.year, month, day)
    except ValueError:
        return None
    if year is None and when < today:
        when = when.replace(year=when.year + 1)
    return when


def _full_year(text: str | None) -> int | None:
    if not text:
        return None
    return int(text) + 2000 if len(text) == 2 else int(text)


def _date_in(text: str, today: date) -> date | None:
    """Return the day a folded, digitised line names, or None; explicit dates win over relative words."""
    if match := _ISO_DATE.search(text):
        return _resolve_day(int(match[3]), int(match[2]), int(match[1]), today)
    if match := _NUMERIC_DATE.search(text):
        return _resolve_day(int(match[1]), int(match[2]), _full_year(match[3]), today)
    if match := _DAY_MONTH.search(text):
        day = 1 if match[1] == "premier" else int(match[1])
        return _resolve_day(day, _MONTHS[match[2]], _full_year(match[3]), today)
    if match := _MONTH_DAY.search(text):
        return _resolve_day(int(match[2]), _MONTHS[match[1]], _full_year(match[3]), today)
    for pattern, days in _RELATIVE_DAYS:
        if pattern.search(text):
            return today + timedelta(days=days)
    if match := _WEEKDAY.search(text):
        # a weekday is always ahead: "lundi" said on a Monday is the next one, as is "mardi prochain"
        ahead = (_WEEKDAYS[match[1]] - today.weekday()) % 7 or 7
        return today + timedelta(days=ahead)
    return None


def _clock(hour: int, minute: int, daypart: str | None, *, written_24h: bool = False) -> time | None:
    if daypart in _AFTERNOON and hour < 12:
        hour += 12
    elif daypart is None and not written_24h and 1 <= hour <= 7:
        # business hours: "à 3 heures" or "at 2" without a part of the day means the afternoon
        hour += 12
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return time(hour, minute)


def _shifted(hour: int, minutes: int) -> tuple[int, int]:
    total = hour * 60 + minutes
    return (total // 60) % 24, total % 60


def _time_of_day(pattern: re.Pattern, text: str) -> re.Match | None:
    """Return the first match of ``pattern`` that is not a duration ("attendu une heure", "dans 2 heures")."""
    return next((m for m in pattern.finditer(text) if not _DURATION_BEFORE.search(text, 0, m.start())), None)


def _time_in(text: str, *, allow_bare: bool) -> time | None:
    """Return the time of day a folded, digitised line names, or None."""
    if match := _TIME_AMPM.search(text):
        hour, minute = int(match[1]) % 12, int(match[2] or 0)
        return _clock(hour + (12 if match[3] == "p" else 0), minute, None, written_24h=True)
    if match := _time_of_day(_TIME_H, text):
        hour, minute = _shifted(int(match[1]), int(match[2] or 0) + _MINUTES_WORDS.get(match[3] or "", 0))
        return _clock(hour, minute, match[4], written_24h=match[1].startswith("0"))
    if match := _TIME_COLON.search(text):
        return _clock(int(match[1]), int(match[2]), match[3], written_24h=match[1].startswith("0"))
    if match := _TIME_OCLOCK.search(text):
        return _clock(int(match[1]), 0, match[2])
    if match := _TIME_NOON.search(text):
        return time(12, _MINUTES_WORDS.get(match[2] or "", 0))
    if match := _TIME_PAST.search(text):
        offset = (15 if match[1] == "quarter" else 30) * (1 if match[2] == "past" else -1)
        hour, minute = _shifted(int(match[3]), offset)
        return _clock(hour, minute, match[4])
    if allow_bare and (match := _TIME_BARE.search(text)):
        return _clock(int(match[1]), int(match[2] or 0), None)
    return None


def _local_now(now: datetime, tz: str) -> datetime:
    zone = ZoneInfo(tz)
    return now.replace(tzinfo=zone) if now.tzinfo is None else now.astimezone(zone)


def _localise(day: date, clock: time, tz: str) -> datetime:
    zone = ZoneInfo(tz)
    local = datetime.combine(day, clock, tzinfo=zone)
    # a time skipped by the spring change (02:30) is moved past the gap; a repeated one keeps its first offset
    return local.astimezone(UTC).astimezone(zone)


def _extract_appointment(lines: Sequence[_Line], lang: str, *, now: datetime, tz: str) -> str | None:
    """Return the day and time the caller last named (possibly over two lines), as ISO 8601 with offset."""
    today = _local_now(now, tz).date()
    day, clock = None, None
    for line in lines:
        text = digitise(line.folded, lang)
        day = _date_in(text, today) or day
        clock = _time_in(text, allow_bare=day is not None) or clock
    if day is None or clock is None:
        return None
    return _localise(day, clock, tz).isoformat(timespec="seconds")


# --- special categories (GDPR Art. 9) ------------------------------------------------------------------------------

SPECIAL_CATEGORY_TERMS: dict[str, tuple[str, ...]] = {
    "health": (
        "diabete", "diabetique", "diabetes", "diabetic", "cancer", "tumeur", "tumor", "tumour", "vih", "hiv", "sida",
        "seropositif", "seropositive", "depression", "depressif", "depressive", "depressed", "je suis enceinte",
        "grossesse", "pregnant", "pregnancy", "handicap", "handicape", "handicapee", "disabled", "disability",
        "asthme", "asthmatique", "asthma", "asthmatic", "epilepsie", "epileptique", "epilepsy", "epileptic",
        "chimiotherapie", "chimio", "chemotherapy", "chemo", "alzheimer", "parkinson", "insuline", "insulin",
        "dialyse", "dialysis", "maladie chronique", "chronic illness", "chronic disease", "malade",
        "hospitalise", "hospitalisee", "hospitalized", "hospitalised", "psychiatre", "psychiatrist", "autisme",
        "autiste", "autism", "autistic", "sclerose en plaques", "multiple sclerosis", "sante mentale",
        "mental health", "covid", "traitement medical", "medical treatment", "dossier medical", "medical record",
    ),
    "religion": (
        "religion", "religieux", "religieuse", "religious", "musulman", "musulmane", "muslim", "islam", "chretien",
        "chretienne", "christian", "catholique", "catholic", "protestant", "protestante", "juif", "juive",
        "jewish", "judaisme", "judaism", "bouddhiste", "buddhist", "hindou", "hindoue", "hindu", "athee",
        "atheist", "mosquee", "mosque", "synagogue", "ramadan", "halal", "casher", "kasher", "kosher", "sikh",
    ),
    "political_opinion": (
        "parti politique", "political party", "opinion politique", "opinions politiques", "political views",
        "militant politique", "activist", "socialiste", "socialist", "communiste", "communist", "ecologiste",
        "rassemblement national", "front national", "france insoumise", "republican", "democrat",
        "labour party", "conservative party", "extreme droite", "extreme gauche", "far right", "far left",
        "je vote", "j'ai vote pour", "i vote", "i voted for",
    ),
    "trade_union": (
        "syndicat", "syndique", "syndiquee", "syndicaliste", "delegue syndical", "cgt", "cfdt", "force ouvriere",
        "union member", "trade union", "labor union", "labour union", "unionized", "unionised", "shop steward",
    ),
    "sexual_orientation": (
        "homosexuel", "homosexuelle", "homosexual", "gay", "lesbienne", "lesbian", "bisexuel", "bisexuelle",
        "bisexual", "transgenre", "transgender", "lgbt", "lgbtq", "queer", "orientation sexuelle",
        "sexual orientation", "vie sexuelle", "sex life",
    ),
    "biometric_genetic": (
        "adn", "dna", "genetique", "genetic", "test genetique", "genetic test", "empreinte digitale",
        "empreintes digitales", "fingerprint", "reconnaissance faciale", "facial recognition", "biometrie",
        "biometrique", "biometric", "biometrics",
    ),
    "ethnic_origin": (
        "origine ethnique", "ethnie", "ethnique", "ethnic", "ethnicity", "origine raciale", "racial", "raciale",
    ),
}


@lru_cache(maxsize=1)
def _special_patterns() -> tuple[tuple[str, re.Pattern], ...]:
    terms = dict.fromkeys(term for group in SPECIAL_CATEGORY_TERMS.values() for term in group)
    return tuple((term, re.compile(r"(?<![a-z0-9])" + r"[\s-]+".join(map(re.escape, term.split()))
                                   + r"s?(?![a-z0-9])")) for term in terms)


def detect_special_category(texts: Iterable[str]) -> list[str]:
    """Return the special-category keywords found in ``texts``, in order of first mention, without repeats."""
    folded = " \n ".join(fold(text) for text in texts if text)
    hits = [(match.start(), term) for term, pattern in _special_patterns() if (match := pattern.search(folded))]
    return [term for _pos, term in sorted(hits)]


# --- refusals and objections --------------------------------------------------------------------------------------

OBJECTED, REFUSED, DECLINED = "objected", "refused", "declined"
# asking not to be called again: the number goes on the do-not-call list
_OBJECTION = (
    r"ne (?:m'appelez|me rappelez|me telephonez) plus", r"ne plus (?:m'appeler|me rappeler|me telephoner)",
    r"(?:arretez|cessez|arrete|arreter) de m'appeler", r"(?:arretez|cessez) de me (?:rappeler|telephoner|harceler)",
    r"(?:rayez|retirez|supprimez|enlevez|effacez)[- ]moi",
    r"(?:rayez|retirez|supprimez|enlevez|effacez) mon (?:numero|nom|contact)",
    r"je ne (?:veux|souhaite) plus (?:etre (?:appelee?|contactee?|rappelee?|demarchee?)|que vous m'appeliez|"
    r"recevoir (?:vos|d'|de vos )appels?)",
    r"bloctel", r"liste d'opposition",
    r"stop (?:calling|ringing|phoning) me", r"don'?t (?:ever )?call (?:me|this number) (?:again|anymore|any more)",
    r"do not (?:ever )?call (?:me|this number) (?:again|anymore|any more)", r"never call (?:me|this number) again",
    r"(?:remove|take|delete) me (?:off|from)", r"(?:remove|delete|take off) my (?:number|name|details)",
    r"do(?:-| )not(?:-| )call list", r"lose my number",
)
# saying no to what the call offers
_REFUSAL = (
    r"pas (?:du tout |vraiment )?interessee?s?", r"(?:ca|cela) ne (?:m'|nous )interesse(?:nt)? pas",
    r"(?:ca|cela) (?:m'|nous )interesse pas", r"ne m'interesse pas", r"aucun interet", r"je refuse",
    r"(?:not|never) (?:really )?interested", r"(?:we're|we are|i'm|i am) not buying", r"i refuse",
)
# a polite "no thanks", which also closes calls that went well ("anything else?" - "no thanks, goodbye")
_DECLINE = (r"non,? merci", r"no,? thanks?", r"no,? thank you")


@lru_cache(maxsize=3)
def _phrases(kind: str) -> re.Pattern:
    phrases = {OBJECTED: _OBJECTION, REFUSED: _REFUSAL, DECLINED: _DECLINE}[kind]
    return re.compile(r"(?<![a-z])(?:" + "|".join(phrases) + r")(?![a-z])")


def detect_refusal(texts: Iterable[str]) -> str:
    """Return how the caller said no in ``texts`` (their lines): ``OBJECTED`` (do not call me again),
    ``REFUSED`` (not interested), ``DECLINED`` (a bare "no thanks", which only counts when nothing else came of
    the call), or ``""``. French and English, by fixed phrases; a "no" without one of them is not read as one."""
    folded = " \n ".join(fold(text) for text in texts if text)
    return next((kind for kind in (OBJECTED, REFUSED, DECLINED) if _phrases(kind).search(folded)), "")


# --- the report ----------------------------------------------------------------------------------------------------

_NEXT_STEP = {
    "fr": {"appointment": "Confirmer le rendez-vous du {when} avec {who}.",
           "phone": "Rappeler {who} au {phone}.",
           "email": "Répondre à {who} par e-mail ({email}).",
           "caller": "l'appelant"},
    "en": {"appointment": "Confirm the appointment on {when} with {who}.",
           "phone": "Call {who} back on {phone}.",
           "email": "Reply to {who} by email ({email}).",
           "caller": "the caller"},
}


def _next_step(report: Mapping, lang: str) -> str | None:
    wording = _NEXT_STEP[lang]
    who = report["name"] or wording["caller"]
    if report["appointment"]:
        return wording["appointment"].format(when=format_appointment(report["appointment"], lang), who=who)
    if report["phone"]:
        return wording["phone"].format(who=who, phone=format_phone(report["phone"]))
    if report["email"]:
        return wording["email"].format(who=who, email=report["email"])
    return None


def _confidence(report: Mapping, lines: Sequence[_Line]) -> float:
    # rules are sure of what they match but miss much: the score tracks how much was found, capped at 0.8
    if not lines:
        return 0.0
    filled = sum(report[slot] is not None for slot in SLOTS)
    return round(0.2 + 0.6 * filled / len(SLOTS), 2)


def extract_report(transcript: Sequence[Turn], *, language: str, now: datetime, tz: str = DEFAULT_TZ,
                   region: str = DEFAULT_PHONE_REGION, questions: Mapping[str, str] | None = None) -> dict:
    """Return the call report (matching ``REPORT_SCHEMA``) found in the caller's lines of ``transcript``.

    ``transcript`` is a list of ``(speaker, text)`` with speaker ``"caller"`` or ``"agent"``. Relative days are
    read from ``now`` in ``tz``; phone numbers without a country code are read in ``region``. ``questions`` maps
    a slot to the exact question the agent asks for it, so a bare answer to it ("Jean Dupont.") fills that slot.
    """
    lang = language_key(language)
    lines = _caller_lines(transcript)
    answers = _answers(transcript, questions or {})
    report = {
        "name": _extract_name(lines, answers.get("name", ())),
        "phone": _extract_phone(lines, lang, region),
        "email": _extract_email(lines),
        "company": _extract_company(lines, answers.get("company", ())),
        "need": _extract_need(lines, answers.get("need", ())),
        "appointment": _extract_appointment(lines, lang, now=now, tz=tz),
    }
    terms = detect_special_category(line.text for line in lines)
    report["next_step"] = _next_step(report, lang)
    report["confidence"] = _confidence(report, lines)
    report["special_category"] = bool(terms)
    report["special_category_terms"] = terms
    return report


# --- wording -------------------------------------------------------------------------------------------------------

_FR_WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_FR_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
              "novembre", "décembre")
_EN_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
              "November", "December")


def format_appointment(iso: str, language: str, *, with_year: bool = True) -> str:
    """Return an ISO 8601 date-time as it is said ("mardi 1er décembre 2026 à 14h30", "Tuesday, ... at 2:30 PM")."""
    when = datetime.fromisoformat(iso)
    if language_key(language) == "fr":
        day = f"{_FR_WEEKDAYS[when.weekday()]} {when.day}{'er' if when.day == 1 else ''} {_FR_MONTHS[when.month - 1]}"
        clock = f"{when.hour}h{when.minute:02d}" if when.minute else f"{when.hour}h"
        return f"{day}{f' {when.year}' if with_year else ''} à {clock}"
    hour = when.hour % 12 or 12
    clock = f"{hour}:{when.minute:02d}" if when.minute else f"{hour}"
    day = f"{_EN_WEEKDAYS[when.weekday()]}, {_EN_MONTHS[when.month - 1]} {when.day}"
    return f"{day}{f', {when.year}' if with_year else ''} at {clock} {'PM' if when.hour >= 12 else 'AM'}"


def format_phone(e164: str, region: str = DEFAULT_PHONE_REGION) -> str:
    """Return an E.164 number as it is read out: national format at home, international otherwise."""
    try:
        number = phonenumbers.parse(e164, region)
    except phonenumbers.NumberParseException:
        return e164
    home = phonenumbers.region_code_for_number(number) == region
    style = phonenumbers.PhoneNumberFormat.NATIONAL if home else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(number, style)


_SUMMARY = {
    "fr": {"called": "{who} a appelé.", "who": "Un correspondant", "company": "{name} ({company})",
           "need": "Demande : {value}.", "phone": "Téléphone : {value}.", "email": "E-mail : {value}.",
           "appointment": "Rendez-vous : {value}.", "next_step": "Prochaine étape : {value}",
           "special": "Attention : l'appelant a mentionné des données sensibles (art. 9 RGPD).",
           "empty": "Appel sans information exploitable ({turns} intervention(s) de l'appelant)."},
    "en": {"called": "{who} called.", "who": "Someone", "company": "{name} ({company})",
           "need": "Request: {value}.", "phone": "Phone: {value}.", "email": "Email: {value}.",
           "appointment": "Appointment: {value}.", "next_step": "Next step: {value}",
           "special": "Warning: the caller mentioned special-category data (GDPR Art. 9).",
           "empty": "Call with no usable information ({turns} caller turn(s))."},
}


def summary_text(transcript: Sequence[Turn], report: Mapping, language: str) -> str:
    """Return a short readable summary of the call built from ``report``."""
    wording = _SUMMARY[language_key(language)]
    if not any(report.get(slot) for slot in SLOTS):
        turns = sum(_is_caller(speaker) for speaker, _text in transcript)
        parts = [wording["empty"].format(turns=turns)]
    else:
        who = report.get("name") or wording["who"]
        if report.get("company"):
            who = wording["company"].format(name=who, company=report["company"])
        values = {"need": report.get("need"), "phone": report.get("phone") and format_phone(report["phone"]),
                  "email": report.get("email"),
                  "appointment": report.get("appointment") and format_appointment(report["appointment"], language),
                  # the next step of an appointment only repeats it
                  "next_step": None if report.get("appointment") else report.get("next_step")}
        parts = [wording["called"].format(who=who)]
        parts += [wording[key].format(value=value) for key, value in values.items() if value]
    if report.get("special_category"):
        parts.append(wording["special"])
    return " ".join(parts)
