"""Finding a person by phone number among N calls: the blind-index lookup against a decrypt-and-scan.

    .venv/bin/python bench/person_lookup.py --calls 1000000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/callkom_bench_lookup .venv/bin/python bench/person_lookup.py

Why: a rights request names a person by phone number, and every contact field is encrypted at rest (Fernet, a new
IV per value, so equal numbers do not give equal ciphertexts). The blind index (HMAC-SHA256 of the E.164 number,
indexed with the tenant) finds the person's contacts with one index lookup; without it, the only way is to read
and decrypt every contact of the tenant.

Data: one tenant, one script, N calls, each with its own contact (as outbound calls to an imported list create
them). The target person has 3 contacts and so 3 calls; the other contacts' numbers come from a pool of --pool
distinct French mobiles. Encrypting N values with Fernet would make the set-up dominate, so the pool's values are
encrypted once and their ciphertexts reused (the target's are encrypted each); decryption cost does not care: each
row's ciphertext is decrypted on its own, whatever another row holds. Every contact also carries its other
encrypted fields (name, e-mail, company, custom fields, notes), so rows are as wide as real ones. Rows are written
with bulk_create, the ciphertexts passed through as they are.

Measured, on the tenant scope, the normalisation of the number included in both:
- *index*: ``Call.objects.filter(tenant, contact__in=Contact.objects.filter(tenant, phone_index=...))``, the
  calls' ids listed (the query shape of the rights-request handler, ``calls.personal_data``); once before and once after
  ``ANALYZE``, since the planner's choice depends on table statistics: without them SQLite walks every call of the
  tenant through ``call_tenant_created`` and checks each against the subquery;
- *scan*: every contact's id and phone read in chunks of 5,000 (``values_list(...).iterator()``: the cheapest read
  the ORM offers, no model instances), each phone decrypted and compared, then the matching contacts' calls.
Both must find the same 3 calls. Each is run once untimed (warm-up), then timed --runs times (index) or --scan-runs
times (scan); medians reported. The database is a fresh SQLite file in a temporary CALLKOM_VAR_DIR, or the (empty,
created beforehand) PostgreSQL database of DATABASE_URL; ``migrate`` runs first; DEBUG is off.
"""

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import time
from pathlib import Path
from unittest import mock

BASE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE))

from django_setup import set_up_django  # noqa: E402 - bench/ is the script's own folder

TARGET = "+33698765432"
TARGET_CONTACTS = 3
BATCH = 5000
ENCRYPTED_BLANKS = ("email", "company", "notes")


def _pool(size: int, rng: random.Random) -> list[dict]:
    """Distinct mobiles other than the target's, each with its ciphertexts and blind index."""
    from django.core.exceptions import ValidationError
    from encrypted_model_fields.fields import encrypt_str

    from tenants.crypto import normalize_phone, phone_index

    numbers = set()
    while len(numbers) < size:
        try:
            numbers.add(normalize_phone(f"+336{rng.randrange(10**8):08d}"))
        except ValidationError:  # not every 06 range is allocated
            continue
    numbers.discard(TARGET)
    return [{"phone": encrypt_str(number).decode(), "phone_index": phone_index(number),
             "name": encrypt_str(f"Person {i}").decode()} for i, number in enumerate(sorted(numbers))]


def _target() -> dict:
    from encrypted_model_fields.fields import encrypt_str

    from tenants.crypto import phone_index

    return {"phone": encrypt_str(TARGET).decode(), "phone_index": phone_index(TARGET),
            "name": encrypt_str("Jean Martin").decode()}


def seed(calls: int, pool_size: int, rng: random.Random):
    """Write N contacts and N calls; return the tenant and the target's call ids."""
    from django.db import transaction
    from encrypted_model_fields.fields import EncryptedMixin, encrypt_str

    from calls.models import Call, Contact
    from calls.services import demo_scripts_ensure
    from tenants.scope import tenant_scope
    from tenants.services import tenant_create

    tenant = tenant_create(name="Bench", slug="bench", legal_name="Bench SAS")
    pool = _pool(pool_size, rng)
    blanks = {name: encrypt_str("").decode() for name in ENCRYPTED_BLANKS}
    blanks["custom_fields"] = encrypt_str("{}").decode()
    target_rows = set(rng.sample(range(calls), TARGET_CONTACTS))
    target_calls = []
    passthrough = mock.patch.object(EncryptedMixin, "get_db_prep_save", lambda self, value, connection: value)
    with tenant_scope(tenant), passthrough:
        script = demo_scripts_ensure(tenant=tenant)[0]
        for start in range(0, calls, BATCH):
            rows = range(start, min(start + BATCH, calls))
            with transaction.atomic():
                contacts = Contact.objects.bulk_create([
                    Contact(id=i + 1, tenant=tenant, **blanks, **(_target() if i in target_rows else rng.choice(pool)))
                    for i in rows])
                made = Call.objects.bulk_create([
                    Call(tenant=tenant, script=script, contact=contact, direction=Call.Direction.OUTBOUND,
                         legal_basis="legitimate_interests", status=Call.Status.COMPLETED) for contact in contacts])
            target_calls += [call.pk for call, i in zip(made, rows, strict=True) if i in target_rows]
    return tenant, sorted(target_calls)


def by_index(tenant, number: str) -> list:
    from calls.models import Call, Contact
    from tenants.crypto import phone_index

    contacts = Contact.objects.filter(tenant=tenant, phone_index=phone_index(number))
    return sorted(Call.objects.filter(tenant=tenant, contact__in=contacts).order_by().values_list("id", flat=True))


def by_scan(tenant, number: str) -> tuple[list, int]:
    from calls.models import Call, Contact
    from tenants.crypto import normalize_phone

    wanted = normalize_phone(number)
    matches, scanned = [], 0
    for contact_id, phone in Contact.objects.filter(tenant=tenant).values_list("id", "phone").iterator(BATCH):
        scanned += 1
        if phone == wanted:
            matches.append(contact_id)
    calls = Call.objects.filter(tenant=tenant, contact_id__in=matches).order_by().values_list("id", flat=True)
    return sorted(calls), scanned


def timed_runs(runs: int, function, *args) -> tuple[list[float], object]:
    """Time ``runs`` calls (after one untimed warm-up); return the seconds of each and the last result."""
    result = function(*args)
    seconds = []
    for _ in range(runs):
        began = time.perf_counter()
        result = function(*args)
        seconds.append(time.perf_counter() - began)
    return seconds, result


def analyze() -> None:
    """Give the query planner its table statistics, as PostgreSQL's autovacuum would after a bulk load (a SQLite
    database never gets them unless someone runs ANALYZE)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def check(found, expected) -> None:
    assert [str(pk) for pk in found] == [str(pk) for pk in expected], (found, expected)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--pool", type=int, default=10_000, help="distinct numbers behind the other contacts")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of the index lookup")
    parser.add_argument("--scan-runs", type=int, default=3, help="timed runs of the decrypt-and-scan")
    args = parser.parse_args()
    vendor = set_up_django()
    from tenants.scope import tenant_scope

    began = time.perf_counter()
    tenant, expected = seed(args.calls, args.pool, random.Random(0))
    seed_seconds = time.perf_counter() - began
    query = "06 98 76 54 32"  # as a person writes it on the rights-request form
    with tenant_scope(tenant):
        cold_runs, found = timed_runs(args.runs, by_index, tenant, query)
        check(found, expected)
        analyze()
        index_runs, found = timed_runs(args.runs, by_index, tenant, query)
        check(found, expected)
        scan_runs, (found, scanned) = timed_runs(args.scan_runs, by_scan, tenant, query)
        check(found, expected)
    index_ms, scan_ms = statistics.median(index_runs) * 1000, statistics.median(scan_runs) * 1000
    cold_ms = statistics.median(cold_runs) * 1000
    print(json.dumps({
        "database": vendor, "calls": args.calls, "contacts_scanned": scanned, "pool": args.pool,
        "seed_seconds": round(seed_seconds, 1), "matches": len(expected),
        "index_ms_median": round(index_ms, 3), "index_ms_runs": [round(s * 1000, 3) for s in index_runs],
        "index_without_statistics_ms_median": round(cold_ms, 3),
        "index_without_statistics_ms_runs": [round(s * 1000, 3) for s in cold_runs],
        "scan_ms_median": round(scan_ms, 1), "scan_ms_runs": [round(s * 1000, 1) for s in scan_runs],
        "scan_us_per_contact": round(scan_ms * 1000 / scanned, 2),
        "ratio_scan_over_index": round(scan_ms / index_ms),
        "ratio_scan_over_index_without_statistics": round(scan_ms / cold_ms, 1),
    }))
    shutil.rmtree(os.environ["CALLKOM_VAR_DIR"], ignore_errors=True)


if __name__ == "__main__":
    main()
