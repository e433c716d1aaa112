"""The pipeline asks the register: a provider not in service, objected to, or outside the region policy is skipped,
the chain falls back, and every AI request records the list version in force."""

import datetime

import pytest
from asgiref.sync import sync_to_async
from django.test import override_settings
from django.utils import timezone

from calls import services
from calls.models import Call, Script
from calls.providers import build_providers
from calls.runner import CallRun
from calls.simulation import converse
from compliance.models import AIInvocation
from subprocessors.models import ChangeNotice, Objection, Subprocessor
from subprocessors.register import current_version, register_publish
from subprocessors.services import subprocessor_seed_defaults
from tenants.scope import tenant_scope
from tenants.services import tenant_create
from voice.gateway import reset_breakers

# Change notices and effective dates are read against today's date.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.clock]
DAY = datetime.timedelta(days=1)


@pytest.fixture
def tenants():
    reset_breakers()
    subprocessor_seed_defaults()
    first = tenant_create(name="Cuisines Martin", slug="martin", legal_name="Cuisines Martin SAS")
    second = tenant_create(name="Assurances Durand", slug="durand", legal_name="Durand SA")
    return first, second


def script_of(tenant):
    with tenant_scope(tenant):
        services.demo_scripts_ensure(tenant=tenant)
        return Script.objects.filter(tenant=tenant).order_by("pk").first()


def llm_slugs(tenant):
    with override_settings(MISTRAL_API_KEY="k"), tenant_scope(tenant):
        providers = build_providers(tenant=tenant, script=script_of(tenant))
    return [provider.info.slug for provider in providers.llm], providers


def object_to(tenant, subprocessor, status=Objection.Status.OPEN):
    notice = ChangeNotice.objects.create(
        kind=ChangeNotice.Kind.ADDITION, subprocessor=subprocessor, summary="New model provider",
        effective_date=timezone.localdate() + datetime.timedelta(days=31), status=ChangeNotice.Status.ANNOUNCED,
        announced_at=timezone.now())
    with tenant_scope(tenant):
        return Objection.objects.create(tenant=tenant, notice=notice, reason="Not in our contract", status=status)


def test_an_open_objection_keeps_one_tenants_data_from_the_new_provider_only(tenants):
    first, second = tenants
    objection = object_to(first, Subprocessor.objects.get(slug="mistral"))
    slugs, providers = llm_slugs(first)
    assert slugs == ["local-scripted"]
    assert providers.skip_reasons["mistral"] == "objected to by the tenant"
    assert llm_slugs(second)[0] == ["mistral", "local-scripted"]

    # Staff exempt the tenant: still never sent there. Staff answer and the tenant withdraws: used again.
    with tenant_scope(first):
        Objection.objects.filter(pk=objection.pk).update(status=Objection.Status.EXEMPTED)
    assert llm_slugs(first)[0] == ["local-scripted"]
    with tenant_scope(first):
        Objection.objects.filter(pk=objection.pk).update(status=Objection.Status.ANSWERED)
    assert llm_slugs(first)[0] == ["mistral", "local-scripted"]


def test_an_objection_to_a_removal_blocks_nothing(tenants):
    first, _second = tenants
    mistral = Subprocessor.objects.get(slug="mistral")
    objection = object_to(first, mistral)
    ChangeNotice.objects.filter(pk=objection.notice_id).update(kind=ChangeNotice.Kind.REMOVAL)
    assert llm_slugs(first)[0] == ["mistral", "local-scripted"]


@pytest.mark.parametrize("change, reason", [
    ({"status": Subprocessor.Status.PLANNED}, "not in service"),
    ({"status": Subprocessor.Status.RETIRED}, "not in service"),
    ({"effective_from": 3 * DAY}, "not in service"),  # days from today, read when the test runs
    ({"effective_until": -DAY}, "not in service"),
    ({"processing_region": "us"}, "outside the tenant's region policy"),
])
def test_a_provider_not_in_service_or_outside_the_region_falls_back(tenants, change, reason):
    first, _second = tenants
    today = timezone.localdate()
    change = {field: today + value if isinstance(value, datetime.timedelta) else value
              for field, value in change.items()}
    Subprocessor.objects.filter(slug="mistral").update(**change)
    slugs, providers = llm_slugs(first)
    assert slugs == ["local-scripted"] and providers.skip_reasons["mistral"] == reason


def test_a_provider_becomes_usable_on_its_effective_date(tenants):
    first, _second = tenants
    Subprocessor.objects.filter(slug="mistral").update(effective_from=timezone.localdate())
    assert llm_slugs(first)[0] == ["mistral", "local-scripted"]


async def test_an_objected_provider_gets_no_request_and_the_log_names_the_list_version(tenants, stand_in, no_proxy):
    first, _second = tenants
    stand_in.deltas = ["Merci, ", "au revoir.\n[[end_call]]"]
    await sync_to_async(object_to)(first, await Subprocessor.objects.aget(slug="mistral"))
    await sync_to_async(Subprocessor.objects.filter(slug="ovhcloud").update)(certifications=["ISO/IEC 27001"])
    version = await sync_to_async(register_publish)(note="edited")
    assert version is not None and version.number == 2

    def new_call():
        with tenant_scope(first):
            return services.call_create(tenant=first, script=script_of(first), direction=Call.Direction.OUTBOUND,
                                        channel=Call.Channel.CLI, contact=None)

    call = await sync_to_async(new_call)()
    with override_settings(MISTRAL_API_KEY="test-key", MISTRAL_SERVER_URL=stand_in.url), tenant_scope(first):
        run = await sync_to_async(CallRun.prepare)(call, mode="auto", hears=False, speaks=False)
        await sync_to_async(services.call_transition)(call=call, to=Call.Status.IN_PROGRESS)
        session = run.session()
        await run.finish(session, await converse(session, ["Bonjour, je voudrais un devis"]))
        rows = await sync_to_async(lambda: list(AIInvocation.objects.filter(call_id=call.pk)))()
    assert stand_in.requests == []
    assert rows and {row.provider for row in rows} == {"local-scripted"}
    assert {row.register_version for row in rows} == {"2"}
    assert (await sync_to_async(current_version)()).number == 2
