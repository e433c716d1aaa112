"""Latency of the partner API's call list (GET /api/v1/calls/) with 10,000 and 1,000,000 calls, as a ratio.

    createdb -h 127.0.0.1 -U postgres callkom_bench_api
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/callkom_bench_api .venv/bin/python bench/api_calls.py
    dropdb -h 127.0.0.1 -U postgres callkom_bench_api

Why: the list uses cursor pagination on the (tenant, -created_at) index, so a page should cost the same whatever
the tenant's size and however deep the page; the issue asks for 1M / 10k < 1.5.

Data: one tenant per size of ``--calls`` (default 10,000 and 1,000,000), in one database, so each measured tenant
sits beside the other's rows. Their calls span the same two years and are written in time order, the tenants
interleaved slice by slice as real traffic would leave them on disk: a realistic mix of statuses, directions and
outcomes, completed calls with three turns of metrics and their providers (rows as wide as real ones), no contact
(the list does not read it). PostgreSQL loads them with COPY, SQLite with bulk_create; ANALYZE runs after the load.
Each tenant has a key with every scope.

Measured through Django's test client (the whole stack: middleware, key authentication, throttling with the
configured cache, filtering, pagination, serialization, JSON rendering; no socket), DEBUG off, the rate limit raised
out of the way (``1000000/s``: the throttle still counts each request):
- *first page*: ``GET /api/v1/calls/`` (50 calls);
- *deep page*: the page reached after following ``next`` --depth times (default 50, i.e. 2,500 calls deep).
Each run: --warmup untimed rounds, then --requests timed rounds; a round sends one request of each case (tenant
and page) in turn, so that the noise of a shared machine falls on every case alike; p50 and p95 of each case's wall
times per run; the figures are medians over --runs runs; the ratio compares the largest tenant's medians with the
smallest one's, measured side by side. Queries per request are counted once per case. Without DATABASE_URL the
database is a fresh SQLite file in a throwaway directory.
"""

import argparse
import datetime
import json
import os
import random
import shutil
import statistics
import sys
import time
import uuid
from pathlib import Path

BASE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE))

from django_setup import set_up_django  # noqa: E402 - bench/ is the script's own folder

NOW = datetime.datetime(2026, 11, 28, 9, 0, tzinfo=datetime.UTC)
SPAN = datetime.timedelta(days=730)
SLICES = 200  # time slices of the interleaved load
STATUSES = [("completed", 62), ("no_answer", 14), ("failed", 4), ("canceled", 3), ("transferred", 7),
            ("queued", 2), ("in_progress", 1), ("ringing", 1), ("completed", 6)]
OUTCOMES = ["appointment", "information", "refused", "no_result", "transferred"]
PROVIDERS = json.dumps(["mistral", "google-stt", "google-tts"])


def _metrics(rng: random.Random) -> str:
    return json.dumps([{"turn": turn, "source": "audio", "stt_final_delay_ms": round(rng.uniform(150, 320), 1),
                        "llm_first_token_ms": round(rng.uniform(280, 520), 1),
                        "tts_first_byte_ms": round(rng.uniform(110, 190), 1),
                        "e2e_ms": round(rng.uniform(700, 1100), 1), "interruptions": 0} for turn in (1, 2, 3)])


def _row(tenant_id: int, script_id: int, created: datetime.datetime, rng: random.Random, weights) -> dict:
    status = rng.choices(*weights)[0]
    ended = status in ("completed", "no_answer", "failed", "canceled", "transferred")
    answered = status in ("completed", "transferred", "in_progress")
    started = created + datetime.timedelta(seconds=rng.randint(1, 20)) if status != "queued" else None
    talk = datetime.timedelta(seconds=rng.randint(30, 400))
    return {
        "id": uuid.UUID(int=rng.getrandbits(128), version=4), "tenant_id": tenant_id,
        "direction": "outbound" if rng.random() < 0.7 else "inbound", "channel": "phone", "status": status,
        "script_id": script_id, "contact_id": None, "legal_basis": "legitimate_interests", "campaign_id": None,
        "created_at": created, "started_at": started,
        "answered_at": started + datetime.timedelta(seconds=6) if answered and started else None,
        "ended_at": (started or created) + talk if ended else None,
        "end_reason": "hangup" if ended else "",
        "outcome": rng.choice(OUTCOMES) if status == "completed" else "",
        "turn_metrics": _metrics(rng) if status == "completed" else "[]",
        "interruptions": rng.randint(0, 2) if status == "completed" else 0,
        "providers_used": PROVIDERS if answered else "[]", "special_category": False,
    }


def _columns():
    from calls.models import Call

    return [field.column for field in Call._meta.concrete_fields]


def _write(rows: list[dict]) -> None:
    """Write rows of calls_call: COPY on PostgreSQL, bulk_create elsewhere."""
    from django.db import connection

    from calls.models import Call

    columns = _columns()
    missing = set(columns) - set(rows[0])
    if missing:
        raise SystemExit(f"bench/api_calls.py does not fill these new columns of calls_call: {sorted(missing)}")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            sql = f"COPY {Call._meta.db_table} ({', '.join(columns)}) FROM STDIN"
            with cursor.cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row([row[column] for column in columns])
    else:
        by_attname = {field.column: field.attname for field in Call._meta.concrete_fields}
        Call._base_manager.bulk_create([
            Call(**{by_attname[column]: (json.loads(value) if column in ("turn_metrics", "providers_used")
                                         else value) for column, value in row.items()}) for row in rows],
            batch_size=2000)


def seed(sizes: list[int], rng: random.Random) -> list[dict]:
    """One tenant per size with that many calls over the same two years, written interleaved; then ANALYZE."""
    from django.db import connection, transaction

    from calls.services import demo_scripts_ensure
    from tenants.models import ApiScope
    from tenants.scope import tenant_scope
    from tenants.services import api_key_create, tenant_create

    tenants = []
    for index, size in enumerate(sizes):
        tenant = tenant_create(name=f"Bench {size}", slug=f"bench-api-{index}-{size}", legal_name="Bench SAS")
        with tenant_scope(tenant):
            script = demo_scripts_ensure(tenant=tenant)[0]
        key = api_key_create(tenant=tenant, name="bench", scopes=list(ApiScope.values))[1]
        tenants.append({"tenant": tenant, "script": script, "calls": size, "key": key})
    weights = ([status for status, _ in STATUSES], [weight for _, weight in STATUSES])
    step = SPAN / SLICES
    for slice_index in range(SLICES):
        rows = []
        begin = NOW - SPAN + step * slice_index
        for entry in tenants:
            count = entry["calls"] * (slice_index + 1) // SLICES - entry["calls"] * slice_index // SLICES
            rows += [_row(entry["tenant"].pk, entry["script"].pk,
                          begin + step * (i + rng.random()) / max(count, 1), rng, weights) for i in range(count)]
        rows.sort(key=lambda row: row["created_at"])
        with transaction.atomic():
            _write(rows)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return tenants


def _deep_url(client, headers: dict, depth: int) -> str:
    url = "/api/v1/calls/"
    for _ in range(depth):
        response = client.get(url, **headers)
        assert response.status_code == 200, response.content[:300]
        url = response.json()["next"]
        assert url, "ran out of pages"
    return url


def _time_interleaved(client, plan: list, warmup: int, requests: int, rotate: int) -> list[list[float]]:
    """Time ``requests`` requests of every case, taking the cases in turn (one request each, the starting case
    rotating) so that a noisy moment of a shared machine falls on all of them alike; ``warmup`` untimed rounds
    first."""
    seconds = [[] for _ in plan]
    for round_index in range(warmup + requests):
        for offset in range(len(plan)):
            index = (round_index + rotate + offset) % len(plan)
            entry, _page, url = plan[index]
            began = time.perf_counter()
            response = client.get(url, **entry["headers"])
            elapsed = time.perf_counter() - began
            if response.status_code != 200:
                raise SystemExit(f"{url}: {response.status_code} {response.content[:300]!r}")
            if round_index >= warmup:
                seconds[index].append(elapsed)
    return seconds


def _queries(client, url: str, headers: dict) -> tuple[int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, **headers)
    return len(captured.captured_queries), len(response.json()["results"])


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, nargs="+", default=[10_000, 1_000_000],
                        help="one tenant per size; the ratio compares the largest with the smallest")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per case and run")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--depth", type=int, default=50, help="pages followed before the deep page")
    parser.add_argument("--json", action="store_true", help="print the results as JSON only")
    args = parser.parse_args()
    os.environ.setdefault("API_RATE_LIMIT", "1000000/s")
    vendor = set_up_django()
    from django.conf import settings
    from django.test import Client

    settings.API_RATE_LIMIT = "1000000/s"
    began = time.perf_counter()
    tenants = seed(sorted(args.calls), random.Random(0))
    seed_seconds = time.perf_counter() - began
    client = Client()
    cases = {}
    for entry in tenants:
        headers = {"HTTP_AUTHORIZATION": f"Api-Key {entry['key']}"}
        entry["headers"] = headers
        entry["urls"] = {"first": "/api/v1/calls/", "deep": _deep_url(client, headers, args.depth)}
        for page, url in entry["urls"].items():
            queries, rows = _queries(client, url, headers)
            cases[(entry["calls"], page)] = {"calls": entry["calls"], "page": page, "queries": queries, "rows": rows,
                                             "p50_runs": [], "p95_runs": []}
    plan = [(entry, page, url) for entry in tenants for page, url in entry["urls"].items()]
    for run in range(args.runs):
        seconds = _time_interleaved(client, plan, args.warmup, args.requests, rotate=run)
        for (entry, page, _url), timings in zip(plan, seconds, strict=True):
            case = cases[(entry["calls"], page)]
            case["p50_runs"].append(round(percentile(timings, 0.50) * 1000, 3))
            case["p95_runs"].append(round(percentile(timings, 0.95) * 1000, 3))
    for case in cases.values():
        case["p50_ms"] = statistics.median(case["p50_runs"])
        case["p95_ms"] = statistics.median(case["p95_runs"])
    small, large = min(args.calls), max(args.calls)
    ratios = {page: {stat: round(cases[(large, page)][stat] / cases[(small, page)][stat], 3)
                     for stat in ("p50_ms", "p95_ms")} for page in ("first", "deep")}
    result = {"database": vendor, "calls": sorted(args.calls), "runs": args.runs, "requests": args.requests,
              "warmup": args.warmup, "depth": args.depth, "seed_seconds": round(seed_seconds, 1),
              "cases": list(cases.values()), f"ratio_{large}_over_{small}": ratios}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"GET /api/v1/calls/ on {vendor}; medians of {args.runs} runs of {args.requests} requests "
              f"(after {args.warmup} warm-up); deep = after {args.depth} pages; seeded in {seed_seconds:.0f} s")
        print(f"{'calls':>10} {'page':>6} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8} {'rows':>5}  runs p50 / p95")
        for case in cases.values():
            print(f"{case['calls']:>10,} {case['page']:>6} {case['p50_ms']:>8.2f} {case['p95_ms']:>8.2f} "
                  f"{case['queries']:>8} {case['rows']:>5}  {case['p50_runs']} / {case['p95_runs']}")
        for page, ratio in ratios.items():
            print(f"ratio {large:,} / {small:,}, {page} page: p50 {ratio['p50_ms']:.2f}, p95 {ratio['p95_ms']:.2f}")
        print(json.dumps(result))
    if "CALLKOM_VAR_DIR" in os.environ:
        shutil.rmtree(os.environ["CALLKOM_VAR_DIR"], ignore_errors=True)


if __name__ == "__main__":
    main()
