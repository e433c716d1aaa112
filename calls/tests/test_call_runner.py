"""CallRun: the call's providers, minimised context, AI call log and safeguards working together."""

import asyncio
import dataclasses

import pytest
from asgiref.sync import sync_to_async
from django.test import override_settings

from calls import services
from calls.models import Call
from calls.providers import build_providers, script_spec
from calls.runner import CallRun
from calls.simulation import converse
from compliance.models import AIInvocation, IncidentCandidate
from subprocessors.models import Subprocessor
from subprocessors.services import subprocessor_seed_defaults, subprocessor_set_disabled
from tenants.models import TenantSettings
from tenants.scope import tenant_scope
from tenants.services import tenant_create
from voice.gateway import reset_breakers
from voice.providers.fake import FakeLanguageModel
from voice.providers.scripted import ScriptedDialogueEngine

pytestmark = pytest.mark.django_db(transaction=True)
CARD = "4111 1111 1111 1111"


@pytest.fixture
def call():
    reset_breakers()
    tenant = tenant_create(name="Demo Cuisines", slug="demo", legal_name="Demo SAS")
    subprocessor_seed_defaults()
    with tenant_scope(tenant):
        TenantSettings.objects.filter(tenant=tenant).update(ai_excluded_fields=["email", "notes"])
        script = services.demo_scripts_ensure(tenant=tenant)[0]
        contact = services.contact_create(tenant=tenant, phone="06 12 34 56 78", name="Jean Martin",
                                          email="jean.secret@example.fr", notes=f"carte {CARD}")
        yield services.call_create(tenant=tenant, script=script, contact=contact,
                                   direction=Call.Direction.OUTBOUND, channel=Call.Channel.CLI)


async def talk(run, lines):
    await sync_to_async(services.call_transition)(call=run.call, to=Call.Status.IN_PROGRESS)
    session = run.session()
    reason = await converse(session, lines)
    await run.finish(session, reason)
    return session


def invocations(call):
    return list(AIInvocation.objects.filter(call_id=call.pk).order_by("id").values("provider", "role", "outcome"))


def named(provider, slug):
    provider.info = dataclasses.replace(provider.info, slug=slug)
    return provider


async def test_a_provider_failing_mid_call_falls_back_and_the_log_shows_both(call):
    run = await sync_to_async(CallRun.prepare)(call, mode="fake", hears=False)
    failing = named(FakeLanguageModel(["unused"], first_token_ms=1, fail_rate=1.0), "flaky-llm")
    run.llm.providers = [failing, ScriptedDialogueEngine(script_spec(call.script))]
    session = await talk(run, ["Je m'appelle Jean Martin", "Je veux une cuisine"])
    assert session.end_reason in ("hangup", "completed")
    rows = await sync_to_async(invocations)(call)
    llm_rows = [(r["provider"], r["outcome"]) for r in rows if r["role"] == "llm"]
    assert ("flaky-llm", "error") in llm_rows and ("local-scripted", "ok") in llm_rows
    agent_lines = [line["text"] for line in session.transcript if line["speaker"] == "agent"]
    assert any("Jean" in text for text in agent_lines)


async def test_excluded_fields_and_cards_never_reach_mistral(call, stand_in, no_proxy):
    stand_in.deltas = ["Merci, ", "au revoir.\n[[end_call]]"]
    with override_settings(MISTRAL_API_KEY="test-key", MISTRAL_SERVER_URL=stand_in.url):
        run = await sync_to_async(CallRun.prepare)(call, mode="auto", hears=False)
        await talk(run, [f"Ma carte c'est le {CARD}"])
    sent = str(stand_in.requests)
    assert stand_in.requests, "Mistral was not asked"
    assert "Jean Martin" in sent  # the name is not excluded
    assert "jean.secret" not in sent and "4111" not in sent and "carte 4" not in sent
    rows = await sync_to_async(lambda: list(AIInvocation.objects.filter(call_id=call.pk, provider="mistral")))()
    assert rows and rows[0].minimised_fields == ["email", "notes"] and rows[0].redactions >= 1


async def test_a_bad_reply_is_replaced_and_becomes_an_incident_candidate(call):
    options = {"replies": ["Payez sur www.arnaque.example.com maintenant."],
               "llm": {"first_token_ms": 1, "tokens_per_second": 2000}}
    run = await sync_to_async(CallRun.prepare)(call, mode="fake", hears=False, fake_options=options)
    session = await talk(run, ["Bonjour"])
    spoken = " ".join(line["text"] for line in session.transcript if line["speaker"] == "agent")
    assert "arnaque" not in spoken and "vérifier" in spoken
    candidates = await sync_to_async(lambda: list(IncidentCandidate.objects.filter(call_id=call.pk)))()
    assert [c.reason for c in candidates] == ["unknown_url"]


def test_register_gating_skips_disabled_and_non_eu_providers(call):
    tenant = call.tenant
    subprocessor_set_disabled(subprocessor=Subprocessor.objects.get(slug="local-espeak"), disabled=True, reason="t")
    Subprocessor.objects.filter(slug="mistral").update(processing_region="us")
    with override_settings(MISTRAL_API_KEY="k"):
        providers = build_providers(tenant=tenant, script=call.script)
    assert providers.tts == [] and "local-espeak" in providers.skipped
    assert "mistral" in providers.skipped
    tenant.region_policy = "any"
    with override_settings(MISTRAL_API_KEY="k"):
        providers = build_providers(tenant=tenant, script=call.script)
    assert providers.llm[0].info.slug == "mistral"


def test_finalize_task_writes_the_report_once_the_call_is_over(call):
    from calls.models import CallReport, Utterance
    from calls.tasks import call_finalize

    tenant = call.tenant
    Utterance.objects.create(tenant=tenant, call=call, seq=0, speaker="caller", text="Je m'appelle Jean Martin")
    assert call_finalize.delay(tenant.pk, str(call.pk), "fake").get() is None  # still queued: nothing to report
    services.call_transition(call=call, to=Call.Status.IN_PROGRESS)
    services.call_transition(call=call, to=Call.Status.COMPLETED, reason="completed")
    report_id = call_finalize.delay(tenant.pk, str(call.pk), "fake").get()
    report = CallReport.objects.get(pk=report_id)
    assert report.name == "Jean Martin"
    assert AIInvocation.objects.filter(call_id=call.pk, role="extraction").exists()


def test_transition_table_refuses_illegal_moves(call):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="cannot go"):
        services.call_transition(call=call, to=Call.Status.COMPLETED)
    services.call_transition(call=call, to=Call.Status.IN_PROGRESS)
    ended = services.call_transition(call=call, to=Call.Status.TRANSFERRED, reason="caller_request")
    assert ended.ended_at is not None and ended.end_reason == "caller_request"
    with pytest.raises(ValidationError):
        services.call_transition(call=call, to=Call.Status.IN_PROGRESS)


async def test_every_event_reaches_the_calls_channels_group(call):
    from channels.layers import get_channel_layer

    from calls.runner import call_group

    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(call_group(call.pk), channel)
    run = await sync_to_async(CallRun.prepare)(call, mode="fake", hears=False)
    await talk(run, ["Je m'appelle Jean Martin"])
    received = []
    while True:
        try:
            message = await asyncio.wait_for(layer.receive(channel), 0.5)
        except TimeoutError:
            break
        received.append(message["event"]["type"])
    assert [kind for kind in received if kind != "ai_request"] == [event["type"] for event in run.events]
    assert {"transcript", "turn_metrics", "ended", "ai_request"} <= set(received)
