"""The browser call simulator: choose a script, talk to the agent through the microphone, or type."""

import json

from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from tenants.decorators import portal_view
from tenants.ws import ws_token

from . import services
from .models import Call, Script

REPORT_LABELS = {
    "name": _lazy("Name"), "phone": _lazy("Phone number"), "email": _lazy("E-mail address"),
    "company": _lazy("Company"), "need": _lazy("Need"), "appointment": _lazy("Appointment"),
    "special_category": _lazy("Sensitive data mentioned"),
}


@portal_view()
def simulator(request):
    scripts = Script.objects.order_by("name")
    labels = json.dumps({key: str(label) for key, label in REPORT_LABELS.items()}, ensure_ascii=False)
    return render(request, "calls/simulator.html", {"scripts": scripts, "report_labels_json": labels})


@require_POST
@portal_view()
def simulator_start(request):
    """Create a call for the chosen script and return where to connect (the media token lasts five minutes)."""
    script_id = request.POST.get("script", "")
    script = Script.objects.filter(pk=script_id).first() if script_id.isdigit() else None
    if script is None:
        return JsonResponse({"detail": _("Choose one of your scripts.")}, status=400)
    call = services.call_create(tenant=request.tenant, script=script, direction=Call.Direction.INBOUND,
                                channel=Call.Channel.WEB)
    media_path = f"/ws/calls/{call.pk}/media/"
    return JsonResponse({
        "call_id": str(call.pk),
        "language": script.language,
        "media_url": f"{media_path}?token={ws_token(tenant=request.tenant, path=media_path, user=request.user)}",
        "live_url": f"/ws/calls/{call.pk}/live/",
        "call_url": reverse("call-detail", kwargs={"tenant_slug": request.tenant.slug, "call_id": call.pk}),
    })
