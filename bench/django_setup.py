"""Start Django for a benchmark script: a throwaway var directory, migrations applied, DEBUG off.

The database is whatever DATABASE_URL says (SQLite in the throwaway directory when unset), so one script measures
both back ends.
"""

import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

BASE = Path(__file__).resolve().parents[1]


def set_up_django() -> str:
    """Migrate a fresh database and set Django up in this process; return the database vendor."""
    os.environ.update(CALLKOM_VAR_DIR=tempfile.mkdtemp(prefix="callkom-bench-"), LOG_LEVEL="WARNING",
                      DJANGO_SETTINGS_MODULE="callkom.settings")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=BASE, check=True, stdout=subprocess.DEVNULL)
    import django

    warnings.filterwarnings("ignore", "No directory at")
    django.setup()
    from django.conf import settings
    from django.db import connection

    settings.DEBUG = False  # no query log growing through a long run
    return connection.vendor
