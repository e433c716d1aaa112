"""Schemathesis against the partner API as it runs: no 5xx, and every answer matches the published schema.

The app is served by Django's threaded test server on 127.0.0.1 (as pytest-django's ``live_server`` does, with
Nagle's algorithm off: see ``_NoDelayWSGIServer``) on the test database, SQLite or PostgreSQL alike, with data for
two tenants made through the services: contacts, a contact list checked for risks, a draft and a running campaign,
a completed call with its transcript and report, a queued call, an AI invocation, a do-not-call entry, a webhook
endpoint, a verified rights request routed to the first tenant. Schemathesis (all its phases: examples, coverage,
fuzzing, stateful) then runs in a subprocess against ``/api/schema/?format=json`` with a key of the first tenant
holding every scope, and checks that no answer is a 5xx and that each one's status code, content type and body are
the ones the schema documents. Bounded: ``CALLKOM_FUZZ_EXAMPLES`` examples per operation in the fuzzing phase, a
10 s timeout per request, a wall clock for the whole run (``CALLKOM_FUZZ_TIMEOUT``); about 40 s on the project's
2-core machine. No hypothesis database and no report: nothing is written in the repository (schemathesis' cache
and its configuration live in pytest's tmp_path). The test fails with schemathesis' report (each failure with a
curl command that reproduces it) and the server's tracebacks of its 5xx.

Knobs (environment): ``CALLKOM_FUZZ_EXAMPLES`` (default 25), ``CALLKOM_FUZZ_SEED`` (default a fixed seed, so that
CI is reproducible; ``random`` for a new one each run), ``CALLKOM_FUZZ_TIMEOUT`` (seconds, default 240),
``CALLKOM_FUZZ_ARGS`` (more schemathesis options, e.g. ``--report har --report-dir /tmp/fuzz``). Run it alone with
``pytest callkom/tests/test_api_schemathesis.py``.
"""

import contextlib
import datetime
import ipaddress
import logging
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.core import mail
from django.core.servers.basehttp import ThreadedWSGIServer
from django.test.testcases import LiveServerThread
from django.utils import timezone

EXAMPLES = int(os.environ.get("CALLKOM_FUZZ_EXAMPLES", "25"))
SEED = os.environ.get("CALLKOM_FUZZ_SEED", "20261128")
WALL_CLOCK_S = float(os.environ.get("CALLKOM_FUZZ_TIMEOUT", "240"))
REQUEST_TIMEOUT_S = 10
CHECKS = ["not_a_server_error", "response_schema_conformance", "status_code_conformance",
          "content_type_conformance"]


def _schemathesis() -> list[str]:
    """The CLI of the venv running the tests (the package is in requirements.txt)."""
    script = Path(sys.executable).with_name("schemathesis")
    if script.exists():
        return [str(script)]
    found = shutil.which("schemathesis")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis())"]


class _ServerErrors(logging.Handler):
    """Collects what the live server logs as errors (a 500's traceback), to print beside schemathesis' report."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.lock_ = threading.Lock()
        self.records: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def emit(self, record):
        with self.lock_:
            self.records.append(self.format(record))


def _two_tenants() -> dict[str, str]:
    """Data for the fuzzer to find: Alpha (fuzzed, with a key holding every scope) and Beta (another tenant's rows
    alongside, which Alpha's key must never reach); returns each tenant's key."""
    from calls.donotcall import do_not_call_add
    from calls.models import Call
    from calls.services import (
        call_create,
        call_record_conversation,
        call_report_save,
        call_transition,
        contact_create,
        demo_scripts_ensure,
    )
    from campaigns.services.campaigns import campaign_create, campaign_start
    from campaigns.services.lists import contact_list_add, contact_list_check_risks, contact_list_create
    from compliance.services import ai_invocation_append
    from tenants.models import ApiScope, LegalBasis, TenantSettings
    from tenants.scope import tenant_scope
    from tenants.services import api_key_create, tenant_create, user_create
    from webhooks.services import endpoint_create

    keys = {}
    for slug, phones in (("alpha", ["+33612345678", "+33698765432", "+33601020304"]), ("beta", ["+33611223344"])):
        owner = user_create(email=f"owner@{slug}.example", password="correct-horse-battery-staple")
        tenant = tenant_create(name=slug.title(), slug=slug, legal_name=f"{slug.title()} SAS", owner=owner,
                               dpo_email=f"dpo@{slug}.example")
        with tenant_scope(tenant):
            script = demo_scripts_ensure(tenant=tenant)[0]
            contacts = [contact_create(tenant=tenant, phone=phone, name=f"Person {index}",
                                       email=f"person{index}@{slug}.example", company="ACME",
                                       custom_fields={"source": "crm", "rank": index})
                        for index, phone in enumerate(phones)]
            contact_list = contact_list_create(tenant=tenant, name="Customers", description="From the CRM",
                                               legal_basis="legitimate_interests", actor=owner)
            contact_list_add(contact_list=contact_list, contacts=contacts)
            contact_list_check_risks(contact_list=contact_list)
            contact_list.refresh_from_db()
            TenantSettings.objects.filter(tenant=tenant).update(sip_outbound_trunk_id="ST_fuzz")
            campaigns = [campaign_create(tenant=tenant, script=script, contact_list=contact_list, name=name,
                                         legal_basis=LegalBasis.CONSENT, consent_proof="CRM consent log")
                         for name in ("Winter offer", "Spring offer")]
            campaign_start(campaign=campaigns[1])
            call = call_create(tenant=tenant, script=script, direction=Call.Direction.OUTBOUND, contact=contacts[0])
            call = call_transition(call=call, to=Call.Status.IN_PROGRESS)
            call_record_conversation(call=call, transcript=[
                {"speaker": "agent", "text": "Bonjour, ici l'assistant d'ACME.", "started_ms": 0, "ended_ms": 1800},
                {"speaker": "caller", "text": "Bonjour, je voudrais un rendez-vous.", "started_ms": 2100,
                 "ended_ms": 4000},
                {"speaker": "agent", "text": "Mardi à 14 h 30 ?", "started_ms": 4300, "ended_ms": 5200,
                 "interrupted": True},
            ], turn_metrics=[{"turn": 1, "source": "audio", "e2e_ms": 910.0}], interruptions=1,
                providers_used=["local"])
            call = call_transition(call=call, to=Call.Status.COMPLETED, reason="hangup")
            call_report_save(call=call, summary="Wants an appointment.", source="llm", report={
                "name": "Person 0", "email": f"person0@{slug}.example", "company": "ACME", "need": "A kitchen",
                "appointment": "2031-03-10T14:30:00+00:00", "next_step": "Confirm", "confidence": 0.85})
            call_create(tenant=tenant, script=script, direction=Call.Direction.INBOUND)  # queued
            ai_invocation_append(tenant=tenant, call_id=call.pk, provider="mistral", role="llm",
                                 model="mistral-small-latest", region="eu", started_at=timezone.now(),
                                 duration_ms=321, outcome="ok", request_sha256="0" * 64, request_bytes=4321,
                                 response_sha256="1" * 64, response_bytes=512, prompt_tokens=100,
                                 completion_tokens=20, no_training=True)
            do_not_call_add(tenant=tenant, phone="+33699999999", reason="Asked on the phone")
            endpoint_create(tenant=tenant, url="https://hooks.example.com/callkom", events=["call.completed"],
                            description="CRM")
        key = api_key_create(tenant=tenant, name="fuzz", scopes=list(ApiScope.values),
                             expires_at=timezone.now() + datetime.timedelta(days=1))[1]
        keys[slug] = key
    _rights_request(phone="+33612345678")
    return keys


def _rights_request(*, phone: str) -> None:
    """A verified access request from a person Alpha holds: routed to Alpha, for the rights endpoints."""
    from compliance import rights

    request = rights.request_submit(kind="access", requester_name="Person 0", requester_email="person0@alpha.example",
                                    requester_phone=phone, language="en")
    codes = [m.group(1) for message in mail.outbox for m in [re.search(r"^\s+(\d{6})\s*$", message.body, re.M)] if m]
    if codes:
        rights.code_verify(request=request, code=codes[-1])


class _NoDelayWSGIServer(ThreadedWSGIServer):
    """Django's threaded test server with Nagle's algorithm off on each connection: it writes a response's headers
    and body in separate sends, and the client's delayed ACK then holds every response ~40 ms."""

    def get_request(self):
        sock, address = super().get_request()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, address


class _LiveServerThread(LiveServerThread):
    server_class = _NoDelayWSGIServer


@contextlib.contextmanager
def _live_server():
    """The app on 127.0.0.1 and a free port, on the test database (pytest-django's live_server, minus the delay)."""
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.db import connections

    shared = {conn.alias: conn for conn in connections.all() if conn.vendor == "sqlite" and conn.is_in_memory_db()}
    thread = _LiveServerThread("127.0.0.1", StaticFilesHandler, connections_override=shared)
    thread.daemon = True
    for conn in shared.values():
        conn.inc_thread_sharing()
    thread.start()
    thread.is_ready.wait()
    try:
        if thread.error:
            raise thread.error
        yield f"http://127.0.0.1:{thread.port}"
    finally:
        thread.terminate()
        for conn in shared.values():
            conn.dec_thread_sharing()


def _offline_resolve(host: str, port: int) -> list[str]:
    """Webhook URLs in this run come from the fuzzer: an address is itself, a name never resolves (as in CI)."""
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        raise socket.gaierror(socket.EAI_NONAME, "not resolved during the schemathesis run") from None


def _not_sent(url: str, **kwargs) -> int:
    raise ConnectionRefusedError("webhook deliveries are not sent during the schemathesis run")


def _tail(text: str, limit: int = 60_000) -> str:
    return text if len(text) <= limit else "…\n" + text[-limit:]


# Values every string and integer of the schema draws from now and then (when they fit the schema in positive
# tests, when they do not in negative ones): format characters that break %-formatting or str.format, quotes, NUL,
# a non-ASCII letter (Latin-1 only: strings also go in headers), phone numbers in the usual spellings (so that valid
# writes happen too), and small ids, which exist for most resources of the data above (so that detail endpoints
# find something).
CONFIG = r"""
[dictionaries.strings]
values = ["%", "%s", "%(value)s", "{0}", "'", "\"", "\\", "\u0000", "é", "+33612345678", "06 98 76 54 32",
          "1", "2026-11-28T10:00:00+01:00"]

[dictionaries.integers]
values = [1, 2, 3, 4, 5, 0, -1, 2147483648, 9223372036854775808]

[generation.dictionaries]
string = { dictionary = "strings", probability = 0.3 }
integer = { dictionary = "integers", probability = 0.25 }
"""


def _command(base: str, key: str, config: Path) -> list[str]:
    command = [
        *_schemathesis(), "--config-file", str(config), "run", f"{base}/api/schema/?format=json", "--url", base,
        "--header", f"Authorization: Api-Key {key}",
        "--checks", ",".join(CHECKS),
        "--max-examples", str(EXAMPLES),
        "--request-timeout", str(REQUEST_TIMEOUT_S),
        "--workers", "1",  # one request at a time: SQLite serialises writers anyway, and failures stay readable
        "--generation-database", "none",  # nothing kept between runs, nothing written in the repository
        "--no-shrink",
        "--no-color",
        "--warnings", "off",
        "--wait-for-schema", "30",
    ]
    if SEED != "random":
        command += ["--seed", SEED]
    return command + shlex.split(os.environ.get("CALLKOM_FUZZ_ARGS", ""))


@pytest.mark.clock  # the answers depend on the day: this month's usage (Paris time), overdue rights requests, the
# consent rule a campaign start checks on the French date
def test_partner_api_matches_its_schema_under_schemathesis(transactional_db, settings, tmp_path, monkeypatch):
    from webhooks import transport

    # The server runs in this process: its webhook deliveries (test pings, events of the fuzzer's changes, to URLs
    # the fuzzer chose) fail as unreachable instead of leaving the machine, and no name is looked up in the DNS.
    monkeypatch.setattr(transport, "resolve", _offline_resolve)
    monkeypatch.setattr(transport, "post", _not_sent)
    settings.API_RATE_LIMIT = "1000000/min"  # the fuzzer sends thousands of requests a minute with one key
    settings.WEBHOOKS_ALLOW_PRIVATE = False  # test deliveries to the fuzzer's URLs are refused (400), never sent
    settings.WEBHOOKS_ALLOW_INSECURE = False
    keys = _two_tenants()
    errors = _ServerErrors()
    request_log = logging.getLogger("django.request")
    level = request_log.level
    request_log.setLevel(logging.ERROR)  # thousands of 4xx warnings would bury the report; 5xx are errors
    request_log.addHandler(errors)
    # Nothing of the run lands in the repository: schemathesis' own cache and hypothesis' files go to tmp_path.
    environment = {**os.environ, "NO_COLOR": "1", "HYPOTHESIS_STORAGE_DIRECTORY": str(tmp_path / "hypothesis")}
    began = time.monotonic()
    try:
        config = tmp_path / "schemathesis.toml"
        config.write_text(CONFIG)
        with _live_server() as base:
            result = subprocess.run(_command(base, keys["alpha"], config), cwd=tmp_path, env=environment,
                                    capture_output=True, text=True, timeout=WALL_CLOCK_S, check=False)
    except subprocess.TimeoutExpired as expired:
        output = expired.stdout.decode(errors="replace") if isinstance(expired.stdout, bytes) else expired.stdout
        pytest.fail(f"schemathesis did not finish within {WALL_CLOCK_S:.0f} s:\n{_tail(output or '')}")
    finally:
        request_log.removeHandler(errors)
        request_log.setLevel(level)
    seconds = time.monotonic() - began
    output = result.stdout + ("\n" + result.stderr if result.stderr.strip() else "")
    print(f"schemathesis ran for {seconds:.1f} s (exit {result.returncode}, {EXAMPLES} examples per operation, "
          f"seed {SEED})\n{_tail(output, 8000)}")
    if result.returncode != 0:
        server = "\n\n".join(errors.records[:20])
        pytest.fail(f"schemathesis reported failures (exit {result.returncode}, {seconds:.1f} s):\n{_tail(output)}"
                    + (f"\n\nServer errors logged during the run ({len(errors.records)}):\n{_tail(server, 30_000)}"
                       if server else ""))
