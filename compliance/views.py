"""Pages of the rights requests: the public form (no log-in) and the controllers' inbox in the portal."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from tenants.crypto import email_index
from tenants.decorators import portal_view
from tenants.ratelimit import count, ip_key, limited
from tenants.roles import Perm

from . import fulfilment, rights, selectors
from .forms import (
    HONEYPOT,
    CodeForm,
    CommentForm,
    DecisionForm,
    ExtensionForm,
    RectificationForm,
    RightsRequestForm,
    errors_onto,
)
from .models import RequestChannel, RequestStatus, RequestType, RightsRequest, RoutedRequest

# (how many, per how many seconds). Counted in the cache, keyed by blind indexes: no address is kept in clear.
SUBMISSIONS_PER_IP = (5, 3600)
SUBMISSIONS_PER_EMAIL = (3, 24 * 3600)
CODE_TRIES_PER_IP = (30, 3600)
WRONG_DOWNLOAD_LINKS_PER_IP = (30, 3600)

UNVERIFIED = (RequestStatus.RECEIVED, RequestStatus.IDENTITY_UNVERIFIED)


# Rate limits -----------------------------------------------------------------------------------------------------

def _too_many(request):
    """The same refusal for every limit: it says nothing about any request or person."""
    return render(request, "compliance/public/too_many.html", {"privacy_email": settings.PRIVACY_CONTACT_EMAIL},
                  status=429)


def _language() -> str:
    code = (translation.get_language() or "")[:2]
    return code if code in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


# Public pages ----------------------------------------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
def rights_request_new(request):
    """The public form. Honeypot and rate limits first; then the request is recorded and a code e-mailed."""
    if request.method == "GET":
        return _form_page(request, RightsRequestForm())
    ip_counter = ip_key(request, "rights:submit")
    if limited(ip_counter, SUBMISSIONS_PER_IP):
        return _too_many(request)
    if request.POST.get(HONEYPOT):
        count(ip_counter, SUBMISSIONS_PER_IP)
        return _form_page(request, RightsRequestForm(), status=400,
                          refusal=_("This form could not be accepted. Please try again."))
    form = RightsRequestForm(request.POST)
    if not form.is_valid():
        return _form_page(request, form, status=400)
    email_key = f"rights:email:{email_index(form.cleaned_data['requester_email'])}"
    if limited(email_key, SUBMISSIONS_PER_EMAIL):
        return _too_many(request)
    try:
        rights_request = rights.request_submit(language=_language(), **form.submission())
    except ValidationError as error:
        errors_onto(form, error)
        return _form_page(request, form, status=400)
    count(ip_counter, SUBMISSIONS_PER_IP)
    count(email_key, SUBMISSIONS_PER_EMAIL)
    return redirect("rights-request-verify", reference=rights_request.reference)


def _form_page(request, form, status=200, refusal=""):
    context = {"form": form, "honeypot": HONEYPOT, "refusal": refusal}
    return render(request, "compliance/public/request_form.html", context, status=status)


def _public_request(reference: str) -> RightsRequest:
    """The request behind a reference; a request canceled before it was ever verified no longer exists publicly."""
    rights_request = get_object_or_404(RightsRequest, reference=reference)
    if rights_request.verified_at is None and rights_request.status not in UNVERIFIED:
        raise Http404("No such request.")
    return rights_request


@require_http_methods(["GET", "POST"])
def rights_request_verify(request, reference):
    """Enter the e-mailed code. The answer is the same whether or not any company holds data about the person:
    routing runs afterwards, in the background."""
    rights_request = _public_request(reference)
    if rights_request.status not in UNVERIFIED:
        return redirect("rights-request-received", reference=reference)
    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        ip_counter = ip_key(request, "rights:code")
        if limited(ip_counter, CODE_TRIES_PER_IP):
            return _too_many(request)
        count(ip_counter, CODE_TRIES_PER_IP)
        if form.is_valid():
            try:
                rights.code_verify(request=rights_request, code=form.cleaned_data["code"])
            except ValidationError as error:
                form.add_error("code", error)
            else:
                return redirect("rights-request-received", reference=reference)
        status = 400
    context = {"rights_request": rights_request, "form": form, "attempts": rights.CODE_MAX_ATTEMPTS,
               "minutes": int(rights.CODE_TTL.total_seconds() // 60)}
    return render(request, "compliance/public/verify.html", context, status=status)


@require_POST
def rights_request_resend(request, reference):
    """Send a new code (earlier ones stop working); limited per request and per client."""
    rights_request = _public_request(reference)
    if rights_request.status not in UNVERIFIED:
        return redirect("rights-request-received", reference=reference)
    ip_counter = ip_key(request, "rights:code")
    if limited(ip_counter, CODE_TRIES_PER_IP):
        return _too_many(request)
    count(ip_counter, CODE_TRIES_PER_IP)
    try:
        rights.code_send(request=rights_request)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        minutes = int(rights.CODE_TTL.total_seconds() // 60)
        messages.success(request, _("A new code was sent. It is valid for %(minutes)d minutes; earlier codes no longer "
                                    "work.") % {"minutes": minutes})
    return redirect("rights-request-verify", reference=reference)


@require_safe
def rights_request_received(request, reference):
    """What happens next and by when. It shows no status: that would tell whether a company holds data."""
    rights_request = _public_request(reference)
    if rights_request.status in UNVERIFIED:
        return redirect("rights-request-verify", reference=reference)
    context = {"rights_request": rights_request, "privacy_email": settings.PRIVACY_CONTACT_EMAIL}
    return render(request, "compliance/public/received.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
def privacy_download(request, token):
    """The requester's download link. GET shows the page and counts nothing (mail scanners open links); POST
    downloads. A made-up link is a 404 whoever asks, logged in or not; a link past its expiry or its last
    download is a 410 that says so."""
    ip_counter = ip_key(request, "rights:download")
    if limited(ip_counter, WRONG_DOWNLOAD_LINKS_PER_IP):
        return _too_many(request)
    try:
        if request.method == "GET":
            export = fulfilment.export_for_token(token)
            left = fulfilment.EXPORT_MAX_DOWNLOADS - export.download_count
            return _private(render(request, "compliance/public/download.html", {"export": export,
                                                                               "downloads_left": left}))
        export, archive = fulfilment.export_download(token=token)
    except fulfilment.ExportNotFound:
        count(ip_counter, WRONG_DOWNLOAD_LINKS_PER_IP)
        return _download_refused(request, "", status=404)
    except fulfilment.ExportGone as gone:
        return _download_refused(request, str(gone), status=410)
    response = HttpResponse(archive, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{export.routed.request.reference}.zip"'
    return _private(response)


def _download_refused(request, reason: str, *, status: int):
    context = {"reason": reason, "privacy_email": settings.PRIVACY_CONTACT_EMAIL}
    return _private(render(request, "compliance/public/download_refused.html", context, status=status))


def _private(response):
    """The link is a secret: no page it leads to may pass it on as a referrer or be indexed."""
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex"
    return response


# Portal: the controller's inbox ----------------------------------------------------------------------------------

@require_safe
@portal_view(Perm.HANDLE_PRIVACY)
def privacy_inbox(request):
    include_closed = request.GET.get("show") == "all"
    copies = selectors.routed_inbox(request.tenant, include_closed=include_closed)
    return render(request, "compliance/portal/inbox.html", {"copies": copies, "include_closed": include_closed})


@require_safe
@portal_view(Perm.HANDLE_PRIVACY)
def privacy_request_detail(request, routed_id):
    return _detail(request, _routed(routed_id))


def _act(request, routed_id, form_class, form_name: str, act, done: str):
    """One controller action on a routed request: validate the form, run ``act(routed, cleaned_data)``, and either
    go back to the request with ``done`` or show the page again with the form's errors (400)."""
    routed = _routed(routed_id)
    form = form_class(request.POST)
    if form.is_valid():
        try:
            act(routed, form.cleaned_data)
        except ValidationError as error:
            errors_onto(form, error)
        else:
            messages.success(request, done)
            return redirect("privacy-request-detail", tenant_slug=request.tenant.slug, routed_id=routed.pk)
    return _detail(request, routed, status=400, **{form_name: form})


@require_POST
@portal_view(Perm.HANDLE_PRIVACY)
def privacy_request_decide(request, routed_id):
    return _act(request, routed_id, DecisionForm, "decision_form", lambda routed, data: rights.decide(
        routed=routed, approve=data["decision"] == "approve", reason=data["reason"], actor=request.user),
        _("Decision recorded; the requester has been told."))


@require_POST
@portal_view(Perm.HANDLE_PRIVACY)
def privacy_request_extend(request, routed_id):
    return _act(request, routed_id, ExtensionForm, "extension_form", lambda routed, data: rights.extend(
        item=routed, months=data["months"], reason=data["reason"], actor=request.user),
        _("Deadline extended; the requester has been told why."))


@require_POST
@portal_view(Perm.HANDLE_PRIVACY)
def privacy_request_comment(request, routed_id):
    return _act(request, routed_id, CommentForm, "comment_form", lambda routed, data: rights.comment(
        item=routed, note=data["note"], actor=request.user), _("Comment added."))


@require_POST
@portal_view(Perm.HANDLE_PRIVACY)
def privacy_request_fulfil(request, routed_id):
    """Carry out an approved request (a rectification with the controller's corrections). Explicit, not automatic
    on approval: an erasure cannot be undone, and a rectification needs the corrections first."""
    routed = _routed(routed_id)
    form = RectificationForm(request.POST) if routed.request.kind == RequestType.RECTIFICATION else None
    if form is not None and not form.is_valid():
        return _detail(request, routed, rectification_form=form, status=400)
    try:
        routed = fulfilment.request_fulfil(routed=routed, actor=request.user,
                                           changes=form.changes() if form is not None else None)
    except ValidationError as error:
        if form is not None:
            errors_onto(form, error)
        return _detail(request, routed, rectification_form=form, fulfil_errors=error.messages if form is None else [],
                       status=400)
    if routed.status == RequestStatus.ERROR:
        messages.error(request, _("Carrying out failed and nothing was changed. CALLKOM staff have been told and "
                                  "will follow up."))
    else:
        messages.success(request, _("Done; the requester has been told."))
    return redirect("privacy-request-detail", tenant_slug=request.tenant.slug, routed_id=routed.pk)


def _routed(routed_id) -> RoutedRequest:
    """The tenant's copy (the manager sees the tenant in scope only: another tenant's copy is a 404)."""
    return get_object_or_404(RoutedRequest.objects.select_related("request"), pk=routed_id)


def _detail(request, routed, *, decision_form=None, extension_form=None, comment_form=None, rectification_form=None,
            fulfil_errors=(), status=200):
    rights_request = routed.request
    context = {
        "can_fulfil": routed.status in fulfilment.FULFILLABLE,
        "rectification_form": rectification_form or RectificationForm(),
        "fulfil_errors": fulfil_errors,
        "phone_unverified": rights_request.channel == RequestChannel.WEB and "phone" in routed.matched_on,
        "erasure_log": selectors.routed_erasure_log(routed),
        "exports": [(export, fulfilment.export_state(export)) for export in selectors.routed_exports(routed)],
        "max_downloads": fulfilment.EXPORT_MAX_DOWNLOADS,
        "holds": selectors.routed_holds(routed),
        "routed": routed,
        "rights_request": rights_request,
        "timeline": selectors.routed_timeline(routed),
        "can_decide": routed.status == RequestStatus.AWAITING_CONTROLLER,
        "can_extend": rights.can_extend(routed),
        "decision_form": decision_form or DecisionForm(),
        "extension_form": extension_form or ExtensionForm(),
        "comment_form": comment_form or CommentForm(),
    }
    return render(request, "compliance/portal/detail.html", context, status=status)
