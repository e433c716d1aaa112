"""Tasks of the calls app. Each takes ids, re-reads what it needs in the tenant's scope, and calls one service,
imported inside the task (services queue tasks; tasks never make an import circle with them)."""

from tenants.tasks import tenant_task

from .models import Call


@tenant_task(name="calls.call_finalize")
def call_finalize(tenant, call_id: str, mode: str = "auto"):
    """Write the report of a call that has ended (a no-op for a call that is gone or still running)."""
    from .events import report_ready_emit
    from .reporting import call_report_generate

    call = Call.objects.select_related("script", "tenant").filter(pk=call_id).first()
    if call is None or not call.is_over:
        return None
    report = call_report_generate(call=call, mode=mode)
    report_ready_emit(report=report)
    return str(report.pk)


@tenant_task(name="calls.call_dial")
def call_dial(tenant, call_id: str):
    """Dial a queued outbound call through LiveKit (a no-op for a call that is gone or no longer queued)."""
    from .outbound import call_dial_now

    call = Call.objects.select_related("tenant", "script", "contact").filter(pk=call_id).first()
    if call is None or call.status != Call.Status.QUEUED:
        return None
    return call_dial_now(call=call).status
