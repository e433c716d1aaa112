"""The local "no account" conversational engine: a fixed script understood by rules, with no network and no model.

``ScriptedDialogueEngine`` implements the ``LanguageModel`` protocol so the call pipeline can run it in place of a
hosted model. Every reply is recomputed from the whole conversation it is sent (the system prompt is ignored): the
caller's lines go through ``extract_report``; the engine acknowledges what the last caller line gave, then asks the
first step whose slot is still empty; once every step is answered it reads back a recap and the closing line. Control
markers come last, on their own line:

    [[end_call]]                            hang up once the text before it is spoken
    [[transfer: caller asked for a human]]  hand the call over to a person

A step still unanswered after ``MAX_ASKS`` questions is skipped, so a caller without (say) a company is not asked
for one forever.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from ..extract import (
    DEFAULT_PHONE_REGION,
    DEFAULT_TZ,
    SLOTS,
    extract_report,
    fold,
    format_appointment,
    format_phone,
    language_key,
)
from .base import ChatMessage, JsonResult, LLMDelta, ProviderInfo, Usage
from .fake import prompt_tokens, split_pieces

END_CALL_MARKER = "[[end_call]]"
TRANSFER_MARKER = "[[transfer: {reason}]]"
HUMAN_REQUEST_REASON = "caller asked for a human"
MAX_ASKS = 2

Turn = tuple[str, str]


@dataclass(frozen=True, slots=True)
class ScriptStep:
    """One question of the script and the report slot its answer fills."""

    slot: str
    question: str

    def __post_init__(self) -> None:
        if self.slot not in SLOTS:
            raise ValueError(f"unknown slot {self.slot!r}; expected one of {', '.join(SLOTS)}")


@dataclass
class ScriptSpec:
    """What the scripted agent says: ``goal`` is not spoken, it records what the script is for."""

    language: str
    greeting: str
    goal: str
    steps: list[ScriptStep]
    closing: str
    fallback: str

    @classmethod
    def default(cls, language: str) -> ScriptSpec:
        """Return the stock script (contact details, need and an appointment) in ``language``."""
        script = _DEFAULT_SCRIPTS[language_key(language)]
        steps = [ScriptStep(slot, question) for slot, question in script["steps"]]
        return cls(language=language_key(language), greeting=script["greeting"], goal=script["goal"], steps=steps,
                   closing=script["closing"], fallback=script["fallback"])


_DEFAULT_SCRIPTS = {
    "fr": {
        "greeting": "Bonjour, je suis l'assistant virtuel de l'entreprise.",
        "goal": "Noter les coordonnées et le besoin de l'appelant, et fixer un rendez-vous.",
        "steps": (("name", "Puis-je avoir votre nom ?"),
                  ("company", "Quel est le nom de votre société ?"),
                  ("need", "Que puis-je faire pour vous ?"),
                  ("phone", "À quel numéro pouvons-nous vous rappeler ?"),
                  ("email", "Quelle est votre adresse e-mail ?"),
                  ("appointment", "Quel jour et à quelle heure souhaitez-vous un rendez-vous ?")),
        "closing": "Merci pour votre appel, nous revenons vers vous très vite. Au revoir.",
        "fallback": "Pardon, je n'ai pas bien compris.",
    },
    "en": {
        "greeting": "Hello, I'm the company's virtual assistant.",
        "goal": "Take the caller's contact details and need, and book an appointment.",
        "steps": (("name", "May I have your name?"),
                  ("company", "What is the name of your company?"),
                  ("need", "What can I do for you?"),
                  ("phone", "What number can we call you back on?"),
                  ("email", "What is your email address?"),
                  ("appointment", "What day and time would suit you for an appointment?")),
        "closing": "Thank you for calling, we will get back to you very soon. Goodbye.",
        "fallback": "Sorry, I didn't quite catch that.",
    },
}

_WORDING = {
    "fr": {
        "ack": {"name": "Merci {first}.", "phone": "Merci, j'ai noté votre numéro.",
                "email": "Merci, j'ai noté votre adresse e-mail.", "company": "Très bien.", "need": "Entendu.",
                "appointment": "C'est noté pour le {when}."},
        "recap": "Je récapitule : {items}.",
        "items": {"name": "{value}", "company": "société {value}", "phone": "téléphone {value}",
                  "email": "e-mail {value}", "need": "demande : {value}", "appointment": "rendez-vous le {value}"},
        "transfer": "Je vous mets en relation avec un conseiller, merci de patienter.",
    },
    "en": {
        "ack": {"name": "Thank you, {first}.", "phone": "Thank you, I have your number.",
                "email": "Thank you, I have your email address.", "company": "Great.", "need": "Understood.",
                "appointment": "That's noted for {when}."},
        "recap": "To recap: {items}.",
        "items": {"name": "{value}", "company": "company {value}", "phone": "phone {value}",
                  "email": "email {value}", "need": "request: {value}", "appointment": "appointment on {value}"},
        "transfer": "I'll put you through to a colleague, please hold.",
    },
}

_HUMAN_REQUEST = re.compile(
    r"(?<![a-z])(?:"
    r"(?:parler|discuter|etre mis en relation|mettre en relation|passer|transferer)(?![a-z]).{0,40}?(?<![a-z])"
    r"(?:humain|une personne|quelqu'un|conseiller|conseillere|agent|operateur|operatrice|standardiste)(?![a-z])|"
    r"un vrai humain|un humain|une vraie personne|passez[- ]moi|"
    r"(?:speak|talk|transfer|put me through|connect me)(?![a-z]).{0,40}?(?<![a-z])"
    r"(?:human|person|someone|somebody|agent|representative|operator)(?![a-z])|"
    r"real (?:human|person)|human being|operator|representative)(?![a-z])")
_MARKER = re.compile(r"\[\[[^\]]*\]\]")
_LABELLED = re.compile(r"^\s*(caller|appelant|client|user|agent|assistant|bot)\s*:\s?(.*)$", re.IGNORECASE)
_CALLER_LABELS = frozenset({"caller", "appelant", "client", "user"})


def asks_for_human(text: str) -> bool:
    """Return whether the caller's line asks to speak to a person."""
    return bool(_HUMAN_REQUEST.search(fold(text)))


def dialogue_turns(messages: Sequence[ChatMessage]) -> list[Turn]:
    """Return the conversation in ``messages`` as (speaker, text) turns, without the system prompt or markers."""
    turns = []
    for message in messages:
        text = _MARKER.sub("", message.content).strip()
        if message.role != "system" and text:
            turns.append(("caller" if message.role == "user" else "agent", text))
    return turns


def _labelled_turns(content: str) -> list[Turn]:
    turns: list[list[str]] = []
    for line in content.splitlines():
        if match := _LABELLED.match(line):
            speaker = "caller" if match[1].lower() in _CALLER_LABELS else "agent"
            turns.append([speaker, match[2].strip()])
        elif turns and line.strip():
            turns[-1][1] = f"{turns[-1][1]} {line.strip()}".strip()
    return [(speaker, text) for speaker, text in turns if text]


def transcript_from_messages(messages: Sequence[ChatMessage]) -> list[Turn]:
    """Return the transcript in ``messages``: ``Caller:`` / ``Agent:`` lines of user messages, else the roles."""
    labelled = [turn for m in messages if m.role == "user" for turn in _labelled_turns(m.content)]
    return labelled or dialogue_turns(messages)


class ScriptedDialogueEngine:
    """LanguageModel that follows a ``ScriptSpec`` and understands the caller with ``extract_report``.

    ``now`` fixes the clock relative days are read from (the current time when None); ``max_tokens`` and
    ``temperature`` are ignored: replies are short and never cut, so their markers always arrive.
    """

    def __init__(self, spec: ScriptSpec, *, now: datetime | None = None, tz: str = DEFAULT_TZ,
                 region: str = DEFAULT_PHONE_REGION) -> None:
        self.info = ProviderInfo(slug="local-scripted", model="scripted-dialogue", region="local")
        self.spec = spec
        self.language = language_key(spec.language)
        self.now = now
        self.tz = tz
        self.region = region
        self._questions = {step.slot: step.question for step in spec.steps}
        self._wording = _WORDING[self.language]

    async def stream(self, messages: list[ChatMessage], *, max_tokens: int | None = None,
                     temperature: float = 0.3) -> AsyncIterator[LLMDelta]:
        """Yield the agent's next line in small pieces, then its usage."""
        pieces = split_pieces(self.reply(messages))
        for piece in pieces:
            yield LLMDelta(text=piece)
            await asyncio.sleep(0)
        yield LLMDelta(usage=Usage(prompt_tokens=prompt_tokens(messages), completion_tokens=len(pieces)))

    async def complete_json(self, messages: list[ChatMessage], *, schema: dict, schema_name: str) -> JsonResult:
        """Return the report of the transcript in ``messages`` as JSON; it always follows ``REPORT_SCHEMA``."""
        text = json.dumps(self.report(transcript_from_messages(messages)), ensure_ascii=False)
        return JsonResult(text=text, usage=Usage(prompt_tokens=prompt_tokens(messages),
                                                 completion_tokens=len(split_pieces(text))))

    def report(self, transcript: Sequence[Turn]) -> dict:
        """Return the report of ``transcript``, reading bare answers to the script's questions."""
        now = self.now or datetime.now(ZoneInfo(self.tz))
        return extract_report(transcript, language=self.language, now=now, tz=self.tz, region=self.region,
                              questions=self._questions)

    def reply(self, messages: Sequence[ChatMessage]) -> str:
        """Return the agent's next line for the conversation in ``messages``."""
        turns = dialogue_turns(messages)
        caller_spoke = bool(turns) and turns[-1][0] == "caller"
        if caller_spoke and asks_for_human(turns[-1][1]):
            return f"{self._wording['transfer']}\n{TRANSFER_MARKER.format(reason=HUMAN_REQUEST_REASON)}"
        report = self.report(turns)
        step = self._next_step(turns, report)
        if step is None:
            return self._ending(report)
        lead = self._lead(turns, report, step) if caller_spoke else self._opening(turns)
        return " ".join(filter(None, (lead, step.question)))

    def _asked(self, turns: Sequence[Turn], step: ScriptStep) -> int:
        question = fold(step.question).strip()
        return sum(speaker == "agent" and question in fold(text) for speaker, text in turns)

    def _next_step(self, turns: Sequence[Turn], report: dict) -> ScriptStep | None:
        """Return the first step whose slot is empty and that has not been asked ``MAX_ASKS`` times."""
        return next((step for step in self.spec.steps
                     if report[step.slot] is None and self._asked(turns, step) < MAX_ASKS), None)

    def _opening(self, turns: Sequence[Turn]) -> str:
        return "" if any(speaker == "agent" for speaker, _text in turns) else self.spec.greeting

    def _lead(self, turns: Sequence[Turn], report: dict, step: ScriptStep) -> str:
        """Return the acknowledgement of what the last caller line gave, or the fallback if it gave nothing."""
        before = self.report(turns[:-1])
        gained = [slot for slot in SLOTS if report[slot] is not None and report[slot] != before[slot]]
        if gained:
            return self._acknowledgement(gained[0], report)
        last_agent = next((text for speaker, text in reversed(turns) if speaker == "agent"), "")
        return self.spec.fallback if fold(step.question).strip() in fold(last_agent) else ""

    def _acknowledgement(self, slot: str, report: dict) -> str:
        first = report["name"].split()[0] if report["name"] else ""
        when = self._spoken("appointment", report) if report["appointment"] else ""
        return self._wording["ack"][slot].format(first=first, when=when)

    def _recap(self, report: dict) -> str:
        order = dict.fromkeys([*(step.slot for step in self.spec.steps), *SLOTS])
        items = [self._wording["items"][slot].format(value=self._spoken(slot, report)) for slot in order
                 if report[slot] is not None]
        return self._wording["recap"].format(items=", ".join(items)) if items else ""

    def _spoken(self, slot: str, report: dict) -> str:
        if slot == "phone":
            return format_phone(report["phone"], self.region)
        if slot == "appointment":
            return format_appointment(report["appointment"], self.language, with_year=False)
        return report[slot]

    def _ending(self, report: dict) -> str:
        spoken = " ".join(filter(None, (self._recap(report), self.spec.closing)))
        return f"{spoken}\n{END_CALL_MARKER}"
