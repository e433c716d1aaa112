"""A whole call through the pipeline, from the command down to the rows it leaves behind."""

import datetime
import io
import json
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from calls.models import Call, CallReport, Utterance
from calls.services import demo_scripts_ensure
from compliance.models import AIInvocation
from compliance.selectors import ai_log_chain_verify
from subprocessors.services import subprocessor_seed_defaults
from tenants.scope import tenant_scope
from tenants.services import tenant_create
from voice.gateway import reset_breakers

pytestmark = pytest.mark.django_db(transaction=True)

LINES = ["Je m'appelle Jean Dupont", "Je voudrais refaire ma cuisine", "Demain à 14h30", "jean.dupont@exemple.fr"]
PARIS = ZoneInfo("Europe/Paris")  # the tenant's calling time zone: "demain" is read from its date


def tomorrow_at_14_30(*instants) -> set[str]:
    """The appointment "Demain à 14h30" means, said at one of ``instants`` (the call's start and end)."""
    days = {instant.astimezone(PARIS).date() + datetime.timedelta(days=1) for instant in instants}
    return {datetime.datetime.combine(day, datetime.time(14, 30), tzinfo=PARIS).isoformat(timespec="seconds")
            for day in days}


@pytest.fixture
def tenant():
    reset_breakers()
    tenant = tenant_create(name="Demo Cuisines", slug="demo", legal_name="Demo SAS")
    subprocessor_seed_defaults()
    with tenant_scope(tenant):
        demo_scripts_ensure(tenant=tenant)
    return tenant


def simulate(*args):
    out = io.StringIO()
    call_command("simulate_call", "--tenant", "demo", "--json", *args, stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.clock  # "demain" is the day after today in Paris
def test_a_typed_call_with_local_engines_fills_the_report(tenant):
    args = ["--script", "Prise de rendez-vous cuisine", "--providers", "local"]
    started = timezone.now()
    result = simulate(*args, *[part for line in LINES for part in ("--say", line)])
    ended = timezone.now()
    assert result["status"] == "completed"
    assert result["turns"][0]["speaker"] == "agent" and "assistant virtuel" in result["turns"][0]["text"]
    assert [t["text"] for t in result["turns"] if t["speaker"] == "caller"] == LINES
    assert all(t["latency_ms"] is not None for t in result["turns"][2::2])
    assert result["report"]["name"] == "Jean Dupont"
    assert result["report"]["email"] == "jean.dupont@exemple.fr"
    # the day after the call's date in Paris (either date, should the call span midnight there)
    assert result["report"]["appointment"] in tomorrow_at_14_30(started, ended)
    roles = {(i["provider"], i["role"]) for i in result["ai_invocations"]}
    assert {("local-scripted", "llm"), ("local-espeak", "tts"), ("local-scripted", "extraction")} <= roles
    with tenant_scope(tenant):
        call = Call.objects.get(pk=result["call_id"])
        assert call.outcome == Call.Outcome.APPOINTMENT
        assert Utterance.objects.filter(call=call).count() == len(result["turns"])
        assert CallReport.objects.get(call=call).source in ("llm", "llm_repaired", "local")
        assert AIInvocation.objects.filter(call_id=call.pk).count() == len(result["ai_invocations"])
        assert ai_log_chain_verify(tenant).ok
    with connection.cursor() as cursor:
        cursor.execute("SELECT text FROM calls_utterance")
        assert not any("Jean Dupont" in row[0] for row in cursor.fetchall())


def test_fake_providers_run_the_same_path(tenant):
    result = simulate("--providers", "fake", "--say", "My name is Ann Lee", "--say", "I need a new kitchen")
    assert result["status"] == "completed"
    assert {i["provider"] for i in result["ai_invocations"]} >= {"fake-tts", "local-scripted"}


def test_a_card_number_said_by_the_caller_is_not_stored(tenant):
    result = simulate("--providers", "local", "--say", "Ma carte est 4111 1111 1111 1111", "--say", "merci")
    with tenant_scope(tenant):
        texts = [u.text for u in Utterance.objects.filter(call_id=result["call_id"])]
    assert any("[card number removed]" in text for text in texts)
    assert not any("4111" in text for text in texts)


def test_unknown_tenant_or_script_is_a_clear_error(tenant):
    with pytest.raises(CommandError, match="No tenant"):
        call_command("simulate_call", "--tenant", "nope", "--say", "x")
    with pytest.raises(CommandError, match="No script"):
        call_command("simulate_call", "--tenant", "demo", "--script", "Nope", "--say", "x")
    with pytest.raises(CommandError, match="--say"):
        call_command("simulate_call", "--tenant", "demo")
