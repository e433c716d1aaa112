"""The verification recipes of docs/webhooks.md, run as written against a real delivery: the docs cannot drift
from what CALLKOM sends."""

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings

from tenants.testing import TwoTenantTestCase
from webhooks.services import endpoint_create, event_emit

from .receiver import Receiver

DOC = Path(settings.BASE_DIR) / "docs" / "webhooks.md"


def code_block(language: str) -> str:
    """The first fenced block of that language in the webhooks documentation."""
    match = re.search(rf"^```{language}\n(.*?)^```", DOC.read_text(), re.S | re.M)
    assert match, f"docs/webhooks.md has no ```{language} block"
    return match.group(1)


@pytest.mark.clock  # the recipes check the signature's replay window against the clock
@override_settings(WEBHOOKS_ALLOW_INSECURE=True, WEBHOOKS_ALLOW_PRIVATE=True)
class DocumentedRecipeTests(TwoTenantTestCase):
    def setUp(self):
        with Receiver([200]) as receiver, self.in_alpha():
            self.endpoint = endpoint_create(tenant=self.alpha, url=receiver.url, events=["report.ready"])
            with self.captureOnCommitCallbacks(execute=True):
                event_emit(tenant=self.alpha, event="report.ready", data={"name": "Élodie Dupré", "need": "cuisine"})
        [self.request] = receiver.requests
        self.header = self.request.headers["Callkom-Signature"]

    def test_the_python_recipe_verifies_a_real_delivery(self):
        namespace = {}
        exec(compile(code_block("python"), str(DOC), "exec"), namespace)
        verify = namespace["verify_callkom_signature"]
        secret, body = self.endpoint.secret, self.request.body
        self.assertTrue(verify(secret, body, self.header))
        self.assertFalse(verify(secret, body.replace("Élodie".encode(), b"Elodie"), self.header))
        self.assertFalse(verify("whsec_wrong", body, self.header))
        old = re.sub(r"t=(\d+)", lambda m: f"t={int(m[1]) - 301}", self.header)
        self.assertFalse(verify(secret, body, old), "outside the replay window (and no longer signed)")

    def test_the_openssl_recipe_verifies_a_real_delivery(self):
        if not (shutil.which("bash") and shutil.which("openssl")):
            pytest.skip("bash and openssl are needed to run the shell recipe")
        script = code_block("sh")

        def run(body: bytes, secret: str, tmp: Path):
            (tmp / "body.json").write_bytes(body)
            # The parent's environment passes through: under faketime (LD_PRELOAD, FAKETIME, FAKETIME_*) the
            # recipe's ``date`` then reads the same clock as the one that signed the delivery.
            env = {**os.environ, "PATH": "/usr/bin:/bin", "SECRET": secret, "HEADER": self.header}
            return subprocess.run(["bash", "-c", script], cwd=tmp, env=env, capture_output=True, text=True,
                                  timeout=30)

        with tempfile.TemporaryDirectory() as tmp:
            good = run(self.request.body, self.endpoint.secret, Path(tmp))
            self.assertEqual((good.returncode, good.stdout.strip()), (0, "valid"), good.stderr)
            bad = run(self.request.body + b" ", self.endpoint.secret, Path(tmp))
            self.assertEqual((bad.returncode, bad.stdout.strip()), (1, "invalid"), bad.stderr)
