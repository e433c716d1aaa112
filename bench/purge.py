"""Retention purge throughput against a raw SQL DELETE of the same rows, as a ratio.

    .venv/bin/python bench/purge.py --rows 100000 --runs 3
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/callkom_bench_purge .venv/bin/python bench/purge.py

One tenant, ``--calls`` completed calls that ended 400 days ago (past the one-year transcript period), and ``--rows``
utterances spread evenly over them, each text Fernet-encrypted as the pipeline stores it (``bulk_create``; not
timed). Each run then measures, on the same rows:
- *purge*: ``retention_run_continue`` of a run started at the fixed ``NOW`` (the transcripts are the only data past
  a period: the other categories answer with empty queries), batches of ``--batch-size`` in their own transaction,
  each deleting and counting together, through the registry's calls handler;
- *raw*: the utterances created again (same calls, sequence numbers and texts), then one
  ``DELETE FROM calls_utterance WHERE tenant_id = %s AND call_id IN (SELECT id FROM calls_call WHERE tenant_id = %s
  AND (ended_at < %s OR (ended_at IS NULL AND created_at < %s)))``: the handler's predicate, in one statement.
Each figure is rows deleted per wall-clock second; the ratio is purge / raw; medians over the runs. On PostgreSQL
the table is vacuumed and analysed after each load, so both deletes start from the same state.

The database is a fresh SQLite file in a temporary CALLKOM_VAR_DIR, or the (empty, created beforehand) PostgreSQL
database of DATABASE_URL; ``migrate`` runs first. DEBUG is off (no query log).
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

BASE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE))

from django_setup import set_up_django  # noqa: E402 - bench/ is the script's own folder

NOW = datetime(2026, 12, 1, 2, 15, tzinfo=UTC)
ENDED = NOW - timedelta(days=400)


def seed_calls(calls: int):
    """The tenant and its ended calls (their transcripts come and go with each run)."""
    from calls.models import Call
    from calls.services import demo_scripts_ensure
    from tenants.scope import tenant_scope
    from tenants.services import tenant_create

    tenant = tenant_create(name="Bench", slug=f"bench-purge-{os.getpid()}", legal_name="Bench SAS")
    with tenant_scope(tenant):
        script = demo_scripts_ensure(tenant=tenant)[0]
        made = Call.objects.bulk_create(
            (Call(tenant=tenant, script=script, direction="outbound", legal_basis="consent", status="completed",
                  created_at=ENDED - timedelta(minutes=3), started_at=ENDED - timedelta(minutes=3), ended_at=ENDED)
             for _ in range(calls)), batch_size=1000)
    return tenant, [call.pk for call in made]


def load(tenant, call_ids: list, rows: int) -> None:
    """Create the utterances (texts encrypted one by one, as ``bulk_create`` stores them), then vacuum."""
    from django.db import connection

    from calls.models import Utterance

    per_call = rows // len(call_ids)
    Utterance.objects.bulk_create(
        (Utterance(tenant=tenant, call_id=call_id, seq=seq, speaker="caller" if seq % 2 else "agent",
                   text=f"Bonjour, je souhaiterais un rendez-vous pour la semaine prochaine ({seq}).")
         for call_id in call_ids for seq in range(per_call)), batch_size=2000)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE calls_utterance")


def purge(tenant, batch_size: int) -> tuple[float, int]:
    from compliance.models import RetentionRun
    from compliance.retention import retention_run_continue, retention_run_start

    run = retention_run_start(tenant=tenant, trigger=RetentionRun.Trigger.COMMAND, now=NOW)
    began = time.perf_counter()
    run = retention_run_continue(run=run, batch_size=batch_size)
    seconds = time.perf_counter() - began
    assert run.status == RetentionRun.Status.COMPLETED, run.error
    return seconds, run.counts["transcripts"]


def raw_delete(tenant) -> tuple[float, int]:
    from django.db import connection, transaction

    cutoff = NOW - timedelta(days=365)
    began = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM calls_utterance WHERE tenant_id = %s AND call_id IN (SELECT id FROM calls_call "
            "WHERE tenant_id = %s AND (ended_at < %s OR (ended_at IS NULL AND created_at < %s)))",
            [tenant.pk, tenant.pk, cutoff, cutoff])
        deleted = cursor.rowcount
    return time.perf_counter() - began, deleted


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=5_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    vendor = set_up_django()
    from tenants.scope import tenant_scope

    tenant, call_ids = seed_calls(args.calls)
    rates = {"purge": [], "raw": []}
    with tenant_scope(tenant):
        for _ in range(args.runs):
            load(tenant, call_ids, args.rows)
            seconds, deleted = purge(tenant, args.batch_size)
            assert deleted == args.rows, deleted
            rates["purge"].append(deleted / seconds)
            load(tenant, call_ids, args.rows)
            seconds, deleted = raw_delete(tenant)
            assert deleted == args.rows, deleted
            rates["raw"].append(deleted / seconds)
    ratios = [p / r for p, r in zip(rates["purge"], rates["raw"], strict=True)]
    print(json.dumps({
        "database": vendor, "rows": args.rows, "calls": args.calls, "batch_size": args.batch_size, "runs": args.runs,
        "purge_rows_per_s_median": round(statistics.median(rates["purge"])),
        "raw_rows_per_s_median": round(statistics.median(rates["raw"])),
        "ratio_median": round(statistics.median(ratios), 3),
        "purge_rows_per_s_runs": [round(rate) for rate in rates["purge"]],
        "raw_rows_per_s_runs": [round(rate) for rate in rates["raw"]],
        "ratio_runs": [round(ratio, 3) for ratio in ratios],
    }))
    shutil.rmtree(os.environ["CALLKOM_VAR_DIR"], ignore_errors=True)


if __name__ == "__main__":
    main()
