"""After the call: a summary and a structured report, from the language model chain with a JSON schema.

The model's JSON is validated; an invalid answer gets one repair request (the error is sent back), and if that
fails too the local extractor writes the report. Special-category data (GDPR Art. 9) is flagged when the model
says so or when the local keyword check finds it in the caller's lines: a deterministic safety net.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass

import jsonschema

from .extract import REPORT_SCHEMA, detect_special_category, extract_report, summary_text
from .gateway import AllProvidersFailed, LanguageModelChain
from .providers.base import ChatMessage, ProviderError

SCHEMA_NAME = "call_report"
REPORT_WITH_SUMMARY = {
    **REPORT_SCHEMA,
    "required": [*REPORT_SCHEMA["required"], "summary"],
    "properties": {**REPORT_SCHEMA["properties"],
                   "summary": {"type": "string", "description": "Three sentences at most: who called, why, "
                                                                 "what was agreed."}},
}
# What the model is asked for includes the summary; an answer without one is still a valid report (the summary is
# then written from the report, as the local engine does).
_VALIDATOR = jsonschema.Draft202012Validator({**REPORT_WITH_SUMMARY, "required": REPORT_SCHEMA["required"]})

_INSTRUCTIONS = {
    "fr": ("Tu rédiges le compte rendu d'un appel téléphonique. Réponds uniquement en JSON conforme au schéma. "
           "N'invente rien : un champ absent de l'appel vaut null. Le résumé est en français. "
           "Date et heure actuelles : {now}."),
    "en": ("You write the report of a phone call. Answer only with JSON matching the schema. Invent nothing: a "
           "field the call does not contain is null. The summary is in English. Current date and time: {now}."),
}
_REPAIR = {
    "fr": "Ta réponse n'est pas valide : {error}. Réponds à nouveau, uniquement avec le JSON corrigé.",
    "en": "Your answer is not valid: {error}. Answer again with the corrected JSON only.",
}


@dataclass
class PostCallResult:
    report: dict
    summary: str
    source: str  # llm | llm_repaired | local


def _transcript_message(transcript) -> str:
    return "\n".join(f"{'Caller' if speaker == 'caller' else 'Agent'}: {text}" for speaker, text in transcript)


def validation_error(text: str) -> str:
    """Return why the text is not a valid report ('' when it is)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        return f"not JSON ({error.msg} at position {error.pos})"
    errors = sorted(_VALIDATOR.iter_errors(data), key=lambda e: list(e.path))
    if errors:
        where = "/".join(str(part) for part in errors[0].path) or "(root)"
        return f"{where}: {errors[0].message}"
    if data["appointment"]:
        try:
            datetime.datetime.fromisoformat(data["appointment"])
        except ValueError:
            return "appointment: not an ISO 8601 date-time"
    return ""


async def summarise(*, transcript: list[tuple[str, str]], language: str, llm: LanguageModelChain,
                    now: datetime.datetime, tz: str, questions: dict | None = None) -> PostCallResult:
    language = language if language in _INSTRUCTIONS else "en"
    messages = [
        ChatMessage("system", _INSTRUCTIONS[language].format(now=now.isoformat(timespec="minutes"))),
        ChatMessage("user", _transcript_message(transcript)),
    ]
    result = await _ask(llm, messages)
    source = "llm"
    error = validation_error(result) if result is not None else "no answer"
    if error and result is not None:
        messages += [ChatMessage("assistant", result), ChatMessage("user", _REPAIR[language].format(error=error))]
        result = await _ask(llm, messages)
        source = "llm_repaired"
        error = validation_error(result) if result is not None else "no answer"
    if error:
        report = extract_report(transcript, language=language, now=now, tz=tz, questions=questions)
        return _flag_special(PostCallResult(report, summary_text(transcript, report, language), "local"), transcript)
    data = json.loads(result)
    summary = data.pop("summary", None) or summary_text(transcript, data, language)
    return _flag_special(PostCallResult(data, summary, source), transcript)


async def _ask(llm: LanguageModelChain, messages: list[ChatMessage]) -> str | None:
    try:
        answer = await llm.complete_json(messages, schema=REPORT_WITH_SUMMARY, schema_name=SCHEMA_NAME)
    except (AllProvidersFailed, ProviderError):
        return None
    return answer.text


def _flag_special(result: PostCallResult, transcript) -> PostCallResult:
    terms = detect_special_category([text for speaker, text in transcript if speaker == "caller"])
    if terms:
        result.report["special_category"] = True
        result.report["special_category_terms"] = sorted(set(result.report.get("special_category_terms") or [])
                                                         | set(terms))
    return result
