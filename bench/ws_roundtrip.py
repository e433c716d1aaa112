"""Media WebSocket round trip under load: N browser-like connections to a running daphne, on loopback.

Each connection starts a call, streams 20 ms frames at real time (silence, then 1.2 s of "speech" per turn) and
measures, for each turn, the time from its last speech frame sent to the first agent frame received. The server
runs the real consumer and pipeline on fake providers with the standard latency profile
(CALLKOM_PIPELINE_PROVIDERS=bench): compare the round trip with the injected provider latency, keeping in mind
that the client's clock and the server's VAD see the end of speech up to a frame (20 ms) apart. Usage:

    .venv/bin/python bench/ws_roundtrip.py --connections 50 --turns 3
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE))
FRAME_S = 0.02


def percentile(values, q):
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 1) if ordered else None


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def one_call(session, url, turns, start_delay, results):
    from voice.audio import silence, tone

    quiet, speech = silence(20), [tone(20, 300.0, 0.3)] * 60
    await asyncio.sleep(start_delay)
    async with session.ws_connect(url, max_msg_size=0) as ws:
        await ws.send_str(json.dumps({"type": "start"}))
        last_agent_frame = [0.0]
        first_after = {}

        async def reader():
            async for message in ws:
                if message.type.name == "BINARY":
                    now = time.perf_counter()
                    last_agent_frame[0] = now
                    for turn, sent_at in list(first_after.items()):
                        if sent_at is not None and now > sent_at:
                            results.append((now - sent_at) * 1000)
                            first_after[turn] = None
                elif message.type.name in ("CLOSED", "ERROR"):
                    return

        task = asyncio.create_task(reader())
        loop = asyncio.get_running_loop()
        due = loop.time()

        async def send(frame):
            nonlocal due
            await ws.send_bytes(frame)
            due += FRAME_S
            await asyncio.sleep(max(0.0, due - loop.time()))

        for turn in range(turns):
            # Wait for the agent to be quiet (greeting or previous reply over) for 0.5 s, streaming silence.
            while last_agent_frame[0] == 0.0 or time.perf_counter() - last_agent_frame[0] < 0.5:
                await send(quiet)
            for frame in speech:
                await send(frame)
            first_after[turn] = time.perf_counter()
            while first_after[turn] is not None:
                await send(quiet)
        while time.perf_counter() - last_agent_frame[0] < 0.5:
            await send(quiet)
        await ws.send_str(json.dumps({"type": "stop"}))
        await asyncio.wait_for(task, 30)


async def run(urls, turns):
    import aiohttp

    results = []
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(one_call(session, url, turns, i * 0.02, results) for i, url in enumerate(urls)))
    return results


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    var = tempfile.mkdtemp(prefix="callkom-bench-")
    env = {**os.environ, "CALLKOM_VAR_DIR": var, "CALLKOM_PIPELINE_PROVIDERS": "bench", "LOG_LEVEL": "WARNING"}
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=BASE, env=env, check=True)
    subprocess.run([python, "manage.py", "seed_demo"], cwd=BASE, env=env, check=True, stdout=subprocess.DEVNULL)
    server = subprocess.Popen([str(Path(python).parent / "daphne"), "-b", "127.0.0.1", "-p", str(args.port),
                               "callkom.asgi:application"], cwd=BASE, env=env, stderr=subprocess.DEVNULL)
    try:
        os.environ.update(env)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "callkom.settings")
        import django

        django.setup()
        from calls.models import Call, Script
        from calls.services import call_create
        from tenants.models import Tenant
        from tenants.scope import tenant_scope
        from tenants.ws import ws_token
        from voice.benchmark import injected_ms

        tenant = Tenant.objects.get(slug="demo")
        urls = []
        with tenant_scope(tenant):
            script = Script.objects.order_by("name").first()
            for _ in range(args.connections):
                call = call_create(tenant=tenant, script=script, direction=Call.Direction.INBOUND,
                                   channel=Call.Channel.WEB)
                path = f"/ws/calls/{call.pk}/media/"
                urls.append(f"ws://127.0.0.1:{args.port}{path}?token={ws_token(tenant=tenant, path=path)}")
        time.sleep(3)
        cpu_before, wall_before = cpu_seconds(server.pid), time.perf_counter()
        results = asyncio.run(run(urls, args.turns))
        cpu = cpu_seconds(server.pid) - cpu_before
        injected = injected_ms()
        print(json.dumps({
            "connections": args.connections, "turns": args.turns, "samples": len(results),
            "round_trip_ms": {"p50": round(statistics.median(results), 1), "p95": percentile(results, 0.95)},
            # For comparison: the provider latency the fakes inject on that path (bench_pipeline's reference).
            "injected_provider_ms": injected,
            "server_cpu_seconds_per_call": round(cpu / args.connections, 3),
            "server_cpu_utilisation": round(cpu / (time.perf_counter() - wall_before), 3),
        }))
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
