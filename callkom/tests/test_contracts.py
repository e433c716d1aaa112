"""The public contracts that users and tests outside this repository rely on (DESIGN.md §6), in one place.

Names and shapes only: each behaviour is tested where it lives. A key may be added to a JSON shape; none listed here
may disappear or change its name. This module must stay green through every change of layout.
"""

import io
import json
import re
from pathlib import Path

import jsonschema
import pytest
from django.conf import settings
from django.core.management import call_command, get_commands
from django.test import Client
from django.urls import resolve

# In a transaction rolled back after each test: the rows migrations write (the AI policy) are there, as after
# `migrate`. The commands that run a call use other threads, and need committed data: those are transactional.
pytestmark = pytest.mark.django_db

COMMANDS = ["seed_demo", "simulate_call", "bench_pipeline", "setup_periodic_tasks", "purge_expired",
            "verify_ai_log_chain", "create_api_key", "runworker"]
PUBLIC_PAGES = ["/privacy/requests/new/", "/subprocessors/", "/subprocessors.json", "/subprocessors/feed/",
                "/ai-policy/", "/healthz", "/accounts/login/", "/api/docs/", "/api/schema/"]
# Celery task names as beat rows and queued messages name them: renaming one strands both.
BEAT_TASKS = {"callkom.heartbeat", "webhooks.deliver_due", "calls.dialer_tick", "compliance.rights_reminders",
              "compliance.exports_purge", "compliance.purge_expired", "subprocessors.notices_apply_due",
              "subprocessors.mailings_send_pending", "tenants.idempotency_purge", "subprocessors.subscriptions_purge"}


@pytest.fixture
def demo():
    call_command("seed_demo", stdout=io.StringIO())
    call_command("setup_periodic_tasks", stdout=io.StringIO())


def api_key(*scopes: str) -> str:
    out = io.StringIO()
    call_command("create_api_key", "--tenant", "demo", "--scopes", ",".join(scopes), stdout=out)
    last = out.getvalue().strip().splitlines()[-1]
    assert re.fullmatch(r"\S+", last), "create_api_key prints the new key alone on its last line"
    return last


def test_the_commands_exist():
    assert set(COMMANDS) <= set(get_commands())


def test_public_pages_answer(demo):
    client = Client()
    for path in PUBLIC_PAGES:
        assert client.get(path).status_code == 200, path


def test_log_in_form_and_demo_log_ins(demo):
    client = Client()
    page = client.get("/accounts/login/").content.decode()
    assert 'name="username"' in page and 'name="password"' in page
    response = client.post("/accounts/login/", {"username": "owner@demo.example", "password": "demo-owner-2026"})
    assert response.status_code == 302
    assert client.get("/t/demo/").status_code == 200
    assert client.get("/t/demo/calls/try/").status_code == 200
    staff = Client()
    staff.post("/accounts/login/", {"username": "staff@callkom.example", "password": "callkom-staff-2026"})
    assert staff.get("/admin/").status_code == 200


def test_healthz_keys(demo):
    body = Client().get("/healthz").json()
    assert {"ok", "checks", "beat_heartbeat_age_s"} <= set(body)
    assert {"database", "cache", "channel_layer", "broker"} <= set(body["checks"])


def test_api_schema_docs_and_header(demo):
    client = Client()
    schema = client.get("/api/schema/", {"format": "json"}).json()
    assert schema["openapi"].startswith("3.")
    assert {"/api/v1/calls/", "/api/v1/scripts/", "/api/v1/campaigns/", "/api/v1/contacts/"} <= set(schema["paths"])
    assert "swagger" in client.get("/api/docs/").content.decode().lower()
    response = client.get("/api/v1/scripts/", HTTP_AUTHORIZATION=f"Api-Key {api_key('calls:read')}")
    assert response.status_code == 200


def test_scripts_api_shape(demo):
    response = Client().get("/api/v1/scripts/", HTTP_AUTHORIZATION=f"Api-Key {api_key('calls:read')}")
    body = response.json()
    assert {"next", "previous", "results"} <= set(body)
    assert {"id", "name", "language", "greeting", "goal", "steps", "instructions", "closing", "voice",
            "allowed_tools", "max_duration_s", "silence_timeout_s", "transfer_on_request",
            "transfer_after_misunderstandings", "created_at"} <= set(body["results"][0])


@pytest.mark.django_db(transaction=True)
def test_simulate_call_json(demo):
    out = io.StringIO()
    call_command("simulate_call", "--tenant", "demo", "--script", "Kitchen appointment", "--say",
                 "My name is Ann Lee", "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert {"call_id", "status", "turns", "summary", "report", "ai_invocations"} <= set(result)
    assert all({"speaker", "text", "latency_ms"} <= set(turn) for turn in result["turns"])
    assert {"name", "phone", "email", "need", "appointment"} <= set(result["report"])
    assert result["ai_invocations"]
    assert all({"provider", "role", "region", "ok"} <= set(item) for item in result["ai_invocations"])


def test_bench_pipeline_json():
    out = io.StringIO()
    call_command("bench_pipeline", "--calls", "1", "--turns", "1", "--json", stdout=out)
    report = json.loads(out.getvalue())
    for key in ("overhead_ms", "e2e_ms", "event_loop_lag_ms"):
        assert {"p50", "p95", "p99"} <= set(report[key]), key
    assert {"audio_underruns", "cpu_seconds_per_call", "peak_rss_mib"} <= set(report)


def test_subprocessors_json_is_schema_v1(demo):
    client = Client()
    schema = client.get("/subprocessors/schema/v1.json").json()
    document = client.get("/subprocessors.json").json()
    jsonschema.validate(document, schema)
    committed = next(Path(settings.BASE_DIR, "subprocessors", "schema").glob("*v1*.json"))
    assert json.loads(committed.read_text()) == schema


def test_beat_schedule_task_names(demo):
    from django_celery_beat.models import PeriodicTask

    from callkom.celery import app

    app.loader.import_default_modules()
    scheduled = set(PeriodicTask.objects.values_list("task", flat=True)) - {"celery.backend_cleanup"}
    assert BEAT_TASKS <= scheduled
    assert scheduled <= set(app.tasks), scheduled - set(app.tasks)


def test_websocket_routes_and_the_bridge_channel():
    from callkom.routing import websocket_urlpatterns

    uuid = "00000000-0000-0000-0000-000000000001"
    for path in (f"ws/calls/{uuid}/media/", f"ws/calls/{uuid}/live/"):
        assert any(pattern.pattern.match(path) for pattern in websocket_urlpatterns), path
    from callkom.asgi import application

    assert "livekit-bridge" in application.application_mapping["channel"].application_mapping


def test_simulator_url():
    assert resolve("/t/demo/calls/try/").url_name
