"""Contact import throughput and memory: a generated file of N rows through the real import services.

    .venv/bin/python bench/import_contacts.py --rows 100000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/callkom_bench_import .venv/bin/python bench/import_contacts.py

The file is a French CRM export: ``Prénom;Nom;Téléphone;E-mail;Société;Ville`` in UTF-8 with semicolons, every
number a distinct valid mobile written "06 12 34 56 78" (``--format xlsx`` writes the same rows as a workbook).
It goes through campaigns.services.imports as the portal uses it: ``import_upload`` (format and encoding detection,
encrypted storage, header and row count), ``import_configure`` with the guessed mapping, ``import_start``, whose
Celery task
runs eagerly in this process (``import_run``: pass 1 checks every row, pass 2 normalises, de-duplicates and writes
batches of 1000 contacts with six Fernet-encrypted fields and two blind indexes each, then the risk check decrypts
every contact's other information once). Not measured: the HTTP upload itself and a separate Celery worker.

Without DATABASE_URL the database is a fresh SQLite file in a temporary CALLKOM_VAR_DIR; with it, the database
must exist (migrations are applied here) and each run imports into a new tenant. DEBUG is off after start-up (no
query log), as in production. Peak RSS is getrusage's maximum for the whole process (generation included: it
streams to a temporary file).
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

BASE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE))
HEADER = ["Prénom", "Nom", "Téléphone", "E-mail", "Société", "Ville"]
CITIES = ["Paris", "Lyon", "Marseille", "Lille", "Nantes", "Bordeaux", "Toulouse", "Strasbourg"]


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rows(count: int):
    for n in range(count):
        digits = f"{n:08d}"
        phone = "06 " + " ".join(digits[i:i + 2] for i in range(0, 8, 2))
        yield [f"Prénom{n}", f"Nom{n}", phone, f"contact{n}@exemple.fr", f"Société {n % 997}", CITIES[n % 8]]


def write_file(path: Path, count: int, file_format: str) -> None:
    if file_format == "csv":
        with open(path, "w", encoding="utf-8", newline="") as out:
            out.write(";".join(HEADER) + "\r\n")
            for row in rows(count):
                out.write(";".join(row) + "\r\n")
        return
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(HEADER)
    for row in rows(count):
        sheet.append(row)
    workbook.save(path)


def set_up():
    """Django on SQLite in a temporary folder (or on DATABASE_URL), migrated, tasks eager, DEBUG off."""
    os.environ.update(CALLKOM_VAR_DIR=tempfile.mkdtemp(prefix="callkom-bench-import-"), LOG_LEVEL="WARNING",
                      CELERY_TASK_ALWAYS_EAGER="1", DJANGO_SETTINGS_MODULE="callkom.settings")
    for name in ("REDIS_URL", "CELERY_BROKER_URL"):
        os.environ.pop(name, None)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=BASE, check=True, stdout=subprocess.DEVNULL)
    import warnings

    import django

    warnings.filterwarnings("ignore", "No directory at")
    django.setup()
    from django.conf import settings

    settings.DEBUG = False


def timed(phases: dict, name: str, func):
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            phases[name] = round(phases.get(name, 0) + time.perf_counter() - started, 2)

    return wrapper


def run(count: int, file_format: str) -> dict:
    from django.core.files import File
    from django.db import connection

    from campaigns import importing
    from campaigns.forms import guess_mapping
    from campaigns.models import ContactImport
    from campaigns.services import imports, lists
    from tenants.scope import tenant_scope
    from tenants.services import tenant_create, user_create

    phases: dict = {}
    importing.check_pass = timed(phases, "check_rows_s", importing.check_pass)
    importing.import_pass = timed(phases, "write_rows_s", importing.import_pass)
    # import_run calls the risk check by the name its module imported.
    imports.contact_list_check_risks = timed(phases, "risk_check_s", lists.contact_list_check_risks)

    suffix = uuid.uuid4().hex[:8]
    owner = user_create(email=f"bench-{suffix}@example.com", password=uuid.uuid4().hex)
    tenant = tenant_create(name=f"Bench {suffix}", slug=f"bench-{suffix}", legal_name="Bench SAS", owner=owner)
    path = Path(os.environ["CALLKOM_VAR_DIR"]) / f"contacts.{file_format}"
    write_file(path, count, file_format)
    rss_before = rss_mib()
    with tenant_scope(tenant):
        contact_list = lists.contact_list_create(tenant=tenant, name="Bench", legal_basis="contract")
        started = time.perf_counter()
        with open(path, "rb") as handle:
            contact_import = imports.import_upload(contact_list=contact_list, uploaded_file=File(handle, path.name))
        phases["upload_s"] = round(time.perf_counter() - started, 2)
        contact_import = imports.import_configure(contact_import=contact_import,
                                                   mapping=guess_mapping(contact_import.headers))
        imports.import_start(contact_import=contact_import)  # the eager task runs import_run here
        total = time.perf_counter() - started
        contact_import = ContactImport.objects.get(pk=contact_import.pk)
    return {
        "rows": count, "format": file_format, "database": connection.vendor,
        "file_mib": round(path.stat().st_size / 2**20, 1),
        "status": contact_import.status, "imported": contact_import.imported_rows,
        "duplicates": contact_import.duplicate_rows, "invalid": contact_import.invalid_rows,
        "seconds_total": round(total, 2), "rows_per_s": round(count / total), **phases,
        "rss_before_import_mib": round(rss_before, 1), "peak_rss_mib": round(peak_rss_mib(), 1),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    args = parser.parse_args()
    set_up()
    try:
        print(json.dumps(run(args.rows, args.format)))
    finally:
        shutil.rmtree(os.environ["CALLKOM_VAR_DIR"], ignore_errors=True)


if __name__ == "__main__":
    main()
