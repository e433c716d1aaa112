"""Text helpers for the call session: sentence splitting, action markers and caller-intent checks.

Action markers are how the language model asks the session to act. A marker is ``[[name]]`` or
``[[name: argument]]`` anywhere in the reply (case-insensitive name, ``-`` or spaces read as ``_``); it is removed
before speech and never spoken. Built in: ``[[transfer: reason]]`` hands the call to a human once the text before
it has been spoken, and ``[[end_call]]`` hangs up once the text before it has been spoken; the model's text after
either is dropped. Other names are passed to the session's tool handlers. ``marker_instructions`` returns the
paragraph that tells the model about them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

# --- sentences -----------------------------------------------------------------------------------------------------

# End punctuation (with any closing quotes or brackets) followed by whitespace, or a line break.
_BOUNDARY = re.compile(r"[.!?…]+[\"'»”’)\]]*(?=\s)|\n")
# A question or exclamation mark at the very end of what has streamed so far ends the sentence at once. A full
# stop waits for what follows: it may be inside a web address ("www." + "arnaque.com"), a number ("10." + "30") or
# an abbreviation, and a sentence cut there would hide the address from the output filter.
_TRAILING = re.compile(r"[!?…]+[\"'»”’)\]]*$")
# Words that end with a full stop without ending the sentence; compared case-sensitively ("Me" is Maître).
_ABBREVIATIONS = frozenset({
    "M", "MM", "Mme", "Mmes", "Mlle", "Mlles", "Me", "Dr", "Pr", "Prof", "St", "Ste", "Mr", "Mrs", "Ms", "Jr",
    "Sr", "cf", "env", "p.ex", "e.g", "i.e", "av", "bd", "tél", "Tél", "vs", "approx", "hab",
})
_OPENING = "\"'«“‘(["
_CLOSING = "\"'»”’)]"
# Markdown the model may emit that a voice must not read out: list bullets, headings, emphasis.
_BULLET = re.compile(r"^\s*(?:[-*•]+|#+)\s+")
_EMPHASIS = re.compile(r"\*+")


class SentenceSplitter:
    """Cut a streamed reply into sentences as soon as each one is complete.

    A sentence ends at ``. ! ? …`` followed by whitespace, at ``! ? …`` ending the text received so far, or at a
    line break. A full stop after a known
    abbreviation or a single capital (an initial) does not end one, and neither does any end punctuation before
    ``min_chars`` characters, so "M. Dupont" and "Oui. D'accord" stay whole; "10.30" never splits.
    """

    def __init__(self, min_chars: int = 10) -> None:
        self.min_chars = min_chars
        self._buffer = ""

    def push(self, text: str) -> list[str]:
        """Add streamed text and return the sentences it completes."""
        self._buffer += text
        sentences = []
        start = 0
        for match in _BOUNDARY.finditer(self._buffer):
            if match.group() != "\n" and not self._ends_sentence(start, match):
                continue
            if sentence := speakable(self._buffer[start:match.end()]):
                sentences.append(sentence)
            start = match.end()
        trailing = _TRAILING.search(self._buffer, start)
        if trailing is not None and self._ends_sentence(start, trailing):
            if sentence := speakable(self._buffer[start:]):
                sentences.append(sentence)
            start = len(self._buffer)
        self._buffer = self._buffer[start:]
        return sentences

    def flush(self) -> str:
        """Return the unfinished rest (possibly empty) and start over."""
        rest, self._buffer = self._buffer, ""
        return speakable(rest)

    def _ends_sentence(self, start: int, match: re.Match) -> bool:
        candidate = self._buffer[start:match.start()].strip()
        if len(candidate) + len(match.group()) < self.min_chars:
            return False
        if match.group().rstrip(_CLOSING) != ".":
            return True
        last_word = candidate.rsplit(None, 1)[-1].lstrip(_OPENING)
        is_initial = len(last_word) == 1 and last_word.isupper()
        return not is_initial and last_word not in _ABBREVIATIONS



def split_sentences(text: str, min_chars: int = 10) -> list[str]:
    """Split a whole text the way ``SentenceSplitter`` splits a stream."""
    splitter = SentenceSplitter(min_chars)
    sentences = splitter.push(text)
    if rest := splitter.flush():
        sentences.append(rest)
    return sentences


def speakable(text: str) -> str:
    """Strip surrounding space and the markdown a voice would read out (bullets, headings, asterisks)."""
    return _EMPHASIS.sub("", _BULLET.sub("", text)).strip()


# --- action markers ------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Marker:
    name: str
    argument: str = ""


MARKER_OPEN, MARKER_CLOSE = "[[", "]]"
MAX_MARKER_CHARS = 200  # an opening "[[" not closed within this many characters is not a marker


class MarkerParser:
    """Separate action markers from streamed text, holding back a possible marker until it is complete."""

    def __init__(self) -> None:
        self._buffer = ""

    def feed(self, text: str) -> list[str | Marker]:
        """Add streamed text; return the text that is certainly not part of a marker, and any complete markers."""
        self._buffer += text
        out: list[str | Marker] = []
        while self._buffer:
            opening = self._buffer.find(MARKER_OPEN)
            if opening < 0:
                keep = 1 if self._buffer.endswith("[") else 0
                _append_text(out, self._buffer[:len(self._buffer) - keep])
                self._buffer = self._buffer[len(self._buffer) - keep:]
                break
            _append_text(out, self._buffer[:opening])
            closing = self._buffer.find(MARKER_CLOSE, opening + len(MARKER_OPEN))
            if closing >= 0:
                out.append(parse_marker(self._buffer[opening + len(MARKER_OPEN):closing]))
                self._buffer = self._buffer[closing + len(MARKER_CLOSE):]
            elif len(self._buffer) - opening > MAX_MARKER_CHARS:
                self._buffer = self._buffer[opening + len(MARKER_OPEN):]  # drop the brackets, keep the words
            else:
                self._buffer = self._buffer[opening:]
                break
        return out

    def flush(self) -> list[str | Marker]:
        """Return the held-back text at the end of the stream; an unfinished marker is dropped, never spoken."""
        rest, self._buffer = self._buffer, ""
        return [] if rest.startswith(MARKER_OPEN) or not rest else [rest]


def parse_marker(body: str) -> Marker:
    """Read the inside of ``[[...]]`` as a name and an optional argument after a colon."""
    name, _, argument = body.partition(":")
    return Marker(re.sub(r"[\s-]+", "_", name.strip().lower()), argument.strip())


def strip_markers(text: str) -> str:
    """Return ``text`` without its markers (for text that must never carry one, e.g. a transcript)."""
    parser = MarkerParser()
    pieces = [*parser.feed(text), *parser.flush()]
    return "".join(piece for piece in pieces if isinstance(piece, str))


def _append_text(out: list, text: str) -> None:
    if text:
        out.append(text)


_INSTRUCTIONS = {
    "fr": ("Actions : pour passer l'appel à un conseiller humain, terminez votre réponse par [[transfer: motif]]. "
           "Pour raccrocher après votre dernière phrase, terminez-la par [[end_call]]. "
           "Ces marqueurs ne sont jamais prononcés ; n'écrivez rien après eux."),
    "en": ("Actions: to hand the call to a human colleague, end your reply with [[transfer: reason]]. "
           "To hang up after your last sentence, end it with [[end_call]]. "
           "These markers are never spoken; write nothing after them."),
}
_TOOLS_LINE = {"fr": " Autres actions possibles, au format [[nom: argument]] : {}.",
               "en": " Other actions, written as [[name: argument]]: {}."}


def marker_instructions(language: str, tool_names: Iterable[str] = ()) -> str:
    """Return the system-prompt paragraph that teaches the model the action markers."""
    language = language if language in _INSTRUCTIONS else "en"
    text = _INSTRUCTIONS[language]
    if names := sorted(tool_names):
        text += _TOOLS_LINE[language].format(", ".join(names))
    return text


# --- caller intent -------------------------------------------------------------------------------------------------

# Matched against ``normalize`` output (lower case, no accents, punctuation as spaces).
HUMAN_REQUEST_PATTERNS = (
    r"\bhumain\b", r"\b(?:un|une|le|la|des|les|a|au|aux|votre|vos|l) conseill(?:er|ere)s?\b",
    r"\boperat(?:eur|rice)\b", r"\bvraie personne\b", r"\bpersonne reelle\b", r"\bhumans?\b", r"\breal person\b",
    r"\bagents?\b", r"\boperators?\b", r"\brepresentatives?\b",
)
_HUMAN_REQUEST = re.compile("|".join(HUMAN_REQUEST_PATTERNS))
_NOISE_TAG = re.compile(r"\[[^\]]*\]|<[^>]*>")  # recogniser tags such as [noise] or <unk>
_NON_WORD = re.compile(r"[^\w]+")


def normalize(text: str) -> str:
    """Lower-case, drop accents and punctuation, collapse spaces: for comparing what callers say."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_WORD.sub(" ", bare).strip()


def wants_human(text: str, pattern: re.Pattern = _HUMAN_REQUEST) -> bool:
    """Say whether the caller asks for a person ("parler à un humain", "un conseiller", "a real person", ...)."""
    return bool(pattern.search(normalize(text)))


def is_intelligible(text: str, confidence: float | None = None, min_confidence: float = 0.0) -> bool:
    """Say whether a final transcript carries words the agent can answer."""
    if confidence is not None and confidence < min_confidence:
        return False
    return any(ch.isalnum() for ch in _NOISE_TAG.sub("", text))
