"""How one call behaves: ``SessionConfig`` and the default lines of each language."""

from __future__ import annotations

from dataclasses import dataclass

_LINES = {
    "fr": {
        "fallback_text": "Pardon, je n'ai pas bien compris. Pouvez-vous répéter ?",
        "reprompt_text": "Êtes-vous toujours là ?",
        "goodbye_text": "Merci de votre appel. Au revoir.",
        "transfer_text": "Je vous mets en relation avec un conseiller, merci de patienter.",
    },
    "en": {
        "fallback_text": "Sorry, I did not catch that, could you repeat?",
        "reprompt_text": "Are you still there?",
        "goodbye_text": "Thank you for calling. Goodbye.",
        "transfer_text": "I am putting you through to a colleague, please hold.",
    },
}


@dataclass(frozen=True, kw_only=True)
class SessionConfig:
    """How one call behaves. Lines left at None take the language's default; an empty line is not spoken.

    ``greeting`` is the first agent sentence and must disclose the AI. ``silence_timeout_s`` of caller silence
    after the agent spoke brings ``reprompt_text`` once, then the goodbye and the end ("silence"). Caller speech
    of ``barge_in_min_ms`` interrupts the agent; if no final transcript follows within
    ``false_interruption_timeout_ms`` after the caller stops, the rest of the reply is spoken. With
    ``early_llm_start`` the LLM starts on an interim transcript of stability >= ``early_llm_min_stability`` and
    its reply is kept when the final text matches. ``max_unclear_turns`` unintelligible turns in a row (empty or
    below ``min_confidence``, or speech of ``min_unheard_speech_ms`` that got no transcript within
    ``no_transcript_timeout_ms``) transfer the call with reason "misunderstanding".
    """

    greeting: str
    system_prompt: str
    language: str = "fr"
    voice: str | None = None
    max_duration_s: float = 900.0
    silence_timeout_s: float = 10.0
    reprompt_text: str | None = None
    fallback_text: str | None = None
    goodbye_text: str | None = None
    transfer_text: str | None = None
    barge_in_min_ms: float = 250.0
    min_interruption_words: int = 2  # a shorter final while the agent speaks is a backchannel ("oui", "ok")
    false_interruption_timeout_ms: float = 1500.0
    early_llm_start: bool = True
    early_llm_min_stability: float = 0.85
    max_history_turns: int = 12
    max_unclear_turns: int = 3
    min_confidence: float = 0.25
    no_transcript_timeout_ms: float | None = 2500.0
    min_unheard_speech_ms: float = 500.0
    min_sentence_chars: int = 10
    llm_max_tokens: int | None = 400
    llm_temperature: float = 0.3
    teach_markers: bool = True  # append the action-marker instructions to the system prompt
    goodbye_grace_s: float = 8.0  # the call ends this long after a goodbye or transfer line started, spoken or not
    stt_max_failures: int = 3  # STT streams failing in a row before the call is transferred ("stt_unavailable")
    stt_drain_s: float = 1.0
    stt_backlog_frames: int = 500  # caller frames the STT may lag behind before new ones are dropped

    def __post_init__(self) -> None:
        if self.language not in _LINES:
            raise ValueError(f"language must be one of {', '.join(_LINES)}")
        if not self.greeting.strip():
            raise ValueError("a greeting is required: it carries the AI disclosure")
        for name, default in _LINES[self.language].items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, default)
