import asyncio
import json

from asgiref.sync import sync_to_async
from django.core.management.base import CommandError

from calls import services
from calls.models import Call, Script
from calls.reporting import call_report_generate
from calls.runner import CallRun
from calls.simulation import converse
from compliance.selectors import ai_invocations_for_call
from tenants.commands import TenantCommand


class Command(TenantCommand):
    help = "Run one call through the whole voice pipeline with scripted caller lines; print the result."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--script", help="Name of the script (default: the tenant's first script).")
        parser.add_argument("--say", action="append", default=[], help="A caller line; repeat for each turn.")
        parser.add_argument("--audio", action="store_true",
                            help="Send each line as synthesised speech through speech-to-text.")
        parser.add_argument("--providers", choices=["auto", "local", "fake"], default="auto",
                            help="auto: vendors when configured, then local engines; fake: test adapters.")
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle_tenant(self, tenant, *args, **options):
        if not options["say"]:
            raise CommandError("Give at least one caller line with --say.")
        scripts = Script.objects.order_by("name")
        script = scripts.filter(name=options["script"]).first() if options["script"] else scripts.first()
        if script is None:
            raise CommandError(f"No script {options['script'] or ''} in tenant {tenant.slug}.".replace("  ", " "))
        call = services.call_create(tenant=tenant, script=script, direction=Call.Direction.INBOUND,
                                    channel=Call.Channel.CLI)
        result = asyncio.run(self._run(call, options))
        report = call_report_generate(call=Call.objects.get(pk=call.pk), mode=options["providers"])
        result["summary"] = report.summary
        result["report"] = {"name": report.name or None, "phone": report.phone or None,
                            "email": report.email or None, "need": report.need or None,
                            "appointment": report.appointment_at.isoformat() if report.appointment_at else None}
        result["report_source"] = report.source
        result["ai_invocations"] = [
            {"provider": i.provider, "role": i.role, "region": i.region, "ok": i.outcome == "ok"}
            for i in ai_invocations_for_call(call.pk)
        ]
        if options["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False, default=str))
        else:
            for turn in result["turns"]:
                self.stdout.write(f"{turn['speaker']:>6}: {turn['text']}")
            self.stdout.write(f"summary: {result['summary']}")

    async def _run(self, call, options):
        mode = options["providers"]
        fake_options = {"utterances": options["say"]} if mode == "fake" else None
        run = await sync_to_async(CallRun.prepare)(call, mode=mode, fake_options=fake_options, hears=options["audio"])
        await sync_to_async(services.call_transition)(call=call, to=Call.Status.IN_PROGRESS)
        session = run.session()
        speech = await _synthesise(run, options["say"]) if options["audio"] else None
        end_reason = await converse(session, options["say"], speech=speech)
        await run.finish(session, end_reason)
        return {
            "call_id": str(call.pk),
            "status": run.call.status,
            "end_reason": end_reason,
            "turns": _turns(session),
        }


async def _synthesise(run, lines):
    """Turn each caller line into speech with the local voice (the caller's side: not an AI request)."""
    from voice.providers.espeak import EspeakTextToSpeech

    voice = EspeakTextToSpeech(voice="en-us" if run.config.language == "en" else None)
    return {line: [frame async for frame in voice.synthesize(line, language=run.config.language)]
            for line in lines}


def _turns(session):
    """Pair each agent line with the latency of the caller turn it answers."""
    turns, caller_turns = [], 0
    metrics = {t.get("turn"): t for t in session.turns}
    for line in session.transcript:
        if not line["text"].strip():
            continue
        latency = None
        if line["speaker"] == "caller":
            caller_turns += 1
        elif caller_turns:
            latency = metrics.get(caller_turns, {}).get("e2e_ms")
        turns.append({"speaker": line["speaker"], "text": line["text"],
                      "latency_ms": round(latency) if latency is not None else None})
    return turns
