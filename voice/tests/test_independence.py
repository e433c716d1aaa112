"""voice/ is a plain library: all of it imports without Django settings, and loads no app.

It runs in a fresh interpreter with a clean environment, as this test process has Django loaded.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT_APPS = {"tenants", "calls", "compliance", "subprocessors", "webhooks", "campaigns",
                "callkom"}
FORBIDDEN = {"django", "asgiref", "channels", *PROJECT_APPS}

PROBE = """
import importlib, json, pkgutil, sys
import voice
names = sorted(module.name for module in pkgutil.walk_packages(voice.__path__, "voice."))
for name in names:
    importlib.import_module(name)
loaded = sorted({name.split(".")[0] for name in sys.modules})
print(json.dumps({"modules": names, "loaded": loaded}))
"""


def import_all_of_voice() -> dict:
    """Import every module of voice/ (its tests included) in a new interpreter; say what loaded."""
    # Nothing inherited: no DJANGO_SETTINGS_MODULE, no LD_PRELOAD (faketime) either.
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_all_of_voice_imports_without_django_asgiref_channels_or_a_project_app():
    report = import_all_of_voice()
    expected = {"voice.session", "voice.providers.mistral", "voice.tests.test_session"}
    assert expected <= set(report["modules"])
    loaded = report["loaded"]
    offenders = [name for name in loaded if name in FORBIDDEN or name.startswith("django")]
    assert offenders == [], f"importing voice loaded {offenders}"
