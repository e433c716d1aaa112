"""Portal pages of campaigns: the list, creation and editing, one campaign, its skips, and its controls."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from calls import calling_rules
from calls.selectors import tenant_zone
from tenants.decorators import portal_view
from tenants.roles import Perm

from .. import selectors
from ..forms import CampaignForm
from ..models import Campaign
from ..services import campaigns

SKIPS_PER_PAGE = 50
ACTIONS = {
    "start": (campaigns.campaign_start,
              gettext_lazy("The campaign is running: the dialer calls within the calling rules.")),
    "pause": (campaigns.campaign_pause, gettext_lazy("The campaign is paused: no new call is placed.")),
    "resume": (campaigns.campaign_resume, gettext_lazy("The campaign is running again.")),
    "cancel": (campaigns.campaign_cancel, gettext_lazy("The campaign is canceled; its queued calls were canceled.")),
}


def _form_context(form, campaign=None) -> dict:
    return {"form": form, "campaign": campaign, "french_windows": calling_rules.format_windows(
        calling_rules.FRENCH_WINDOWS), "consent_from": calling_rules.CONSENT_REQUIRED_FROM}


def _save(form, save):
    """Run the service on a valid form; its refusals become the form's errors. Return the campaign or None."""
    if not form.is_valid():
        return None
    try:
        return save(**form.service_kwargs())
    except ValidationError as error:
        errors = error.message_dict if hasattr(error, "error_dict") else {None: error.messages}
        for field, messages_ in errors.items():
            form.add_error(field if field in form.fields else None, messages_)
        return None


@require_safe
@portal_view(Perm.VIEW)
def campaign_list(request):
    """List the tenant's campaigns with their progress and outcomes."""
    rows = selectors.campaigns_overview(tenant=request.tenant)
    return render(request, "campaigns/campaign_list.html", {"campaigns": rows})


@portal_view(Perm.RUN_CAMPAIGNS)
def campaign_create(request):
    """Create a draft campaign; the form starts from France's consumer canvassing rules."""
    form = CampaignForm(request.POST or None, tenant=request.tenant)
    if request.method == "POST":
        campaign = _save(form, lambda **fields: campaigns.campaign_create(
            tenant=request.tenant, created_by=request.user, **fields))
        if campaign is not None:
            messages.success(request, _("The campaign was created as a draft: start it when you are ready."))
            return redirect("campaign-detail", tenant_slug=request.tenant.slug, campaign_id=campaign.pk)
    return render(request, "campaigns/campaign_form.html", _form_context(form),
                  status=400 if request.method == "POST" else 200)


@portal_view(Perm.RUN_CAMPAIGNS)
def campaign_edit(request, campaign_id):
    """Change a draft or paused campaign."""
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    form = CampaignForm(request.POST or None, tenant=request.tenant, campaign=campaign)
    if request.method == "POST":
        saved = _save(form, lambda **fields: campaigns.campaign_update(campaign=campaign, **fields))
        if saved is not None:
            messages.success(request, _("The campaign was saved."))
            return redirect("campaign-detail", tenant_slug=request.tenant.slug, campaign_id=campaign.pk)
    return render(request, "campaigns/campaign_form.html", _form_context(form, campaign),
                  status=400 if request.method == "POST" else 200)


@require_safe
@portal_view(Perm.VIEW)
def campaign_detail(request, campaign_id):
    """One campaign: progress, outcomes, the reasons contacts were skipped, its calls and its controls."""
    campaign = get_object_or_404(Campaign.objects.select_related("script", "contact_list", "created_by"),
                                 pk=campaign_id)
    context = {
        "campaign": campaign,
        "progress": selectors.campaign_progress(campaign=campaign),
        "outcomes": selectors.campaign_outcomes(campaign=campaign),
        "skip_counts": selectors.campaign_skip_counts(campaign=campaign),
        "recent_skips": selectors.campaign_skips(campaign=campaign)[:10],
        "calls": selectors.campaign_calls(campaign=campaign),
        "windows": calling_rules.format_windows(campaign.calling_windows),
        "days": ", ".join(str(WEEKDAYS[day]) for day in sorted(campaign.calling_days)),
        "list_size": campaign.contact_list.contacts.count() if campaign.status == Campaign.Status.DRAFT else None,
        "zone": tenant_zone(request.tenant),
    }
    return render(request, "campaigns/campaign_detail.html", context)


@require_safe
@portal_view(Perm.VIEW)
def campaign_skips(request, campaign_id):
    """Every skip of a campaign, newest first, fifty a page."""
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    skips = selectors.campaign_skips(campaign=campaign).select_related("target__contact")
    page = Paginator(skips, SKIPS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "campaigns/campaign_skips.html",
                  {"campaign": campaign, "page": page, "zone": tenant_zone(request.tenant)})


@require_POST
@portal_view(Perm.RUN_CAMPAIGNS)
def campaign_action(request, campaign_id, action):
    """Start, pause, resume or cancel a campaign; a refusal is shown on its page."""
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    service, done = ACTIONS[action]
    try:
        service(campaign=campaign)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, done)
    return redirect("campaign-detail", tenant_slug=request.tenant.slug, campaign_id=campaign.pk)
