"""Dialer decision time per contact: a running campaign of N contacts with a do-not-call list and call history.

    .venv/bin/python bench/dialer_decision.py --contacts 10000 --runs 5
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/callkom_bench_dialer .venv/bin/python bench/dialer_decision.py

One tenant, one script, a contact list of N contacts (their numbers encrypted and blind-indexed, as imports store
them): 90 % French mobiles, 6 % overseas (Martinique, Réunion), 4 % North American numbers with one or two time
zones, and 0.5 % invalid numbers. 5 % of the numbers are on the tenant's do-not-call list and 1 % on CALLKOM's;
30 % have 1 to 5 outbound calls in the last 40 days (so some are at the attempt cap), 3 % a refusal in the last 90.
The campaign (consent, France's default rules) is started, which creates the N targets.

Measured at Tuesday 1 December 2026, 10:30 in Paris (most callees inside their window), over every target in
batches of ``DIALER_BATCH`` (200), each step as the dialer does it:
- *decide*: read the batch's due targets with their contacts (decrypting the numbers), load ``NumberFacts`` (four
  queries), run ``dialer_decide`` on each target. Nothing is written.
- *tick*: ``campaign_dial_due`` at 04:30 UTC the next day (every callee outside the window): the same, plus writing
  each skip and each target's next attempt; rolled back after each batch, so every batch sees the same state.
Each run covers all N targets; the figure is the median over the runs of (run time / N), plus the queries per batch.
The database is a fresh SQLite file in a temporary CALLKOM_VAR_DIR, or the (empty, created beforehand) PostgreSQL
database of DATABASE_URL; ``migrate`` runs first. DEBUG is off (no query log) except while counting queries.
"""

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

BASE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE))

from django_setup import set_up_django  # noqa: E402 - bench/ is the script's own folder

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)  # a Tuesday, 10:30 in Paris
NIGHT = NOW + timedelta(hours=19)  # 05:30 in Paris, 20:30 in Los Angeles: every callee outside the window


class Clock:
    """Wall time and this process's CPU time spent inside ``with clock:`` blocks (the machine is shared: CPU time
    is less disturbed by other processes; with PostgreSQL it leaves out the server's own work)."""

    def __init__(self):
        self.wall = self.cpu = 0.0

    def __enter__(self):
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def __exit__(self, *exc):
        self.wall += time.perf_counter() - self._wall
        self.cpu += time.process_time() - self._cpu


def _number(rng: random.Random, i: int) -> str:
    roll = rng.random()
    if roll < 0.005:
        return "+3361"  # too short: an invalid number that an old import let through
    if roll < 0.035:
        return f"+596696{i:06d}"[:13]  # Martinique mobile
    if roll < 0.065:
        return f"+262692{i:06d}"[:13]  # Réunion mobile (two zones)
    if roll < 0.085:
        return f"+1208555{i % 10000:04d}"  # Idaho (two zones)
    if roll < 0.105:
        return f"+1212555{i % 10000:04d}"  # New York
    return f"+336{10000000 + i:08d}"


def seed(contacts: int, rng: random.Random):
    """Create the tenant, its list, do-not-call entries, call history and the started campaign."""
    from django.utils import timezone

    from calls.models import Call, Contact, DoNotCall, PlatformDoNotCall
    from calls.services import demo_scripts_ensure
    from campaigns.models import ContactList, ContactListEntry
    from campaigns.services.campaigns import campaign_create, campaign_start
    from tenants.crypto import blind_index
    from tenants.models import LegalBasis, TenantSettings
    from tenants.scope import tenant_scope
    from tenants.services import tenant_create

    tenant = tenant_create(name="Bench", slug="bench", legal_name="Bench SAS")
    with tenant_scope(tenant):
        TenantSettings.objects.filter(tenant=tenant).update(sip_outbound_trunk_id="ST_bench")
        script = demo_scripts_ensure(tenant=tenant)[0]
        numbers = [_number(rng, i) for i in range(contacts)]
        made = Contact.objects.bulk_create(
            (Contact(tenant=tenant, phone=n, phone_index=blind_index("phone", n)) for n in numbers), batch_size=1000)
        contact_list = ContactList.objects.create(tenant=tenant, name="Bench list", risk_checked_at=timezone.now())
        ContactListEntry.objects.bulk_create(
            (ContactListEntry(tenant=tenant, contact_list=contact_list, contact=c) for c in made), batch_size=1000)
        # the invalid numbers repeat: their duplicates are not listed twice
        DoNotCall.objects.bulk_create([DoNotCall(tenant=tenant, phone=c.phone, phone_index=c.phone_index)
                                       for c in rng.sample(made, contacts // 20)], ignore_conflicts=True)
        PlatformDoNotCall.objects.bulk_create([PlatformDoNotCall(phone_index=c.phone_index)
                                               for c in rng.sample(made, contacts // 100)], ignore_conflicts=True)
        history = []
        for contact in rng.sample(made, contacts * 3 // 10):
            for _ in range(rng.randint(1, 5)):
                at = NOW - timedelta(days=rng.uniform(0, 40))
                history.append(Call(tenant=tenant, script=script, contact=contact, direction="outbound",
                                    legal_basis="consent", status="no_answer", created_at=at, started_at=at))
        for contact in rng.sample(made, contacts * 3 // 100):
            at = NOW - timedelta(days=rng.uniform(0, 90))
            history.append(Call(tenant=tenant, script=script, contact=contact, direction="outbound",
                                legal_basis="consent", status="completed", outcome="refused", created_at=at,
                                started_at=at, answered_at=at))
        Call.objects.bulk_create(history, batch_size=1000)
        campaign = campaign_create(tenant=tenant, name="Bench", script=script, contact_list=contact_list,
                                   legal_basis=LegalBasis.CONSENT, consent_proof="bench", now=NOW)
        campaign = campaign_start(campaign=campaign, now=NOW)
    return tenant, campaign, len(history)


def decide_all(campaign, now) -> tuple[Clock, list[int], dict]:
    """Decide every target, batch by batch, writing nothing; return the time, queries per batch and the verdicts."""
    from collections import Counter

    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    from campaigns.dialer import DIALER_BATCH, DialContext, NumberFacts, dialer_decide, target_number
    from campaigns.models import CampaignTarget

    ids = list(CampaignTarget.objects.filter(campaign=campaign).order_by("pk").values_list("pk", flat=True))
    clock, queries, verdicts = Clock(), [], Counter()
    for start in range(0, len(ids), DIALER_BATCH):
        chunk = ids[start:start + DIALER_BATCH]
        reset_queries()  # the query log keeps 9000 entries: counting past them gives 0
        with CaptureQueriesContext(connection) as captured, clock:
            targets = list(CampaignTarget.objects.filter(pk__in=chunk).select_related("contact").only(
                "status", "attempts", "next_attempt_at", "campaign_id", "tenant_id", "contact__tenant_id",
                "contact__phone", "contact__phone_index", "contact__time_zone"))
            numbers = {t.pk: target_number(t) for t in targets}
            facts = NumberFacts.load(campaign=campaign, indexes={i for _n, i in numbers.values()} - {""}, now=now)
            context = DialContext(campaign, now, facts, numbers=numbers)
            decisions = [dialer_decide(context=context, target=t) for t in targets]
        queries.append(len(captured))
        verdicts.update(d.reason or "call" for d in decisions)
    return clock, queries, dict(verdicts)


def tick_all(campaign, now) -> tuple[Clock, list[int]]:
    """Run ``campaign_dial_due`` over every target (outside the window: all skipped), rolling back each batch."""
    from django.db import connection, reset_queries, transaction
    from django.test.utils import CaptureQueriesContext

    from campaigns.dialer import DIALER_BATCH, campaign_dial_due
    from campaigns.models import CampaignTarget

    total = CampaignTarget.objects.filter(campaign=campaign).count()
    clock, queries = Clock(), []
    for offset in range(0, total, DIALER_BATCH):
        with transaction.atomic():
            # move the batch's targets ahead of the others, as if they were the ones due now
            ids = list(CampaignTarget.objects.filter(campaign=campaign).order_by("pk")
                       .values_list("pk", flat=True)[offset:offset + DIALER_BATCH])
            later = now + timedelta(days=3650)
            CampaignTarget.objects.filter(campaign=campaign).exclude(pk__in=ids).update(next_attempt_at=later)
            reset_queries()
            with CaptureQueriesContext(connection) as captured, clock:
                result = campaign_dial_due(campaign=campaign, now=now)
            assert result.placed == 0 and sum(result.skipped.values()) == len(ids), result
            queries.append(len(captured))
            transaction.set_rollback(True)
    return clock, queries


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    vendor = set_up_django()
    from tenants.scope import tenant_scope

    began = time.perf_counter()
    tenant, campaign, calls = seed(args.contacts, random.Random(0))
    seed_seconds = time.perf_counter() - began
    runs = {"decide_wall": [], "decide_cpu": [], "tick_wall": [], "tick_cpu": []}
    with tenant_scope(tenant):
        for _ in range(args.runs):
            clock, queries, verdicts = decide_all(campaign, NOW)
            runs["decide_wall"].append(clock.wall / args.contacts * 1e6)
            runs["decide_cpu"].append(clock.cpu / args.contacts * 1e6)
            clock, tick_queries = tick_all(campaign, NIGHT)
            runs["tick_wall"].append(clock.wall / args.contacts * 1e6)
            runs["tick_cpu"].append(clock.cpu / args.contacts * 1e6)
    print(json.dumps({
        "database": vendor, "contacts": args.contacts, "history_calls": calls, "runs": args.runs,
        "seed_seconds": round(seed_seconds, 1),
        **{f"{name}_us_per_contact_median": round(statistics.median(values), 1) for name, values in runs.items()},
        **{f"{name}_us_per_contact_runs": [round(v, 1) for v in values] for name, values in runs.items()},
        "decide_queries_per_batch": sorted(set(queries)),
        "tick_queries_per_batch_min_max": [min(tick_queries), max(tick_queries)],
        "verdicts": verdicts,
    }))
    shutil.rmtree(os.environ["CALLKOM_VAR_DIR"], ignore_errors=True)


if __name__ == "__main__":
    main()
