"""One agent reply: the LLM request and its stream, the conversation history, and ``AgentReply``.

``AgentReply`` turns text into sentences, filters, synthesizes and queues them, and knows how much
of them the caller heard.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass

from .audio import FRAME_BYTES, AudioFrame, FrameBuffer
from .pacing import FRAME_SECONDS, AudioOutQueue
from .providers.base import ChatMessage, LanguageModel, ProviderError, TextToSpeech, closing_stream
from .text import Marker, MarkerParser, SentenceSplitter, split_sentences
from .turns import TurnMetrics

logger = logging.getLogger(__name__)

_END = object()


class LlmStream:
    """One LLM request running in its own task, its text pieces buffered until the reply reads them.

    Running apart from the reply lets a speculative request (early LLM start) be adopted by the turn that follows.
    """

    def __init__(self, llm: LanguageModel, messages: list[ChatMessage], *, clock: Callable[[], float],
                 spawn: Callable[[Coroutine], asyncio.Task], max_tokens: int | None, temperature: float) -> None:
        self.started_at = clock()
        self.first_token_at: float | None = None
        self.usage = None
        self._clock = clock
        self._pieces: asyncio.Queue = asyncio.Queue()
        self._task = spawn(self._pump(llm, messages, max_tokens, temperature))

    async def next_text(self) -> str | None:
        """Return the next piece of text, None at the end; raise the request's ``ProviderError``."""
        item = await self._pieces.get()
        if item is _END:
            self._pieces.put_nowait(_END)
            return None
        if isinstance(item, ProviderError):
            raise item
        return item

    def cancel(self) -> None:
        self._task.cancel()

    async def _pump(self, llm: LanguageModel, messages: list[ChatMessage], max_tokens: int | None,
                    temperature: float) -> None:
        try:
            stream = llm.stream(messages, max_tokens=max_tokens, temperature=temperature)
            async with closing_stream(stream) as deltas:
                async for delta in deltas:
                    if delta.text:
                        if self.first_token_at is None:
                            self.first_token_at = self._clock()
                        self._pieces.put_nowait(delta.text)
                    if delta.usage is not None:
                        self.usage = delta.usage
            self._pieces.put_nowait(_END)
        except ProviderError as exc:
            self._pieces.put_nowait(exc)
        except Exception as exc:
            logger.exception("language model adapter failed")
            self._pieces.put_nowait(ProviderError(f"language model failed: {type(exc).__name__}"))


class ConversationHistory:
    """The messages of the call: the system prompt, then alternating assistant and user messages."""

    def __init__(self, system_prompt: str, max_turns: int) -> None:
        self.messages: list[ChatMessage] = [ChatMessage("system", system_prompt)]
        self.max_turns = max_turns

    def add(self, role: str, text: str) -> None:
        """Append a message; consecutive messages of one role are merged so that roles keep alternating."""
        _add_merged(self.messages, role, text)

    def snapshot(self, pending_assistant: str = "") -> list[ChatMessage]:
        """Return a copy of the messages as they will be once ``pending_assistant`` (if any) is added."""
        messages = list(self.messages)
        _add_merged(messages, "assistant", pending_assistant)
        return messages

    def for_llm(self, pending_user: str = "", *, context: list[ChatMessage] | None = None) -> list[ChatMessage]:
        """Return the system prompt and the last ``max_turns`` exchanges (of ``context`` if given, else of the
        history), plus ``pending_user`` if given."""
        messages = self.messages if context is None else context
        recent = messages[1:][-2 * self.max_turns:] if self.max_turns > 0 else []
        view = [messages[0], *recent]
        _add_merged(view, "user", pending_user)
        return view


def _add_merged(messages: list[ChatMessage], role: str, text: str) -> None:
    text = text.strip()
    if not text:
        return
    last = messages[-1]
    if last.role == role:
        messages[-1] = ChatMessage(role, f"{last.content} {text}")
    else:
        messages.append(ChatMessage(role, text))


@dataclass(frozen=True, slots=True)
class Action:
    """What the session does once a reply has been spoken."""

    kind: str  # "end" | "transfer"
    reason: str


@dataclass(slots=True)
class _Sentence:
    """A sentence being spoken: its frames are ``first_seq`` .. ``first_seq + frames - 1`` of ``audio_out``."""

    text: str
    first_seq: int = -1
    frames: int = 0
    done: bool = False

    def split_heard(self, taken: int) -> tuple[str, str, int]:
        """Return the heard words, the unheard rest and the frames played, given the next sequence to play."""
        played = min(max(taken - self.first_seq, 0), self.frames) if self.frames else 0
        if played and played == self.frames and self.done:
            return self.text, "", played
        if not played:
            return "", ("" if self.done and not self.frames else self.text), 0
        words = self.text.split()
        cut = min(len(words) * played // self.frames, len(words) - 1)  # round down: rather repeat than skip
        return " ".join(words[:cut]), " ".join(words[cut:]), played


@dataclass
class ReplyContext:
    """What every reply of a session shares: providers, output, settings and the session's callbacks."""

    tts: TextToSpeech | None
    audio: AudioOutQueue
    language: str
    voice: str | None
    clock: Callable[[], float]
    spawn: Callable[[Coroutine], asyncio.Task]
    output_filter: Callable[[str], str] | None
    min_sentence_chars: int
    fallback_text: str
    on_first_audio: Callable[[AgentReply], None]
    on_marker: Callable[[AgentReply, Marker], bool]
    on_done: Callable[[AgentReply], None]
    on_error: Callable[[str, BaseException], None]


class AgentReply:
    """Speak one agent utterance: text (fixed, or streamed from the LLM) -> sentences -> filter -> TTS -> audio.

    A producer task turns LLM text into sentences while a speaker task synthesizes them one after the other, so
    the first sentence plays while the LLM still streams. ``cancel`` stops both (barge-in); ``heard`` says how
    much the caller heard and what is left. ``on_done`` is called once the last frame has been played.
    """

    def __init__(self, ctx: ReplyContext, kind: str, *, interruptible: bool = True, turn: TurnMetrics | None = None,
                 action: Action | None = None, prefix: str = "") -> None:
        self.kind = kind
        self.interruptible = interruptible
        self.turn = turn
        self.action = action
        self.prefix = prefix  # what the caller already heard of a reply resumed after a false interruption
        self.sentences: list[_Sentence] = []
        self.audible = False
        self.end_seq = 0
        self._ctx = ctx
        self._planned: list[str] = []
        self._started = 0  # planned sentences the speaker has taken
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._tasks: list[asyncio.Task] = []
        self._llm: LlmStream | None = None

    def say(self, texts: list[str]) -> None:
        """Speak fixed texts."""
        for text in texts:
            for sentence in split_sentences(text, self._ctx.min_sentence_chars):
                self._plan(sentence)
        self._queue.put_nowait(None)
        self._tasks.append(self._ctx.spawn(self._speak()))

    def stream(self, llm: LlmStream) -> None:
        """Speak the reply of an LLM request as it streams."""
        self._llm = llm
        self._tasks.append(self._ctx.spawn(self._produce(llm)))
        self._tasks.append(self._ctx.spawn(self._speak()))

    def cancel(self) -> None:
        """Stop producing and speaking (the caller of this method drops the queued audio)."""
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        if self._llm is not None:
            self._llm.cancel()

    def spoken_text(self) -> str:
        """Return what was spoken: the resumed prefix and every sentence that produced audio."""
        spoken = [s.text for s in self.sentences if s.frames or self._ctx.tts is None]
        return " ".join(part for part in (self.prefix, *spoken) if part)

    def heard(self, taken: int) -> tuple[str, list[str], int]:
        """Return the text heard so far, the unheard rest as sentences, and the frames played."""
        if self._ctx.tts is None:
            return self.spoken_text(), self._planned[self._started:], 0
        heard, rest, played = [self.prefix] if self.prefix else [], [], 0
        for sentence in self.sentences:
            words, left, frames = sentence.split_heard(taken)
            heard.append(words)
            rest.append(left)
            played += frames
        rest.extend(self._planned[self._started:])
        return " ".join(part for part in heard if part), [part for part in rest if part], played

    # -- producing sentences from the LLM --

    async def _produce(self, llm: LlmStream) -> None:
        parser, splitter = MarkerParser(), SentenceSplitter(self._ctx.min_sentence_chars)
        try:
            await self._read_llm(llm, parser, splitter)
        except ProviderError as exc:
            self._on_llm_failure(exc)
        finally:
            llm.cancel()
            self._queue.put_nowait(None)

    async def _read_llm(self, llm: LlmStream, parser: MarkerParser, splitter: SentenceSplitter) -> None:
        stopped = False
        while not stopped and (piece := await llm.next_text()) is not None:
            self._note_llm_timing(llm)
            stopped = self._take(parser.feed(piece), splitter)
        if not stopped:
            self._take(parser.flush(), splitter)
        self._plan(splitter.flush())
        if not self._planned and self.action is None:
            self._on_llm_failure(ProviderError("the language model returned an empty reply"))

    def _take(self, items: list[str | Marker], splitter: SentenceSplitter) -> bool:
        """Plan the sentences in ``items``; return True when a marker ends the reply."""
        for item in items:
            if isinstance(item, Marker):
                if self._ctx.on_marker(self, item):
                    return True
                continue
            for sentence in splitter.push(item):
                self._plan(sentence)
        return False

    def _note_llm_timing(self, llm: LlmStream) -> None:
        if self.turn is not None and self.turn.llm_first_token_at is None:
            self.turn.llm_started_at = llm.started_at
            self.turn.llm_first_token_at = llm.first_token_at

    def _on_llm_failure(self, exc: ProviderError) -> None:
        self._ctx.on_error("llm", exc)
        if self.turn is not None:
            self.turn.llm_error = True
        if not self._planned:
            self._plan(self._ctx.fallback_text)

    def _plan(self, sentence: str) -> None:
        if sentence:
            self._planned.append(sentence)
            self._queue.put_nowait(sentence)

    # -- speaking sentences --

    async def _speak(self) -> None:
        while (text := await self._queue.get()) is not None:
            self._started += 1
            if text := self._filtered(text):
                await self._say_sentence(text)
        if self.audible and self._ctx.tts is not None:
            self._ctx.audio.mid_utterance = False
            await self._ctx.audio.wait_taken(self.end_seq)
            await asyncio.sleep(FRAME_SECONDS)  # the last frame taken is still being played
        self._ctx.on_done(self)

    def _filtered(self, text: str) -> str:
        output_filter = self._ctx.output_filter
        if output_filter is None:
            return text
        try:
            return output_filter(text).strip()
        except Exception as exc:
            # Never speak what the filter could not check.
            logger.exception("output filter failed")
            self._ctx.on_error("filter", exc)
            return ""

    async def _say_sentence(self, text: str) -> None:
        sentence = _Sentence(text)
        self.sentences.append(sentence)
        try:
            if self._ctx.tts is None:
                self._mark_audible()
            else:
                await self._synthesize(sentence)
        except ProviderError as exc:
            self._ctx.on_error("tts", exc)
        except Exception as exc:
            logger.exception("text-to-speech adapter failed")
            self._ctx.on_error("tts", exc)
        finally:
            sentence.done = True

    async def _synthesize(self, sentence: _Sentence) -> None:
        ctx = self._ctx
        if self.turn is not None and self.turn.tts_started_at is None:
            self.turn.tts_started_at = ctx.clock()
        reframer: FrameBuffer | None = None
        stream = ctx.tts.synthesize(sentence.text, language=ctx.language, voice=ctx.voice)
        async with closing_stream(stream) as frames:
            async for frame in frames:
                if len(frame.pcm) == FRAME_BYTES:
                    self._put(sentence, frame)
                    continue
                reframer = reframer or FrameBuffer()
                for whole in reframer.push(frame.pcm):
                    self._put(sentence, whole)
        for rest in reframer.flush() if reframer else ():
            self._put(sentence, rest)

    def _put(self, sentence: _Sentence, frame: AudioFrame) -> None:
        seq = self._ctx.audio.put(frame)
        if sentence.first_seq < 0:
            sentence.first_seq = seq
        sentence.frames += 1
        self.end_seq = seq + 1
        if not self.audible:
            self._ctx.audio.mid_utterance = True
            self._mark_audible()

    def _mark_audible(self) -> None:
        if self.audible:
            return
        self.audible = True
        turn = self.turn
        if turn is not None and turn.first_audio_at is None:
            turn.first_audio_at = now = self._ctx.clock()
            if self._ctx.tts is not None:
                turn.tts_first_frame_at = now
        self._ctx.on_first_audio(self)
