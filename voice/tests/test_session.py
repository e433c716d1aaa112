import asyncio
from collections import deque
from contextlib import aclosing

import pytest

from voice.audio import FRAME_BYTES, AudioFrame, BadAudio, frames_from_pcm, silence, tone
from voice.pacing import AudioOutQueue, play_out
from voice.providers.base import ChatMessage, ProviderError
from voice.providers.fake import FakeLanguageModel, FakeSpeechToText, FakeTextToSpeech
from voice.session import CallSession, SessionConfig
from voice.text import (
    Marker,
    MarkerParser,
    SentenceSplitter,
    is_intelligible,
    split_sentences,
    strip_markers,
    wants_human,
)
from voice.vad import VoiceActivityDetector

GREETING = "Bonjour, ici l'assistante IA du cabinet."
PROMPT = "Tu es l'assistante téléphonique du cabinet Martin."
HOURS = ("Bien sûr, voici nos horaires. Nous sommes ouverts du lundi au vendredi de neuf heures à dix-huit heures, "
         "et le samedi matin de dix heures à midi.")
SHORT_HOURS = "Bien sûr, voici nos horaires. Nous ouvrons du lundi au vendredi, de neuf à dix-huit heures."
FINAL_DELAY_MS, LLM_FIRST_MS, TTS_FIRST_MS = 60, 50, 30
SILENT = AudioFrame(silence(20))


class RecordingTTS(FakeTextToSpeech):
    """The fake TTS, remembering every text it was asked to speak."""

    def __init__(self, **options):
        super().__init__(**{"first_byte_ms": TTS_FIRST_MS, "realtime_factor": 0.1, "ms_per_char": 3, **options})
        self.texts = []

    async def synthesize(self, text, *, language, voice=None):
        self.texts.append(text)
        async with aclosing(super().synthesize(text, language=language, voice=voice)) as frames:
            async for frame in frames:
                yield frame


def fake_stt(utterances=(), **options):
    return FakeSpeechToText(list(utterances), **{"final_delay_ms": FINAL_DELAY_MS, "interim_every_ms": 100,
                                                 "endpointing_ms": 200, **options})


def fake_llm(replies, **options):
    return FakeLanguageModel(replies, **{"first_token_ms": LLM_FIRST_MS, "tokens_per_second": 200, **options})


class Call:
    """A running session with a real-time player and, on demand, a caller line sending 20 ms frames."""

    def __init__(self, *, stt=None, llm=None, tts=None, text_only=False, **config):
        options = {"greeting": GREETING, "system_prompt": PROMPT, "silence_timeout_s": 5.0,
                   "false_interruption_timeout_ms": 300, "early_llm_start": False, **config}
        self.stt = stt or fake_stt()
        self.llm = llm or fake_llm(["D'accord."])
        self.tts = None if text_only else (tts or RecordingTTS())
        self.events = []
        self.played = []
        self.session = CallSession(SessionConfig(**options), self.stt, self.llm, self.tts, emit=self.events.append,
                                   vad=VoiceActivityDetector(hangover_ms=200))
        self._pending = deque()
        self._line = None

    async def __aenter__(self):
        self.run_task = asyncio.create_task(self.session.run())
        self.play_task = asyncio.create_task(play_out(self.session, self.played.append))
        return self

    async def __aexit__(self, *exc_info):
        if not self.run_task.done():
            await self.session.hangup("test_over")
        self.reason = await asyncio.wait_for(self.run_task, 5)
        self.stats = await asyncio.wait_for(self.play_task, 5)
        if self._line is not None:
            self._line.cancel()
            await asyncio.gather(self._line, return_exceptions=True)
        leftover = asyncio.all_tasks() - {asyncio.current_task()}
        assert not leftover, f"tasks left running: {leftover}"

    # -- caller audio --

    def say(self, ms):
        """Queue ``ms`` of speech (a tone) on the caller line, which sends silence otherwise."""
        if self._line is None:
            self._line = asyncio.create_task(self._send())
        self._pending.extend(frames_from_pcm(tone(ms, 300.0, 0.2)))

    async def said(self):
        await self.until(lambda: not self._pending)

    async def _send(self):
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            await self.session.push_audio(self._pending.popleft() if self._pending else SILENT)
            due += 0.02
            await asyncio.sleep(max(0.0, due - loop.time()))

    # -- events --

    def of(self, kind, **match):
        return [e for e in self.events if e.type == kind and all(getattr(e, k) == v for k, v in match.items())]

    def index(self, event):
        return next(i for i, e in enumerate(self.events) if e is event)

    async def until(self, predicate, timeout=5.0):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if loop.time() > deadline:
                raise AssertionError(f"timed out; events: {[e.to_dict() for e in self.events]}")
            await asyncio.sleep(0.01)

    async def event(self, kind, count=1, **match):
        await self.until(lambda: len(self.of(kind, **match)) >= count)
        return self.of(kind, **match)[count - 1]

    async def agent_said(self, count):
        """Wait for the ``count``-th agent line and the listening state after it."""
        line = await self.event("transcript", count, speaker="agent")
        await self.until(lambda: self.session.state in ("listening", "ended") and self.index(line) < len(self.events))
        return line

    def agent_lines(self):
        return [(t["text"], t["interrupted"]) for t in self.session.transcript if t["speaker"] == "agent"]


# --- text helpers ---------------------------------------------------------------------------------------------------

def test_splitter_streams_sentences_and_keeps_abbreviations_and_numbers_whole():
    splitter = SentenceSplitter()
    assert splitter.push("Bonjour M. Dupont. Votre rendez") == ["Bonjour M. Dupont."]
    assert splitter.push("-vous est à 10.30 demain. Merci") == ["Votre rendez-vous est à 10.30 demain."]
    assert splitter.flush() == "Merci"
    assert split_sentences("Oui. D'accord, je note. C'est noté !") == ["Oui. D'accord, je note.", "C'est noté !"]
    assert split_sentences("Vous êtes sûr ? Voici les jours…\n- lundi\n- **mardi**") == [
        "Vous êtes sûr ?", "Voici les jours…", "lundi", "mardi"]


def test_marker_parser_holds_back_split_markers_and_drops_unfinished_ones():
    parser = MarkerParser()
    out = []
    for piece in ["Je vous passe un coll", "ègue. [", "[tran", "sfer: devis ", "urgent]] Texte [x] ", "[[end_"]:
        out += parser.feed(piece)
    assert out == ["Je vous passe un coll", "ègue. ", Marker("transfer", "devis urgent"), " Texte [x] "]
    assert parser.flush() == []
    assert strip_markers("Au revoir. [[End-Call]]") == "Au revoir. "


def test_caller_intent_helpers():
    assert wants_human("Je voudrais parler à un humain") and wants_human("une conseillère, s'il vous plaît")
    assert wants_human("Can I talk to a real person?") and wants_human("agent")
    assert not wants_human("Pouvez-vous me conseiller sur les horaires ?")
    assert not is_intelligible("") and not is_intelligible("[noise] ...") and not is_intelligible("oui", 0.1, 0.25)
    assert is_intelligible("oui", 0.9, 0.25)


# --- conversation ---------------------------------------------------------------------------------------------------

async def test_greeting_is_spoken_first_and_is_the_first_agent_line():
    async with Call() as call:
        first = await call.agent_said(1)
    assert first.text == GREETING and first.interrupted is False
    assert call.tts.texts[0] == GREETING
    assert [e.state for e in call.of("state")][:3] == ["thinking", "speaking", "listening"]
    assert call.session.history[1] == ChatMessage("assistant", GREETING)
    assert call.session.history[0].role == "system" and call.session.history[0].content.startswith(PROMPT)
    assert call.reason == "test_over" and call.stats.frames == call.tts.frame_count(GREETING)


async def test_two_turn_conversation_by_audio_has_transcript_metrics_and_ordered_events():
    replies = ["Bien sûr, quel jour vous conviendrait ?", "Parfait, je note mardi matin."]
    async with Call(stt=fake_stt(["je voudrais un rendez-vous", "mardi matin"]), llm=fake_llm(replies)) as call:
        await call.agent_said(1)
        call.say(300)
        await call.agent_said(2)
        call.say(250)
        await call.agent_said(3)
    assert [(t["speaker"], t["text"]) for t in call.session.transcript] == [
        ("agent", GREETING), ("caller", "je voudrais un rendez-vous"), ("agent", replies[0]),
        ("caller", "mardi matin"), ("agent", replies[1])]
    assert [m.role for m in call.session.history] == ["system", "assistant", "user", "assistant", "user", "assistant"]
    assert len(call.session.turns) == 2 and [e.turn for e in call.of("turn_metrics")] == [1, 2]
    for turn in call.session.turns:
        assert turn["source"] == "audio" and turn["interruptions"] == 0 and turn["early_llm"] is None
        assert turn["stt_final_delay_ms"] >= FINAL_DELAY_MS
        assert turn["llm_first_token_ms"] >= LLM_FIRST_MS - 5
        assert turn["tts_first_byte_ms"] >= TTS_FIRST_MS - 5
        assert turn["e2e_ms"] >= FINAL_DELAY_MS + LLM_FIRST_MS + TTS_FIRST_MS - 10
        assert turn["e2e_ms"] < 3000
    caller_finals = call.of("transcript", speaker="caller", final=True)
    interims = call.of("transcript", speaker="caller", final=False)
    assert interims and call.index(interims[0]) < call.index(caller_finals[0])
    for n, final in enumerate(caller_finals):
        thinking = next(e for e in call.events[call.index(final):] if e.type == "state")
        speaking = call.of("state", state="speaking")[n + 1]
        agent = call.of("transcript", speaker="agent")[n + 1]
        metrics = call.of("turn_metrics")[n]
        listening = call.of("state", state="listening")[n + 1]
        assert thinking.state == "thinking"
        order = [call.index(e) for e in (final, thinking, speaking, agent, metrics, listening)]
        assert order == sorted(order)
    assert call.stats.underruns == 0 and call.stats.frames == sum(map(call.tts.frame_count, call.tts.texts))
    assert call.of("ended")[-1].reason == "test_over" and call.events[-1].type == "ended"


async def test_push_text_is_a_turn_and_text_only_mode_needs_no_audio():
    async with Call(llm=fake_llm(["Nous ouvrons à neuf heures."]), text_only=True) as call:
        await call.agent_said(1)
        await call.session.push_text("  Vous ouvrez à quelle heure ?  ")
        reply = await call.agent_said(2)
    assert reply.text == "Nous ouvrons à neuf heures."
    assert call.session.history[-2:] == [ChatMessage("user", "Vous ouvrez à quelle heure ?"),
                                         ChatMessage("assistant", "Nous ouvrons à neuf heures.")]
    turn = call.session.turns[0]
    assert turn["source"] == "text" and turn["stt_final_delay_ms"] is None and turn["tts_first_byte_ms"] is None
    assert turn["llm_first_token_ms"] >= LLM_FIRST_MS - 5 and turn["e2e_ms"] >= LLM_FIRST_MS - 5
    assert call.played == []


async def test_text_typed_during_the_greeting_is_answered_after_it():
    async with Call(llm=fake_llm(["Oui, bien sûr."])) as call:
        await call.event("state", state="speaking")
        await call.session.push_text("Bonjour, vous êtes là ?")
        await call.agent_said(2)
    assert call.agent_lines() == [(GREETING, False), ("Oui, bien sûr.", False)]
    assert call.tts.texts == [GREETING, "Oui, bien sûr."]


@pytest.mark.parametrize(("threshold", "utterance", "speech_ms", "outcome", "requests"), [
    (0.85, "bonjour madame", 400, "hit", 1),
    (0.6, "je voudrais réserver", 160, "miss", 2),
])
async def test_early_llm_start_keeps_a_matching_reply_and_restarts_otherwise(threshold, utterance, speech_ms,
                                                                            outcome, requests):
    llm = fake_llm(lambda messages: f"Vous avez dit : {messages[-1].content}.")
    async with Call(stt=fake_stt([utterance]), llm=llm, early_llm_start=True,
                    early_llm_min_stability=threshold) as call:
        await call.agent_said(1)
        call.say(speech_ms)
        reply = await call.agent_said(2)
    assert call.session.turns[0]["early_llm"] == outcome and llm.requests == requests
    assert reply.text == f"Vous avez dit : {utterance}."


# --- barge-in -------------------------------------------------------------------------------------------------------

async def test_barge_in_cancels_the_reply_drops_queued_audio_and_keeps_the_heard_part():
    llm = fake_llm([HOURS, "Je vous écoute."])
    tts = RecordingTTS(ms_per_char=10, realtime_factor=0.5)  # synthesis still running at the barge-in
    async with Call(stt=fake_stt(["attendez une seconde"]), llm=llm, tts=tts, early_llm_start=True) as call:
        await call.agent_said(1)
        await call.session.push_text("Quels sont vos horaires ?")
        await call.event("state", 2, state="speaking")
        await asyncio.sleep(0.2)
        call.say(450)
        interrupted = await call.event("interrupted")
        played_then = len(call.played)
        assert len(call.session.audio_out) == 0
        await asyncio.sleep(0.15)
        assert len(call.played) <= played_then + 1  # nothing of the old reply plays after the barge-in
        await call.agent_said(3)
    heard = interrupted.heard_text
    assert heard and HOURS.startswith(heard) and heard != HOURS
    assert interrupted.dropped_frames > 0 and interrupted.heard_ms >= 300
    assert llm.cancelled + tts.cancelled >= 1
    assert call.agent_lines() == [(GREETING, False), (heard, True), ("Je vous écoute.", False)]
    assert [t["text"] for t in call.session.transcript if t["speaker"] == "caller"][-1] == "attendez une seconde"
    assert ChatMessage("assistant", heard) in call.session.history
    assert all(HOURS not in m.content for m in call.session.history)
    assert call.session.turns[0]["interruptions"] == 1 and call.session.turns[1]["interruptions"] == 0
    assert call.session.turns[1]["early_llm"] == "hit" and llm.requests == 2  # speculation works after a barge-in


async def test_short_blip_does_not_interrupt():
    async with Call(llm=fake_llm([SHORT_HOURS]), tts=RecordingTTS(ms_per_char=6)) as call:
        await call.agent_said(1)
        await call.session.push_text("Quels sont vos horaires ?")
        await call.event("state", 2, state="speaking")
        await asyncio.sleep(0.2)
        call.say(120)
        reply = await call.agent_said(2)
    assert call.of("interrupted") == [] and reply.text == SHORT_HOURS and reply.interrupted is False


async def test_false_interruption_resumes_the_unheard_rest():
    tts = RecordingTTS(ms_per_char=8)
    async with Call(llm=fake_llm([SHORT_HOURS]), tts=tts) as call:
        await call.agent_said(1)
        await call.session.push_text("Quels sont vos horaires ?")
        await call.event("state", 2, state="speaking")
        await asyncio.sleep(0.15)
        call.say(350)  # a cough: the STT has nothing to transcribe
        interrupted = await call.event("interrupted")
        resumed = await call.event("resumed")
        reply = await call.agent_said(2)
    assert f"{interrupted.heard_text} {resumed.text}" == SHORT_HOURS
    assert reply.text == SHORT_HOURS and reply.interrupted is False
    assert SHORT_HOURS.endswith(tts.texts[-1]) and len(tts.texts) > 2  # the rest was synthesized again
    assert call.session.history[-1] == ChatMessage("assistant", SHORT_HOURS)
    assert call.session.turns[0]["interruptions"] == 1


# --- transfers and markers ------------------------------------------------------------------------------------------

async def test_caller_asking_for_a_human_is_transferred_without_the_llm():
    llm = fake_llm(["ne doit pas servir"])
    async with Call(llm=llm) as call:
        await call.agent_said(1)
        await call.session.push_text("Je voudrais parler à un humain, s'il vous plaît.")
        await call.until(lambda: call.run_task.done())
    assert call.reason == "transferred" and llm.requests == 0
    assert [e.reason for e in call.of("transfer_requested")] == ["caller_request"]
    assert call.tts.texts[-1] == call.session.config.transfer_text
    events = [e.type for e in call.events]
    assert events.index("transfer_requested") < events.index("ended")


@pytest.mark.parametrize(("reply", "spoken", "reason", "transfer"), [
    ("Très bien, je vous passe un collègue. [[transfer: demande de devis]] Ne dites pas ceci.",
     "Très bien, je vous passe un collègue.", "transferred", "demande de devis"),
    ("Merci pour votre appel, bonne journée ! [[end_call]] Ni ceci.",
     "Merci pour votre appel, bonne journée !", "completed", None),
])
async def test_action_markers_are_honoured_and_never_spoken(reply, spoken, reason, transfer):
    async with Call(llm=fake_llm([reply])) as call:
        await call.agent_said(1)
        await call.session.push_text("C'est tout pour moi.")
        await call.until(lambda: call.run_task.done())
    assert call.reason == reason
    assert call.tts.texts == [GREETING, spoken]
    assert call.agent_lines()[-1] == (spoken, False)
    assert all("[[" not in m.content for m in call.session.history if m.role == "assistant")
    assert [e.reason for e in call.of("transfer_requested")] == ([transfer] if transfer else [])


async def test_custom_tool_markers_call_their_handler():
    calls = []

    async def book(argument):
        calls.append(argument)

    llm = fake_llm(["C'est réservé pour mardi. [[book: mardi 10h]]"])
    call = Call(llm=llm)
    call.session = CallSession(call.session.config, call.stt, llm, call.tts, emit=call.events.append,
                               tools={"book": book})
    async with call:
        await call.agent_said(1)
        await call.session.push_text("Mardi à 10 heures.")
        await call.agent_said(2)
    assert calls == ["mardi 10h"] and [e.to_dict()["name"] for e in call.of("tool_call")] == ["book"]
    assert call.tts.texts[-1] == "C'est réservé pour mardi."
    assert call.session.history[0].content.endswith(": book.")  # the model is told about the tool


async def test_repeated_unintelligible_turns_transfer_for_misunderstanding():
    llm = fake_llm(["ne doit pas servir"])
    async with Call(llm=llm, max_unclear_turns=3, text_only=True) as call:
        await call.agent_said(1)
        for n in range(2):
            await call.session.push_text("...")
            await call.agent_said(2 + n)
        await call.session.push_text("")
        await call.until(lambda: call.run_task.done())
    fallback = call.session.config.fallback_text
    assert call.agent_lines() == [(GREETING, False), (fallback, False), (fallback, False),
                                  (call.session.config.transfer_text, False)]
    assert call.reason == "transferred" and [e.reason for e in call.of("transfer_requested")] == ["misunderstanding"]
    assert llm.requests == 0


# --- failures and timeouts ------------------------------------------------------------------------------------------

async def test_llm_failure_speaks_the_fallback_and_the_call_goes_on():
    def script(messages):
        if len([m for m in messages if m.role == "user"]) == 1:
            raise ProviderError("fake-llm: down", timeout=True)
        return "Nous sommes ouverts demain."

    async with Call(llm=fake_llm(script), language="en", greeting="Hello, I am a virtual assistant.") as call:
        await call.agent_said(1)
        await call.session.push_text("Are you open?")
        fallback = await call.agent_said(2)
        await call.session.push_text("And tomorrow?")
        reply = await call.agent_said(3)
    assert fallback.text == "Sorry, I did not catch that, could you repeat?"
    assert reply.text == "Nous sommes ouverts demain." and call.reason == "test_over"
    assert [(e.stage, e.recoverable) for e in call.of("error")] == [("llm", True)]
    assert [t["llm_error"] for t in call.session.turns] == [True, False]


async def test_tts_failure_is_reported_and_the_call_goes_on():
    tts = RecordingTTS(fail_after_frames=3)  # every synthesis longer than 3 frames fails
    async with Call(tts=tts, llm=fake_llm(["Oui."])) as call:
        await call.agent_said(1)
        await call.session.push_text("Bonjour")
        reply = await call.agent_said(2)
    assert [e.recoverable for e in call.of("error", stage="tts")] == [True]
    assert reply.text == "Oui." and call.reason == "test_over"


async def test_stt_failure_is_reported_and_the_stream_restarted():
    stt = fake_stt(["bonjour"], fail_rate=1.0)
    async with Call(stt=stt, llm=fake_llm(["Je vous écoute."])) as call:
        await call.agent_said(1)
        call.say(300)
        error = await call.event("error", stage="stt")
        await call.until(lambda: stt.requests == 2)
        await call.session.push_text("Allô ?")
        await call.agent_said(2)
    assert error.recoverable and call.reason == "test_over"


async def test_cancelling_run_ends_the_call_and_leaves_nothing_running():
    events = []
    session = CallSession(SessionConfig(greeting=GREETING, system_prompt=PROMPT), fake_stt(), fake_llm(["x"]),
                          RecordingTTS(), emit=events.append)
    run = asyncio.create_task(session.run())
    await asyncio.sleep(0.05)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert session.end_reason == "cancelled" and events[-1].to_dict() == {
        "type": "ended", "at": events[-1].at, "reason": "cancelled"}
    assert not asyncio.all_tasks() - {asyncio.current_task()}


async def test_bad_frame_is_refused_with_a_reason_and_the_call_goes_on():
    async with Call(llm=fake_llm(["Je vous écoute."])) as call:
        with pytest.raises(BadAudio, match=str(FRAME_BYTES)):
            await call.session.push_audio(AudioFrame(bytes(100)))
        with pytest.raises(BadAudio):
            await call.session.push_audio(AudioFrame(bytes(FRAME_BYTES), sample_rate=8_000))
        await call.session.push_audio(SILENT)
        await call.agent_said(1)
        await call.session.push_text("Allô ?")
        await call.agent_said(2)
    errors = call.of("error", stage="audio")
    assert len(errors) == 1 and "640" in errors[0].message and call.session.bad_frames == 2
    assert call.reason == "test_over"


async def test_silence_brings_one_reprompt_then_ends_the_call():
    async with Call(silence_timeout_s=0.2) as call:
        await call.until(lambda: call.run_task.done())
    config = call.session.config
    assert call.reason == "silence"
    assert [text for text, _ in call.agent_lines()] == [GREETING, config.reprompt_text, config.goodbye_text]
    assert [e.state for e in call.of("state")][-1] == "ended" and call.events[-1].reason == "silence"


async def test_max_duration_says_goodbye_and_ends():
    async with Call(max_duration_s=0.4) as call:
        await call.until(lambda: call.run_task.done())
    assert call.reason == "max_duration"
    assert call.agent_lines()[-1] == (call.session.config.goodbye_text, False)


async def test_hangup_mid_reply_records_the_heard_part_and_leaves_nothing_running():
    tts = RecordingTTS(ms_per_char=10)
    async with Call(llm=fake_llm([HOURS]), tts=tts) as call:
        await call.agent_said(1)
        await call.session.push_text("Vos horaires ?")
        await call.event("state", 2, state="speaking")
        await asyncio.sleep(0.2)
        await call.session.hangup("caller_hangup")
    assert call.reason == "caller_hangup"
    text, interrupted = call.agent_lines()[-1]
    assert interrupted and HOURS.startswith(text)
    assert call.session.audio_out.closed and len(call.session.turns) == 1


# --- pacing ---------------------------------------------------------------------------------------------------------

async def test_play_out_paces_frames_on_a_fixed_schedule_without_underruns():
    audio = AudioOutQueue()
    sent = []
    player = asyncio.create_task(play_out(audio, lambda frame: sent.append(asyncio.get_running_loop().time())))
    audio.mid_utterance = True
    for frame in frames_from_pcm(tone(500, 220.0, 0.1)):
        audio.put(frame)
    audio.mid_utterance = False
    await audio.wait_taken(audio.put_count)
    audio.close()
    stats = await player
    assert stats.frames == 25 and stats.underruns == 0 and audio.taken == 25
    assert 0.48 - 0.005 <= sent[-1] - sent[0] <= 0.48 + 0.25


async def test_play_out_counts_underruns_when_speech_is_late():
    audio = AudioOutQueue()
    player = asyncio.create_task(play_out(audio, lambda frame: None))
    audio.mid_utterance = True
    audio.put(AudioFrame(silence(20)))
    await asyncio.sleep(0.1)  # the next frame is late: several due times pass with nothing to send
    audio.put(AudioFrame(silence(20)))
    audio.mid_utterance = False
    await audio.wait_taken(audio.put_count)
    audio.close()
    stats = await player
    assert stats.frames == 2 and stats.underruns >= 2
