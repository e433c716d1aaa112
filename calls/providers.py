"""Connect the voice engine to the project: the protocols of ``voice.protocols``, implemented here.

- ``AIInvocationLog`` (an ``AIRequestLog``): a call's AI requests go to the tenant's AI call log.
- ``TenantMinimisation`` (a ``Minimisation``): what reaches an AI, and what the log keeps.
- ``build_providers`` (a ``ProviderChoice``): each role's ordered providers for one call.

Order: the real vendor when its credentials are configured, then CALLKOM's local engine as the last fallback
(so a call always has somewhere to go). A provider is used only while its subprocessor in the public register is
active and within its effective dates, not switched off by staff, not objected to by the tenant (an open objection
to a change notice, or an exemption), and allowed by the tenant's region policy. Every request the call makes then
records the list version in force (``register_version``). ``mode="fake"`` builds the fake
adapters for tests, ``mode="bench"`` the same with the benchmark's standard latencies
(``voice.benchmark``); they are not in the register and never see real data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings

from subprocessors.models import Subprocessor
from subprocessors.register import version_in_force
from subprocessors.selectors import objected_slugs
from voice.benchmark import standard_providers
from voice.protocols import ProviderSet
from voice.providers.scripted import ScriptSpec, ScriptStep


class AIInvocationLog:
    """Append one call's AI requests to the tenant's AI call log, in order.

    ``append`` is the ORM writer (``compliance.services.ai_invocation_append`` bound to the tenant
    and call); it is synchronous, so each row runs in Django's thread for synchronous code.
    """

    def __init__(self, append: Callable[..., object]) -> None:
        self._append = sync_to_async(append, thread_sensitive=True)

    async def write(self, row: Mapping[str, Any]) -> None:
        await self._append(**row)


@dataclass(frozen=True)
class TenantMinimisation:
    """The tenant's settings on what reaches an AI provider and what its AI call log keeps."""

    excluded_fields: tuple[str, ...]
    keep_payloads: bool

    @classmethod
    def of(cls, tenant_settings) -> TenantMinimisation:
        return cls(excluded_fields=tuple(tenant_settings.ai_excluded_fields),
                   keep_payloads=tenant_settings.log_ai_request_payloads)


def script_spec(script) -> ScriptSpec:
    steps = [ScriptStep(slot=step["slot"], question=step["question"]) for step in script.steps]
    default = ScriptSpec.default(script.language)
    return ScriptSpec(language=script.language, greeting=script.greeting, goal=script.goal,
                      steps=steps or default.steps, closing=script.closing or default.closing,
                      fallback=default.fallback)


def _candidates(script):
    """Yield (role, slug, factory) in order of preference."""
    if settings.GOOGLE_APPLICATION_CREDENTIALS:
        from voice.providers.google_stt import GoogleSpeechToText
        from voice.providers.google_tts import GoogleTextToSpeech

        yield "stt", "google-stt", lambda: GoogleSpeechToText(project_id=settings.GOOGLE_CLOUD_PROJECT,
                                                              location=settings.GOOGLE_LOCATION)
        yield "tts", "google-tts", lambda: GoogleTextToSpeech(location=settings.GOOGLE_LOCATION)
    if settings.MISTRAL_API_KEY:
        from voice.providers.mistral import MistralLanguageModel

        yield "llm", "mistral", lambda: MistralLanguageModel(
            settings.MISTRAL_API_KEY, model=settings.MISTRAL_MODEL, server_url=settings.MISTRAL_SERVER_URL or None)
    from voice.providers.espeak import EspeakTextToSpeech
    from voice.providers.pocketsphinx_stt import PocketsphinxSpeechToText
    from voice.providers.scripted import ScriptedDialogueEngine

    yield "stt", "local-pocketsphinx", PocketsphinxSpeechToText
    yield "llm", "local-scripted", lambda: ScriptedDialogueEngine(script_spec(script))
    yield "tts", "local-espeak", lambda: EspeakTextToSpeech(voice=script.voice or None)


def build_providers(*, tenant, script, mode: str = "auto", fake_options: dict | None = None) -> ProviderSet:
    """Return the providers a call of ``tenant`` on ``script`` may use now."""
    if mode == "fake":
        providers = _fake_providers(script, fake_options or {})
        version = version_in_force() if tenant is not None else None
        providers.register_version = str(version.number) if version else ""
        return providers
    if mode == "bench":
        return standard_providers()
    register = {sub.slug: sub for sub in Subprocessor.objects.all()}
    objected = objected_slugs(tenant)
    version = version_in_force()
    providers = ProviderSet(register_version=str(version.number) if version else "")
    for role, slug, factory in _candidates(script):
        if mode == "local" and not slug.startswith("local-"):
            continue
        reason = _refusal(register.get(slug), tenant, objected)
        if reason:
            providers.skipped.append(slug)
            providers.skip_reasons[slug] = reason
            continue
        getattr(providers, role).append(factory())
    return providers


def _refusal(subprocessor: Subprocessor | None, tenant, objected: set[str]) -> str:
    """Why this provider may not receive the tenant's data now, or "" when it may."""
    if subprocessor is None:
        return "not in the register"
    if not subprocessor.in_service():
        return "not in service"
    if subprocessor.slug in objected:
        return "objected to by the tenant"
    if not subprocessor.usable_for(tenant.region_policy):
        return "outside the tenant's region policy"
    return ""


def _fake_providers(script, options: dict) -> ProviderSet:
    from voice.providers.fake import FakeLanguageModel, FakeSpeechToText, FakeTextToSpeech
    from voice.providers.scripted import ScriptedDialogueEngine

    llm = FakeLanguageModel(options["replies"], **options.get("llm", {})) if "replies" in options else None
    return ProviderSet(
        stt=[FakeSpeechToText(options.get("utterances", []), **options.get("stt", {}))],
        llm=[llm or ScriptedDialogueEngine(script_spec(script))],
        tts=[FakeTextToSpeech(**options.get("tts", {}))],
    )
