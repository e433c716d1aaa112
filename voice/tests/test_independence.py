"""voice/ is a plain library: all of it imports without Django settings, and loads no web framework and no app.

The check runs in a fresh interpreter with a clean environment, since this test process has Django loaded.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {"asgiref", "channels", "tenants", "calls", "compliance", "subprocessors", "webhooks", "campaigns",
             "callkom"}

PROBE = """
import importlib, json, pkgutil, sys
import voice
names = sorted(module.name for module in pkgutil.walk_packages(voice.__path__, "voice."))
for name in names:
    importlib.import_module(name)
print(json.dumps({"modules": names, "loaded": sorted({name.split(".")[0] for name in sys.modules})}))
"""


def import_all_of_voice() -> dict:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)}  # no DJANGO_SETTINGS_MODULE
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_every_module_of_voice_imports_without_django_asgiref_channels_or_a_project_app():
    report = import_all_of_voice()
    assert {"voice.session", "voice.gateway", "voice.providers.google_stt", "voice.tests.test_session"} <= set(
        report["modules"])
    loaded = set(report["loaded"])
    offenders = sorted(name for name in loaded if name in FORBIDDEN or name.startswith("django"))
    assert offenders == [], f"importing voice loaded {offenders}"
