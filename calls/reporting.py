"""After the call: write its summary and structured report through the language-model chain (a Celery task)."""

from __future__ import annotations

import functools

from asgiref.sync import async_to_sync
from django.conf import settings
from django.utils import timezone

from compliance.services import ai_invocation_append
from tenants.models import TenantSettings
from voice.gateway import InvocationRecorder, LanguageModelChain
from voice.postcall import PostCallResult, summarise

from . import services
from .models import Call, CallReport
from .providers import AIInvocationLog, TenantMinimisation, build_providers


def call_report_generate(*, call: Call, mode: str = "auto") -> CallReport:
    """Summarise the call and extract its report (model, one repair, then the local extractor) and store them."""
    tenant, script = call.tenant, call.script
    tenant_settings = TenantSettings.objects.get(tenant=tenant)
    providers = build_providers(tenant=tenant, script=script, mode=mode)
    write = functools.partial(ai_invocation_append, tenant=tenant, call_id=call.pk)
    minimisation = TenantMinimisation.of(tenant_settings)
    recorder = InvocationRecorder(AIInvocationLog(write), minimisation=minimisation,
                                  register_version=providers.register_version)
    chain = LanguageModelChain(providers.llm, recorder,
                               first_output_timeout_s=settings.PIPELINE_FIRST_OUTPUT_TIMEOUT_S["llm"])
    transcript = [(u.speaker, u.text) for u in call.utterances.order_by("seq")]
    tz = tenant_settings.calling_timezone

    async def run() -> PostCallResult:
        try:
            return await summarise(transcript=transcript, language=script.language, llm=chain,
                                   now=timezone.now(), tz=tz,
                                   questions={step["slot"]: step["question"] for step in script.steps})
        finally:
            await recorder.flush()

    result = async_to_sync(run)()
    report = dict(result.report)
    return services.call_report_save(call=call, report=report, summary=result.summary, source=result.source)
