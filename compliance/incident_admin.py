"""Staff screens of the AI incident register: incidents with one button per allowed step, and candidate triage.

``admin.py`` imports this module (for the candidates' triage actions), which registers the incident admin.
"""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from tenants.services import staff_access_record

from . import incidents
from .forms import errors_onto
from .incident_forms import (
    BreachForm,
    CloseForm,
    EscalateExistingForm,
    EscalateNewForm,
    ImpactForm,
    IncidentForm,
    NoticeForm,
    TransitionForm,
)
from .incidents import Triage
from .models import Incident, IncidentCandidate, IncidentImpact

S = Incident.Status
OVERDUE_STYLE = "color:#ba2121"


class ImpactInline(admin.TabularInline):
    """The customers touched. Read-only here: calls and notices change through the buttons, which re-arm the
    notification of a customer already told."""

    model = IncidentImpact
    fields = ["tenant", "calls", "notice", "notified_at", "acknowledged_at", "acknowledged_by", "edit_notice"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = _("Customers touched")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("tenant", "incident", "acknowledged_by")

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description=_("calls affected"))
    def calls(self, impact):
        return format_html_join(mark_safe("<br>"), "<code>{}</code>", ((call_id,) for call_id in impact.call_ids))

    @admin.display(description="")
    def edit_notice(self, impact):
        if impact.incident.status == S.CLOSED:
            return ""
        url = reverse("admin:compliance_incident_notice", args=[quote(impact.incident_id), impact.pk])
        return format_html('<a href="{}">{}</a>', url, _("Edit the notice"))


class CandidateInline(admin.TabularInline):
    model = IncidentCandidate
    fields = ["detected_at", "tenant", "call_id", "reason", "provider", "status"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = _("Candidates escalated into this incident")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    """The register. Staff record and correct the facts in the form; status, breach and notifications move through
    the buttons, each calling one service."""

    form = IncidentForm
    list_display = ["reference", "title", "category", "severity", "status", "detected_at", "personal_data_breach",
                    "deadline_display"]
    list_filter = ["status", "category", "severity", "personal_data_breach"]
    search_fields = ["reference", "title"]
    date_hierarchy = "detected_at"
    inlines = [ImpactInline, CandidateInline]
    change_form_template = "compliance/admin/incident_change_form.html"
    add_fields = ["title", "category", "severity", "detected_at", "description"]
    editable_fields = [*add_fields, "corrective_actions"]
    record_fields = ["reference", "status", "personal_data_breach", "breach_aware_at", "closure_note", "closed_at",
                     "created_by", "created_at"]

    @admin.display(description=_("72-hour deadline"))
    def deadline_display(self, incident):
        deadline = incidents.breach_deadline(incident)
        if deadline is None:
            return "—"
        text = date_format(timezone.localtime(deadline), "SHORT_DATETIME_FORMAT")
        if incidents.breach_overdue(incident):
            return format_html('<strong style="{}">{} · {}</strong>', OVERDUE_STYLE, text, _("overdue"))
        return text

    def get_fields(self, request, obj=None):
        return self.add_fields if obj is None else [*self.record_fields[:2], *self.editable_fields,
                                                    *self.record_fields[2:]]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [*self.record_fields, *(self.editable_fields if obj.status == S.CLOSED else [])]

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def has_delete_permission(self, request, obj=None):
        return False

    def save_form(self, request, form, change):
        """Both the new incident and a correction go through their service (reference, validation, lock)."""
        if not change:
            return incidents.incident_open(actor=request.user, **form.cleaned_data)
        if not form.has_changed():
            return form.instance
        return incidents.incident_edit(incident=form.instance, **form.cleaned_data)

    def save_model(self, request, obj, form, change):
        """Saved by the service in save_form."""

    def save_related(self, request, form, formsets, change):
        """The inlines are read-only (impacts and candidates change through their services): their formsets save
        nothing, but the admin's change message needs them saved. The incident has no many-to-many field."""
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        incident = self.get_object(request, unquote(object_id))
        extra = {}
        if incident is not None:
            self._record(request, incident, "view")
            extra = {"workflow_buttons": self.workflow_buttons(incident), "clock": _clock(incident)}
            if incident.status == S.CLOSED:
                extra.update(show_save=False, show_save_and_continue=False, show_save_and_add_another=False)
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def workflow_buttons(self, incident) -> list[tuple[str, str]]:
        """(label, url) of each staff action open on the incident: one per transition the table allows, then the
        breach, the customers touched and their notification."""
        buttons = [(_("Move to “%(status)s”") % {"status": S(to).label}, self._url(incident, "transition", to))
                   for to in incidents.allowed_transitions(incident)]
        if incident.status != S.CLOSED:
            if not incident.personal_data_breach:
                buttons.append((_("Declare a personal-data breach"), self._url(incident, "breach")))
            buttons.append((_("Add a customer touched"), self._url(incident, "impact_add")))
        untold = incidents.impacts_count(incident)[1]
        if untold:
            buttons.append((ngettext("Notify the customer touched (%(count)d)",
                                     "Notify the customers touched (%(count)d)", untold) % {"count": untold},
                            self._url(incident, "notify")))
        return buttons

    # Action pages -------------------------------------------------------------------------------------------------

    def get_urls(self):
        return [
            self._path("transition/<str:to>/", "transition", self.transition_view),
            self._path("breach/", "breach", self.breach_view),
            self._path("notify/", "notify", self.notify_view),
            self._path("impacts/add/", "impact_add", self.impact_add_view),
            self._path("impacts/<int:impact_id>/notice/", "notice", self.notice_view),
            *super().get_urls(),
        ]

    def transition_view(self, request, object_id, to):
        incident = self._incident(request, object_id)
        if to not in incidents.allowed_transitions(incident):
            messages.error(request, _("This incident cannot go to that status now."))
            return redirect(self._url(incident, "change"))
        closing = to == S.CLOSED
        title = _("Move %(incident)s to “%(status)s”") % {"incident": incident.reference, "status": S(to).label}
        return self._action_page(
            request, incident, CloseForm if closing else TransitionForm, title,
            lambda data: incidents.incident_transition(incident=incident, to=to, **data),
            initial={"corrective_actions": incident.corrective_actions} if closing else None)

    def breach_view(self, request, object_id):
        incident = self._incident(request, object_id)
        title = _("Declare %(incident)s a personal-data breach") % {"incident": incident.reference}
        return self._action_page(request, incident, BreachForm, title,
                                 lambda data: incidents.breach_declare(incident=incident, aware_at=data["aware_at"]))

    def notify_view(self, request, object_id):
        incident = self._incident(request, object_id)
        untold = incidents.impacts_count(incident)[1]
        title = ngettext("Notify %(count)d customer touched by %(incident)s",
                         "Notify %(count)d customers touched by %(incident)s", untold) % {
            "count": untold, "incident": incident.reference}
        return self._action_page(request, incident, TransitionForm, title,
                                 lambda data: incidents.impacts_notify(incident=incident))

    def impact_add_view(self, request, object_id):
        incident = self._incident(request, object_id)
        title = _("Add a customer touched by %(incident)s") % {"incident": incident.reference}
        return self._action_page(request, incident, ImpactForm, title,
                                 lambda data: incidents.impact_add(incident=incident, **data))

    def notice_view(self, request, object_id, impact_id):
        incident = self._incident(request, object_id)
        impact = IncidentImpact.objects.select_related("tenant").filter(incident=incident, pk=impact_id).first()
        if impact is None:
            raise Http404
        title = _("Notice of %(incident)s to %(tenant)s") % {"incident": incident.reference, "tenant": impact.tenant}
        return self._action_page(
            request, incident, NoticeForm, title,
            lambda data: incidents.impact_add(incident=incident, tenant=impact.tenant, notice=data["notice"]),
            initial={"notice": impact.notice})

    def _action_page(self, request, incident, form_class, title, perform, initial=None):
        """Show the action's form; on a valid POST call the service, report and go back to the change page. Acting
        on an incident touches its customers' data: the POST is recorded like a view."""
        form = form_class(request.POST if request.method == "POST" else None, initial=initial)
        if form.is_bound and form.is_valid():
            self._record(request, incident, "change")
            try:
                perform(form.cleaned_data)
            except ValidationError as error:
                errors_onto(form, error)
            else:
                self.log_change(request, incident, title)
                messages.success(request, _("Done: %(action)s.") % {"action": title})
                return redirect(self._url(incident, "change"))
        context = {**self.admin_site.each_context(request), "opts": self.opts, "original": incident, "title": title,
                   "form": form, "change_url": self._url(incident, "change")}
        return TemplateResponse(request, "admin/action_form.html", context)

    def _incident(self, request, object_id) -> Incident:
        incident = self.get_object(request, unquote(object_id))
        if incident is None:
            raise Http404
        if not self.has_change_permission(request, incident):
            raise PermissionDenied
        return incident

    def _path(self, route, view_name, view):
        return path(f"<path:object_id>/{route}", self.admin_site.admin_view(view), name=self._url_name(view_name))

    def _url_name(self, view_name):
        return f"{self.opts.app_label}_{self.opts.model_name}_{view_name}"

    def _url(self, incident, view_name, *args):
        return reverse(f"admin:{self._url_name(view_name)}", args=[quote(incident.pk), *args])

    def _record(self, request, incident, action):
        """An incident's impacts and candidates are its customers' data: record the staff access per tenant."""
        tenant_ids = {*IncidentImpact.objects.filter(incident=incident).values_list("tenant_id", flat=True),
                      *incident.candidates.values_list("tenant_id", flat=True)}
        if tenant_ids:
            staff_access_record(staff_user=request.user, tenant_ids=tenant_ids, action=action,
                                model=Incident._meta.label, object_id=incident.reference,
                                path=request.get_full_path())


def _clock(incident) -> dict | None:
    """The breach clock shown at the top of the change page, or None when no breach is declared."""
    deadline = incidents.breach_deadline(incident)
    if deadline is None:
        return None
    total, untold = incidents.impacts_count(incident)
    return {"aware_at": incident.breach_aware_at, "deadline": deadline, "passed": timezone.now() > deadline,
            "overdue": incidents.breach_overdue(incident), "total": total, "told": total - untold}


class CandidateTriageMixin:
    """Triage from the candidates' list: escalate into a new incident, add to an incident, or dismiss. A candidate
    is evidence of what the safeguards caught: its own page is read-only."""

    actions = ["escalate_to_new_incident", "add_to_incident", "dismiss"]

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "tenant", "status", "incident"]

    @admin.action(description=_("Escalate to a new incident"))
    def escalate_to_new_incident(self, request, queryset):
        rows = list(queryset.select_related("tenant"))
        initial = {"category": incidents.suggested_category(rows), "severity": Incident.Severity.MEDIUM}
        return self._triage_page(request, rows, "escalate_to_new_incident", EscalateNewForm, initial,
                                 lambda data: incidents.candidate_triage(candidates=rows, decision=Triage.ESCALATE,
                                                                         actor=request.user, **data))

    @admin.action(description=_("Add to an incident…"))
    def add_to_incident(self, request, queryset):
        rows = list(queryset.select_related("tenant"))
        return self._triage_page(request, rows, "add_to_incident", EscalateExistingForm, None,
                                 lambda data: incidents.candidate_triage(candidates=rows, decision=Triage.ESCALATE,
                                                                         actor=request.user,
                                                                         incident=data["incident"]))

    @admin.action(description=_("Dismiss"))
    def dismiss(self, request, queryset):
        rows = list(queryset)
        self._record(request, {row.tenant_id for row in rows}, "change")
        try:
            incidents.candidate_triage(candidates=rows, decision=Triage.DISMISS, actor=request.user)
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
            return
        self.message_user(request, ngettext("%(count)d candidate dismissed.", "%(count)d candidates dismissed.",
                                            len(rows)) % {"count": len(rows)}, messages.SUCCESS)

    def _triage_page(self, request, rows, action, form_class, initial, perform):
        """The intermediate page of an escalation; posted back (with ``apply``) it calls the service. Returning None
        sends Django back to the list."""
        form = form_class(request.POST if "apply" in request.POST else None, initial=initial)
        if form.is_bound and form.is_valid():
            self._record(request, {row.tenant_id for row in rows}, "change")
            try:
                incident = perform(form.cleaned_data)
            except ValidationError as error:
                errors_onto(form, error)
            else:
                url = reverse("admin:compliance_incident_change", args=[quote(incident.pk)])
                self.message_user(request, format_html(_('Escalated into <a href="{}">{}</a>.'), url, incident),
                                  messages.SUCCESS)
                return None
        context = {**self.admin_site.each_context(request), "opts": self.opts, "form": form, "rows": rows,
                   "action": action, "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                   "title": dict(self.get_action_choices(request)).get(action, "")}
        return TemplateResponse(request, "compliance/admin/candidate_triage.html", context)
