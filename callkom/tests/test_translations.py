"""Every user-facing string is marked for translation and the French catalogue covers all of them."""

import shutil
import subprocess
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.test import TestCase

BASE = Path(settings.BASE_DIR)
IGNORE = [".venv/*", "var/*", "bench/*", "*/tests/*"]


def test_french_catalogue_is_complete_and_up_to_date(tmp_path, monkeypatch):
    # makemessages writes next to the sources it scans: scan a copy, so the real catalogue is never touched.
    tree = tmp_path / "src"
    shutil.copytree(BASE, tree, ignore=shutil.ignore_patterns(".venv", "var", ".git", "node_modules", "__pycache__"))
    monkeypatch.chdir(tree)
    with override_locale_paths(tree / "locale"):
        call_command("makemessages", locale=["fr"], ignore_patterns=IGNORE, verbosity=0, no_obsolete=True)
    po = tree / "locale" / "fr" / "LC_MESSAGES" / "django.po"
    for flag in ("--untranslated", "--only-fuzzy"):
        result = subprocess.run(["msgattrib", flag, "--no-wrap", str(po)], capture_output=True, text=True, check=True)
        missing = [line for line in result.stdout.splitlines() if line.startswith("msgid ") and line != 'msgid ""']
        assert not missing, f"French translation missing ({flag}): {missing[:20]}"


class override_locale_paths:
    def __init__(self, path):
        self.path = path

    def __enter__(self):
        self.saved = settings.LOCALE_PATHS
        settings.LOCALE_PATHS = [str(self.path)]

    def __exit__(self, *exc):
        settings.LOCALE_PATHS = self.saved


class FrenchPagesTests(TestCase):
    def test_login_page_in_french(self):
        response = self.client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="fr")
        self.assertContains(response, "Se connecter")
        self.assertContains(response, 'lang="fr"')

    def test_language_switch_sticks(self):
        self.client.post("/i18n/setlang/", {"language": "fr", "next": "/"})
        self.assertContains(self.client.get("/"), "Des agents téléphoniques IA")
