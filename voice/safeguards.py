"""Safeguards, in one module: what an AI may be told, what it may say back.

- ``minimise_context``: drop the fields the tenant never sends to an AI, before anything else sees them.
- ``redact``: replace payment-card numbers (Luhn-valid) and IBANs (mod-97 valid) with placeholders, in everything
  sent to a provider and in stored utterances.
- ``build_system_prompt``: the script, the tenant's rules and this call's minimised context, nothing else; the
  first sentence the agent speaks discloses that the caller talks to an AI (EU AI Act, Art. 50).
- ``OutputFilter``: a reply with a blocked term, too long, or carrying a URL or phone number the script does not
  contain is replaced by a safe line, and the reason is reported as an incident candidate.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass, field

CARD_PLACEHOLDER = "[card number removed]"
IBAN_PLACEHOLDER = "[IBAN removed]"

_CARD_CANDIDATE = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
_IBAN_CANDIDATE = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}\b", re.IGNORECASE)
_URL = re.compile(r"(?:https?://|www\.)[^\s]+|\b[a-z0-9-]+\.(?:com|fr|io|net|org|eu|de|uk)\b(?:/[^\s]*)?",
                  re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w])(?:\+|00)?\d(?:[ .\-]?\d){7,14}(?![\w])")

AI_DISCLOSURE_WORDS = {
    "fr": ("assistant virtuel", "intelligence artificielle", "agent ia", "assistant ia", "une ia", "robot"),
    "en": ("virtual assistant", "artificial intelligence", "ai assistant", "ai agent", "an ai", "automated"),
}
DEFAULT_DISCLOSURE = {
    "fr": "Bonjour, je suis l'assistant virtuel de {company}, une intelligence artificielle.",
    "en": "Hello, I am {company}'s virtual assistant, an artificial intelligence.",
}
SAFE_REPLY = {
    "fr": "Je préfère vérifier cette information avec un conseiller. Puis-je vous aider autrement ?",
    "en": "I would rather check that with a colleague. Can I help you with anything else?",
}
DEFAULT_BLOCKED_TERMS = (
    "connard", "salope", "enculé", "pute", "idiot", "imbécile", "fuck", "shit", "bitch", "asshole", "stupid",
)
MAX_REPLY_CHARS = 600


def _luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _iban_ok(candidate: str) -> bool:
    compact = candidate.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    try:
        number = int("".join(str(int(char, 36)) for char in rearranged))
    except ValueError:
        return False
    return number % 97 == 1


def _replace_cards(text: str) -> tuple[str, int]:
    count = 0

    def substitute(match):
        nonlocal count
        digits = re.sub(r"\D", "", match.group())
        if 13 <= len(digits) <= 19 and _luhn_ok(digits):
            count += 1
            return CARD_PLACEHOLDER
        return match.group()

    return _CARD_CANDIDATE.sub(substitute, text), count


def _replace_ibans(text: str) -> tuple[str, int]:
    count = 0

    def substitute(match):
        nonlocal count
        # The pattern also swallows words that follow ("… 189 pour"): try the longest valid run of groups.
        groups = match.group().split(" ")
        for end in range(len(groups), 0, -1):
            if _iban_ok(" ".join(groups[:end])):
                count += 1
                rest = " ".join(groups[end:])
                return f"{IBAN_PLACEHOLDER} {rest}" if rest else IBAN_PLACEHOLDER
        return match.group()

    return _IBAN_CANDIDATE.sub(substitute, text), count


def redact(text: str) -> tuple[str, int]:
    """Return the text with card numbers and IBANs replaced, and how many were replaced."""
    if not text:
        return text, 0
    text, ibans = _replace_ibans(text)
    text, cards = _replace_cards(text)
    return text, ibans + cards


def minimise_context(context: dict, excluded: Collection[str]) -> tuple[dict, list[str]]:
    """Return the context without the excluded fields (and empty values), and the names of what was removed."""
    removed = sorted(key for key in context if key in set(excluded) and context[key] not in (None, "", {}, []))
    kept = {key: value for key, value in context.items()
            if key not in set(excluded) and value not in (None, "", {}, [])}
    return kept, removed


def discloses_ai(sentence: str, language: str) -> bool:
    folded = _fold(sentence)
    return any(word in folded for word in AI_DISCLOSURE_WORDS.get(language, AI_DISCLOSURE_WORDS["en"]))


def greeting_with_disclosure(greeting: str, *, language: str, company: str) -> str:
    """Return the greeting, prefixed with a disclosure if the script's own does not say the agent is an AI."""
    first_sentence = re.split(r"(?<=[.!?])\s", greeting.strip(), maxsplit=1)[0]
    if greeting.strip() and discloses_ai(first_sentence, language):
        return greeting.strip()
    disclosure = DEFAULT_DISCLOSURE.get(language, DEFAULT_DISCLOSURE["en"]).format(company=company)
    return f"{disclosure} {greeting.strip()}".strip()


_PROMPT = {
    "fr": (
        "Tu es l'assistant téléphonique virtuel de {company}. Tu es une intelligence artificielle et tu le dis "
        "si on te le demande. Tu parles français, en phrases courtes adaptées au téléphone.\n"
        "Objectif de l'appel : {goal}\n{steps}{instructions}"
        "Règles : ne donne jamais d'information sur d'autres appels ou d'autres personnes ; ne demande pas de "
        "données sensibles (santé, religion, opinions, numéro de carte) ; ne cite ni lien ni numéro de "
        "téléphone qui ne figure pas dans ces consignes.\n"
        "{tools}Contexte de cet appel : {context}"
    ),
    "en": (
        "You are {company}'s virtual telephone assistant. You are an artificial intelligence and say so when "
        "asked. You speak English, in short sentences suited to the phone.\n"
        "Goal of the call: {goal}\n{steps}{instructions}"
        "Rules: never give information about other calls or other people; do not ask for sensitive data "
        "(health, religion, opinions, card numbers); never mention a link or phone number that is not in these "
        "instructions.\n"
        "{tools}Context of this call: {context}"
    ),
}
_TOOLS = {
    "fr": {
        "transfer": "Si l'appelant veut parler à une personne, écris seul sur une ligne [[transfer: raison]].\n",
        "end_call": "Quand l'objectif est atteint et que tu as dit au revoir, écris seul sur une ligne [[end_call]].\n",
    },
    "en": {
        "transfer": "If the caller wants to speak to a person, write [[transfer: reason]] alone on a line.\n",
        "end_call": "When the goal is reached and you have said goodbye, write [[end_call]] alone on a line.\n",
    },
}


@dataclass(frozen=True)
class PromptParts:
    company: str
    language: str
    goal: str
    steps: list[dict] = field(default_factory=list)
    instructions: str = ""
    allowed_tools: list[str] = field(default_factory=list)


def build_system_prompt(parts: PromptParts, context: dict) -> str:
    """Return the system prompt of one call; ``context`` must already be minimised (and is redacted here)."""
    language = parts.language if parts.language in _PROMPT else "en"
    steps = "".join(f"- {step.get('question', '')}\n" for step in parts.steps if step.get("question"))
    steps = ("Étapes :\n" if language == "fr" else "Steps:\n") + steps if steps else ""
    instructions = f"{parts.instructions.strip()}\n" if parts.instructions.strip() else ""
    tools = "".join(_TOOLS[language][tool] for tool in parts.allowed_tools if tool in _TOOLS[language])
    rendered_context = "; ".join(f"{key}: {value}" for key, value in sorted(context.items())) or "-"
    prompt = _PROMPT[language].format(company=parts.company, goal=parts.goal.strip(), steps=steps,
                                      instructions=instructions, tools=tools, context=rendered_context)
    return redact(prompt)[0]


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


@dataclass(frozen=True)
class FilterVerdict:
    text: str
    reason: str = ""  # empty when the reply passed

    @property
    def replaced(self):
        return bool(self.reason)


class OutputFilter:
    """Check each reply before it is spoken; replace a bad one with a safe line and say why."""

    def __init__(self, *, language: str, allowed_text: str = "", blocked_terms=DEFAULT_BLOCKED_TERMS,
                 max_chars: int = MAX_REPLY_CHARS, other_call_snippets=()):
        self.language = language if language in SAFE_REPLY else "en"
        self.allowed_urls = {_fold(url) for url in _URL.findall(allowed_text)}
        self.allowed_phones = {re.sub(r"\D", "", phone) for phone in _PHONE.findall(allowed_text)}
        self.blocked = [re.compile(rf"\b{re.escape(_fold(term))}\b") for term in blocked_terms]
        self.max_chars = max_chars
        self.other_call_snippets = [_fold(s) for s in other_call_snippets if len(s) >= 12]

    def note_caller(self, text: str) -> None:
        """Allow the agent to repeat what the caller said (their own number or address, for confirmation)."""
        without_emails = _EMAIL.sub(" ", text)
        self.allowed_urls |= {_fold(url) for url in _URL.findall(without_emails)}
        self.allowed_phones |= {re.sub(r"\D", "", phone) for phone in _PHONE.findall(text)}

    def check(self, reply: str) -> FilterVerdict:
        reason = self._violation(reply)
        return FilterVerdict(SAFE_REPLY[self.language], reason) if reason else FilterVerdict(reply)

    def _violation(self, reply: str) -> str:
        folded = _fold(reply)
        if len(reply) > self.max_chars:
            return "too_long"
        if any(pattern.search(folded) for pattern in self.blocked):
            return "blocked_term"
        if any(_fold(url) not in self.allowed_urls for url in _URL.findall(_EMAIL.sub(" ", reply))):
            return "unknown_url"
        if any(re.sub(r"\D", "", phone) not in self.allowed_phones for phone in _PHONE.findall(reply)):
            return "unknown_phone_number"
        if any(snippet in folded for snippet in self.other_call_snippets):
            return "other_call_content"
        return ""
