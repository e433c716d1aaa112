"""Portal pages of the calls: the list, one call, and the live board."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST, require_safe

from tenants.decorators import portal_view
from tenants.roles import Perm, role_has

from . import selectors, services
from .donotcall import do_not_call_add, do_not_call_reason, do_not_call_remove
from .forms import CallFilterForm, DoNotCallForm, OutboundCallForm
from .livekit import LiveKitNotConfigured, livekit_config
from .models import DoNotCall, Recording
from .outbound import call_start_outbound
from .recording import recording_audio
from .templatetags.calls_tags import call_duration, seconds

LIVE_REFRESH_SECONDS = 5


@require_safe
@portal_view(Perm.VIEW)
def call_list(request):
    """List the tenant's calls, newest first, filtered and paged by an opaque cursor; bad input answers 400."""
    form = CallFilterForm(request.GET, tenant=request.tenant)
    zone = selectors.tenant_zone(request.tenant)
    if not form.is_valid():
        return render(request, "calls/call_list.html", {"form": form, "page": None, "zone": zone}, status=400)
    queryset = selectors.calls_filtered(tenant=request.tenant, **form.filters())
    page = selectors.calls_page(queryset, after=form.cleaned_data["cursor"], per_page=form.page_size())
    context = {"form": form, "page": page, "zone": zone, "outbound_form": OutboundCallForm(tenant=request.tenant)}
    return render(request, "calls/call_list.html", context)


@require_safe
@portal_view(Perm.VIEW)
def call_detail(request, call_id):
    """Show one call of the tenant: facts, report, transcript, latencies, AI requests, audit; 404 for others'."""
    call = get_object_or_404(selectors.calls_for_detail(), pk=call_id)
    detail = selectors.call_detail(call=call, tenant=request.tenant)
    return render(request, "calls/call_detail.html", {"detail": detail, "call": call})


@require_safe
@portal_view(Perm.VIEW)
def live_board(request):
    """Show the calls in progress; the page refreshes itself from ``live_board_json``."""
    calls = selectors.calls_live(tenant=request.tenant)
    context = {"calls": calls, "refresh_seconds": LIVE_REFRESH_SECONDS, "zone": selectors.tenant_zone(request.tenant)}
    return render(request, "calls/live_board.html", context)


@require_safe
@portal_view(Perm.VIEW)
def live_board_json(request):
    """Return the calls in progress for the live board's refresh."""
    zone = selectors.tenant_zone(request.tenant)
    calls = selectors.calls_live(tenant=request.tenant)
    rows = [_live_row(request.tenant.slug, call, zone) for call in calls]
    now = timezone.now()
    response = JsonResponse({
        "calls": rows,
        "count": len(rows),
        "count_label": ngettext("%(count)s call in progress.", "%(count)s calls in progress.", len(rows))
        % {"count": len(rows)},
        "at": now.isoformat(),
        "updated_label": _("Updated at %(time)s")
        % {"time": formats.time_format(timezone.localtime(now, zone), "H:i:s")},
    })
    response["Cache-Control"] = "no-store"
    return response


def _live_row(slug, call, zone):
    started = call.started_at or call.created_at
    return {
        "id": str(call.pk),
        "url": reverse("call-detail", kwargs={"tenant_slug": slug, "call_id": call.pk}),
        "status": call.status,
        "status_label": call.get_status_display(),
        "direction": call.direction,
        "direction_label": call.get_direction_display(),
        "channel_label": call.get_channel_display(),
        "script": call.script.name,
        "started_at": started.isoformat(),
        "started_display": formats.date_format(timezone.localtime(started, zone), "DATETIME_FORMAT"),
        "duration": seconds(call_duration(call)),
    }


@require_POST
@portal_view(Perm.RUN_CAMPAIGNS)
def call_outbound_start(request):
    """Place one outbound call to a number typed in the portal; its page follows the call."""
    form = OutboundCallForm(request.POST, tenant=request.tenant)
    if form.is_valid():
        try:
            livekit_config()
        except LiveKitNotConfigured as error:
            form.add_error(None, _("Outbound calls go through LiveKit, which is not configured here (%(detail)s). "
                                   "Try the agent in the call simulator instead.") % {"detail": error})
        else:
            refusal = do_not_call_reason(tenant=request.tenant, phone_e164=form.cleaned_data["phone"])
            if refusal:
                form.add_error("phone", refusal)
            else:
                contact = services.contact_create(tenant=request.tenant, phone=form.cleaned_data["phone"],
                                                  name=form.cleaned_data["name"])
                call = call_start_outbound(tenant=request.tenant, script=form.cleaned_data["script"],
                                           contact=contact)
                return redirect("call-detail", tenant_slug=request.tenant.slug, call_id=call.pk)
    return render(request, "calls/outbound_form.html", {"form": form}, status=400)


@require_safe
@portal_view(Perm.VIEW)
def call_recording(request, call_id):
    """Play the call's recording to a member of its tenant (decrypted for this response only)."""
    recording = get_object_or_404(Recording, call_id=call_id)
    try:
        audio = recording_audio(recording)
    except FileNotFoundError:  # retention deletes the file just before the row: this row is about to go too
        raise Http404("The recording is no longer kept.")
    response = HttpResponse(audio, content_type="audio/wav")
    response["Content-Disposition"] = f'inline; filename="call-{call_id}.wav"'
    response["Cache-Control"] = "private, no-store"
    return response


@portal_view(Perm.VIEW)
def do_not_call_list(request):
    """Show the tenant's do-not-call list; campaign managers and up add numbers."""
    form = DoNotCallForm(request.POST or None)
    if request.method == "POST":
        if not role_has(request.membership.role, Perm.RUN_CAMPAIGNS):
            raise PermissionDenied
        if form.is_valid():
            do_not_call_add(tenant=request.tenant, phone=form.cleaned_data["phone"],
                            reason=form.cleaned_data["reason"], actor=request.user)
            messages.success(request, _("The number will not be called."))
            return redirect("do-not-call", tenant_slug=request.tenant.slug)
    entries = DoNotCall.objects.select_related("created_by").order_by("-created_at")[:500]
    return render(request, "calls/do_not_call.html", {"form": form, "entries": entries})


@require_POST
@portal_view(Perm.RUN_CAMPAIGNS)
def do_not_call_delete(request, entry_id):
    entry = get_object_or_404(DoNotCall, pk=entry_id)
    try:
        do_not_call_remove(entry=entry)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("The number was removed from the list."))
    return redirect("do-not-call", tenant_slug=request.tenant.slug)
