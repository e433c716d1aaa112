"""LiveKit bridge CPU and memory per call: N concurrent calls through the real consumer, on a fake room.

    .venv/bin/python bench/bridge_cpu.py --calls 10 --seconds 20

One process and one event loop, as ``manage.py runworker livekit-bridge`` runs it: channels' ``Worker`` takes the
``call.join`` messages from the (in-memory) channel layer and hands them to ``LiveKitBridgeConsumer``, which carries
each call with ``mode="bench"`` providers (fakes with the standard latency profile of voice.benchmark).
The fake room (calls.testing_livekit) streams the caller's audio at real time in 10 ms 48 kHz frames: silence, and
1.2 s of speech each time the agent has been quiet for 0.6 s after speaking, like a caller answering. Calls start
within one second of each other; each caller hangs up after --seconds. LiveKit's API (the room deletion at the end)
goes to the stand-in of calls/tests/livekit_standin.py on 127.0.0.1. The database is a fresh SQLite file in a
temporary CALLKOM_VAR_DIR (migrate + seed_demo); DEBUG is switched off after start-up (no query log), as in
production.

Measured, with getrusage(RUSAGE_SELF) (user + system) from the first call.join to the end of the last call, after
set-up and freeze_startup_heap(): everything the bridge does in this process — 48 <-> 16 kHz resampling and
framing, the session (VAD, fake providers, pacing, playout), each call's database work in the sync thread (prepare,
AI request log, transcript, status) and channel-layer broadcasts — plus the fake room itself and the stand-in's
thread answering DeleteRoom (both small). RSS is sampled every 0.2 s. frames_in: the 10 ms caller frames the bridge
read; frames_out: the 48 kHz agent frames (20 ms each) it captured; turns_answered: turns with a first agent frame.
Not measured: WebRTC, Opus decoding/encoding and jitter buffers (the fake room hands over PCM), the livekit FFI
and its Rust threads that a real ``rtc.Room`` adds, real speech providers, Redis, and the post-call report (queued
on the filesystem broker, never run).
"""

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import warnings
from collections import Counter
from http.server import ThreadingHTTPServer
from pathlib import Path

BASE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE))
SPEECH_MS = 1200
PAUSE_AFTER_AGENT_S = 0.6
GIVE_UP_ANSWER_S = 8.0  # speak again if the agent has not answered by then


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def set_up(calls: int):
    """A fresh database, the LiveKit stand-in in a thread, Django; return the stand-in and the calls to carry."""
    from calls.tests.livekit_standin import LiveKitStandIn, make_handler

    standin = LiveKitStandIn()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(standin))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    # SQLite, the in-memory channel layer and the filesystem broker; the stand-in on loopback, without a proxy
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "HTTP_PROXY", "http_proxy", "ALL_PROXY",
                 "all_proxy"):
        os.environ.pop(name, None)
    os.environ.update(CALLKOM_VAR_DIR=tempfile.mkdtemp(prefix="callkom-bench-"), LOG_LEVEL="WARNING",
                      CELERY_TASK_ALWAYS_EAGER="0", DJANGO_SETTINGS_MODULE="callkom.settings",
                      LIVEKIT_URL=f"http://127.0.0.1:{server.server_address[1]}", LIVEKIT_API_KEY=standin.api_key,
                      LIVEKIT_API_SECRET=standin.api_secret)
    for command in ("migrate", "seed_demo"):
        subprocess.run([sys.executable, "manage.py", command, "-v0"], cwd=BASE, check=True, stdout=subprocess.DEVNULL)
    import django

    warnings.filterwarnings("ignore", "No directory at")  # no collected static files: this is no web server
    django.setup()
    from django.conf import settings

    from calls.models import Call, Script
    from calls.services import call_create
    from tenants.models import Tenant
    from tenants.scope import tenant_scope

    settings.DEBUG = False
    tenant = Tenant.objects.get(slug="demo")
    with tenant_scope(tenant):
        script = Script.objects.order_by("name").first()
        made = [call_create(tenant=tenant, script=script, direction=Call.Direction.INBOUND) for _ in range(calls)]
    standin.rooms.update(f"call-{call.pk}" for call in made)
    return standin, made


async def caller(media, seconds: float, speech: bytes, said: Counter) -> None:
    """Join as the SIP participant, answer the agent each time it falls quiet, hang up after ``seconds``."""
    from calls.testing_livekit import FakeParticipant, FakeTrack

    await media.the_room.connected.wait()
    loop, source = asyncio.get_running_loop(), media.source
    track, person = FakeTrack(), FakeParticipant("sip_caller", attributes={"sip.callStatus": "active"})
    media.the_room.emit("track_subscribed", track, object(), person)
    end, spoke_until = loop.time() + seconds, None
    while loop.time() < end:
        await asyncio.sleep(0.05)
        now = loop.time()
        quiet = source.last_at is not None and now - source.last_at >= PAUSE_AFTER_AGENT_S
        answered = spoke_until is None or source.last_at > spoke_until or now - spoke_until > GIVE_UP_ANSWER_S
        if quiet and answered and not track.said:
            track.say(speech)
            spoke_until, said["turns"] = now + SPEECH_MS / 1000, said["turns"] + 1
    media.the_room.emit("participant_disconnected", person)


async def run(calls: list, seconds: float) -> dict:
    from channels.layers import get_channel_layer
    from channels.routing import get_default_application
    from channels.worker import Worker

    from calls import bridge, livekit
    from calls.testing_livekit import RATE, FakeAudioSource, FakeMedia
    from voice.audio import tone
    from voice.runtime import freeze_startup_heap

    speech, medias, callers, said = tone(SPEECH_MS, 300.0, 0.3, sample_rate=RATE), [], [], Counter()

    def media_factory():
        media = FakeMedia()
        media.source = FakeAudioSource(keep=False)
        medias.append(media)
        callers.append(asyncio.ensure_future(caller(media, seconds, speech, said)))
        return media

    bridge.LiveKitBridgeConsumer.media_factory = staticmethod(media_factory)
    layer = get_channel_layer()
    worker = Worker(application=get_default_application(), channels=[livekit.BRIDGE_CHANNEL], channel_layer=layer)
    serving = [asyncio.ensure_future(worker.handle()), asyncio.ensure_future(worker.application_checker())]
    loop, peak = asyncio.get_running_loop(), [0]

    async def sample_rss():
        while True:
            peak[0] = max(peak[0], rss_kib())
            await asyncio.sleep(0.2)

    async def one_call(call, delay):
        await asyncio.sleep(delay)
        started = loop.time()
        await layer.send(livekit.BRIDGE_CHANNEL, livekit.bridge_message(call=call, mode="bench"))
        while (task := bridge.active_calls.get(str(call.pk))) is None:
            await asyncio.sleep(0.005)
        return await task, loop.time() - started

    freeze_startup_heap()
    rss_before = peak[0] = rss_kib()
    sampler = asyncio.ensure_future(sample_rss())
    before, wall_before = resource.getrusage(resource.RUSAGE_SELF), loop.time()
    rng = random.Random(0)
    ended = await asyncio.gather(*(one_call(call, rng.uniform(0, 1.0)) for call in calls))
    await asyncio.gather(*callers)
    after, wall = resource.getrusage(resource.RUSAGE_SELF), loop.time() - wall_before
    for task in (sampler, *serving):
        task.cancel()
    await asyncio.gather(sampler, *serving, return_exceptions=True)
    bridge.LiveKitBridgeConsumer.media_factory = bridge.RtcMedia  # let the finished calls go
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"cpu": cpu, "wall": wall, "ended": ended, "said": said["turns"], "rss_before": rss_before,
            "peak": peak[0], "frames_in": sum(s.frames for m in medias for s in m.streams),
            "frames_out": sum(m.source.count for m in medias)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    standin, calls = set_up(args.calls)
    result = asyncio.run(run(calls, args.seconds))
    from calls.models import Call
    from tenants.scope import all_tenants_scope

    with all_tenants_scope("benchmark"):
        metrics = Call.objects.filter(pk__in=[call.pk for call in calls]).values_list("turn_metrics", flat=True)
        answered = sum(1 for turns in metrics for turn in turns or [] if turn.get("e2e_ms") is not None)
    n, call_s = args.calls, statistics.mean(duration for _, duration in result["ended"])
    cpu_per_call = result["cpu"] / n
    print(json.dumps({
        "calls": n, "seconds": args.seconds,
        "wall_seconds": round(result["wall"], 1), "call_seconds_mean": round(call_s, 1),
        "cpu_seconds_total": round(result["cpu"], 2),
        "cpu_seconds_per_call": round(cpu_per_call, 3),
        "cpu_percent_of_one_core_per_call": round(100 * cpu_per_call / call_s, 2),
        "peak_rss_mib": round(result["peak"] / 1024, 1),
        "rss_growth_per_call_mib": round((result["peak"] - result["rss_before"]) / 1024 / n, 3),
        "frames_in_per_call": round(result["frames_in"] / n), "frames_out_per_call": round(result["frames_out"] / n),
        "end_reasons": dict(Counter(str(reason) for reason, _ in result["ended"])),
        "turns_spoken": result["said"], "turns_answered": answered,
        "rooms_deleted_at_standin": len(standin.calls("DeleteRoom")),
    }))
    shutil.rmtree(os.environ["CALLKOM_VAR_DIR"], ignore_errors=True)


if __name__ == "__main__":
    main()
