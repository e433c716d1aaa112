"""The insights page: calls per day, outcomes, appointment rate, latency and AI provider health, as charts."""

from django import forms
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_safe

from tenants.decorators import portal_view
from tenants.roles import Perm

from . import dashboard
from .forms import DATE_RANGE
from .models import campaign_model
from .selectors import tenant_zone


class InsightsForm(forms.Form):
    """The period (the last 7, 30 or 90 days, or two dates, which win) and an optional campaign.

    The bare URL shows the last 30 days; anything that does not parse is an error on the form, never a guess.
    """

    period = forms.TypedChoiceField(label=_("Period"), coerce=int)
    date_from = forms.DateField(label=_("From"), required=False, validators=DATE_RANGE,
                                widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("Until"), required=False, validators=DATE_RANGE,
                              widget=forms.DateInput(attrs={"type": "date"}),
                              help_text=_("Two dates replace the period."))
    campaign = forms.ModelChoiceField(label=_("Campaign"), required=False, queryset=None, empty_label=_("All calls"))

    def __init__(self, data, *, tenant, **kwargs):
        if not data.get("period"):  # the bare URL: the select must show what the page shows
            data = data.copy()
            data["period"] = str(dashboard.DEFAULT_PERIOD_DAYS)
        super().__init__(data, **kwargs)
        self.tenant = tenant
        # Labels built per form, in the request's language (a lazy plural with a number does not stay lazy).
        self.fields["period"].choices = [
            (days, ngettext("Last %(days)d day", "Last %(days)d days", days) % {"days": days})
            for days in dashboard.PERIOD_CHOICES
        ]
        # Built here, not at import: the tenant-scoped manager refuses to query outside a request's scope.
        campaigns = campaign_model().objects.filter(tenant=tenant)
        self.fields["campaign"].queryset = campaigns.only("id", "name").order_by("name")

    def clean(self):
        cleaned = super().clean()
        date_from, date_to = cleaned.get("date_from"), cleaned.get("date_to")
        if bool(date_from) != bool(date_to) and not self.errors:
            self.add_error(None, _("Give both dates, or choose a period."))
        elif date_from and date_to:
            if date_to < date_from:
                self.add_error("date_to", _("The end date must not be before the start date."))
            elif (date_to - date_from).days >= dashboard.MAX_PERIOD_DAYS:
                self.add_error("date_to", _("Choose at most %(days)d days.") % {"days": dashboard.MAX_PERIOD_DAYS})
        return cleaned

    def chosen_period(self) -> dashboard.Period:
        """Return the chosen period; call only on a valid form."""
        data = self.cleaned_data
        if data["date_from"]:
            return dashboard.period_between(self.tenant, data["date_from"], data["date_to"])
        return dashboard.period_of_last_days(self.tenant, data["period"])


@require_safe
@portal_view(Perm.VIEW)
def insights(request):
    """Show the tenant's insights for a period; a period or campaign that does not validate answers 400."""
    form = InsightsForm(request.GET, tenant=request.tenant)
    context = {"form": form, "data": None, "zone": tenant_zone(request.tenant)}
    if not form.is_valid():
        return render(request, "calls/insights.html", context, status=400)
    context["data"] = dashboard.insights(tenant=request.tenant, period=form.chosen_period(),
                                         campaign=form.cleaned_data["campaign"])
    return render(request, "calls/insights.html", context)
