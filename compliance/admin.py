from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from tenants.admin_mixins import ReadOnlyAdminMixin, TenantDataAdmin
from tenants.crypto import email_index, phone_index
from tenants.services import staff_access_record

from . import fulfilment, rights
from .forms import (
    CommentForm,
    ConfirmForm,
    ExtensionForm,
    ForwardForm,
    LegalHoldForm,
    NoteForm,
    StaffIntakeForm,
    errors_onto,
)
from .incident_admin import CandidateTriageMixin
from .models import (
    AIInvocation,
    ErasureLog,
    ExportFile,
    IncidentCandidate,
    LegalHold,
    RequestEvent,
    RequestStatus,
    RequestType,
    RightsRequest,
    RoutedRequest,
    RoutedRequestEvent,
)
from .services import legal_hold_place, legal_hold_release


@admin.register(AIInvocation)
class AIInvocationAdmin(ReadOnlyAdminMixin, TenantDataAdmin):
    list_display = ["started_at", "tenant", "role", "provider", "model", "region", "outcome", "duration_ms",
                    "request_bytes", "no_training"]
    list_filter = ["role", "outcome", "provider"]
    exclude = ["payload"]
    date_hierarchy = "started_at"

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(IncidentCandidate)
class IncidentCandidateAdmin(CandidateTriageMixin, TenantDataAdmin):
    list_display = ["detected_at", "tenant", "reason", "provider", "status", "incident"]
    list_filter = ["status", "reason"]
    readonly_fields = ["call_id", "detected_at", "source", "reason", "provider", "excerpt"]

    def has_add_permission(self, request):
        return False


class _EventInline(admin.TabularInline):
    fields = ["at", "actor", "kind", "from_status", "to_status", "note"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class RequestEventInline(_EventInline):
    model = RequestEvent
    verbose_name_plural = _("Timeline (CALLKOM only)")


class RoutedRequestEventInline(_EventInline):
    model = RoutedRequestEvent
    verbose_name_plural = _("Timeline (shared with the company)")


class ErasureLogInline(_EventInline):
    model = ErasureLog
    fields = ["store", "count", "at"]
    readonly_fields = fields
    verbose_name_plural = _("Erasure log (per data store)")


class ExportFileInline(_EventInline):
    model = ExportFile
    fields = ["created_at", "expires_at", "size_bytes", "download_count", "downloaded_at", "deleted_at"]
    readonly_fields = fields
    verbose_name_plural = _("Data exports sent")


class RoutedCopyInline(admin.TabularInline):
    model = RoutedRequest
    fields = ["tenant", "status", "matched_on", "due_at", "extended_due_at", "decided_at", "completed_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = _("Copies forwarded to companies")

    def has_add_permission(self, request, obj=None):
        return False


def _deadline(item):
    """The deadline, in red when it has passed and the request is still open."""
    text = date_format(item.deadline, "SHORT_DATE_FORMAT")
    if item.is_overdue:
        return format_html('<strong style="color:#ba2121">{} · {}</strong>', text, _("overdue"))
    return text


class WorkflowAdminMixin:
    """Staff buttons on the change page: one per transition the table allows, plus extend and comment.

    Each button opens a small confirmation form (a note; the reason for a decision) and calls one service.
    """

    change_form_template = "compliance/admin/change_form.html"

    def get_urls(self):
        urls = [
            self._path("transition/<str:to>/", "transition", self.transition_view),
            self._path("extend/", "extend", self.extend_view),
            self._path("comment/", "comment", self.comment_view),
        ]
        return urls + super().get_urls()

    def _path(self, route, view_name, view):
        return path(f"<path:object_id>/{route}", self.admin_site.admin_view(view), name=self._url_name(view_name))

    def _url_name(self, view_name):
        return f"{self.opts.app_label}_{self.opts.model_name}_{view_name}"

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return super().get_readonly_fields(request, obj)
        return list(self.get_fields(request, obj))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        extra = {"show_save": False, "show_save_and_continue": False, "show_save_and_add_another": False,
                 "workflow_buttons": self.workflow_buttons(obj) if obj is not None else []}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def workflow_buttons(self, obj) -> list[tuple[str, str]]:
        """(label, url) of each staff action open on ``obj``."""
        buttons = [(_("Move to “%(status)s”") % {"status": RequestStatus(to).label}, self._url(obj, "transition", to))
                   for to in rights.allowed_transitions(obj)]
        if rights.can_extend(obj):
            buttons.append((_("Extend the deadline"), self._url(obj, "extend")))
        buttons.append((_("Comment"), self._url(obj, "comment")))
        return buttons

    def _url(self, obj, view_name, *args):
        return reverse(f"admin:{self._url_name(view_name)}", args=[quote(obj.pk), *args])

    def transition_view(self, request, object_id, to):
        obj = self._workflow_object(request, object_id)
        if to not in rights.allowed_transitions(obj):
            messages.error(request, _("This request cannot go to that status now."))
            return redirect(self._change_url(obj))
        label = RequestStatus(to).label
        return self._action_page(request, obj, NoteForm, _("Move %(object)s to “%(status)s”") % {
            "object": obj, "status": label}, lambda data: rights.transition(item=obj, to=to, actor=request.user,
                                                                            note=data["note"]))

    def extend_view(self, request, object_id):
        obj = self._workflow_object(request, object_id)
        return self._action_page(request, obj, ExtensionForm, _("Extend the deadline of %(object)s") % {"object": obj},
                                 lambda data: rights.extend(item=obj, actor=request.user, **data))

    def comment_view(self, request, object_id):
        obj = self._workflow_object(request, object_id)
        return self._action_page(request, obj, CommentForm, _("Comment on %(object)s") % {"object": obj},
                                 lambda data: rights.comment(item=obj, actor=request.user, note=data["note"]))

    def _workflow_object(self, request, object_id):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        return obj

    def _change_url(self, obj):
        return self._url(obj, "change")

    def _action_page(self, request, obj, form_class, title, perform):
        """Show the action's form; on a valid POST call the service, report and go back to the change page."""
        form = form_class(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                perform(form.cleaned_data)
            except ValidationError as error:
                errors_onto(form, error)
            else:
                self.log_change(request, obj, title)
                messages.success(request, _("Done: %(action)s.") % {"action": title})
                return redirect(self._change_url(obj))
        context = {**self.admin_site.each_context(request), "opts": self.opts, "original": obj, "title": title,
                   "form": form, "change_url": self._change_url(obj)}
        return TemplateResponse(request, "admin/action_form.html", context)


@admin.register(RightsRequest)
class RightsRequestAdmin(WorkflowAdminMixin, admin.ModelAdmin):
    """CALLKOM's view of every request. Staff record requests received by phone, post or e-mail here."""

    list_display = ["reference", "kind", "status", "channel", "received_at", "deadline_display", "staff_handled"]
    list_filter = ["status", "kind", "channel", "staff_handled", "about_callkom"]
    search_fields = ["reference"]
    date_hierarchy = "received_at"
    fields = ["reference", "status", "kind", "channel", "language", "received_at", "verified_at", "due_at",
              "extended_due_at", "extension_reason", "about_callkom", "staff_handled", "requester_name",
              "requester_email", "requester_phone", "company_named", "details", "decided_at", "decided_by",
              "decision_reason", "completed_at", "created_by"]
    inlines = [RoutedCopyInline, RequestEventInline]

    @admin.display(description=_("deadline"))
    def deadline_display(self, obj):
        return _deadline(obj)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = StaffIntakeForm
            kwargs["fields"] = [*StaffIntakeForm.Meta.fields, "note"]
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request, obj=None):
        return [*StaffIntakeForm.Meta.fields, "note"] if obj is None else self.fields

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def save_form(self, request, form, change):
        """Staff intake goes through the service: the request is verified (by staff) and routed."""
        if change:
            return super().save_form(request, form, change)
        return rights.request_intake(actor=request.user, **form.intake())

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        if change:
            super().save_related(request, form, formsets, change)

    def has_delete_permission(self, request, obj=None):
        return False

    def workflow_buttons(self, obj):
        """A verified request moves to awaiting_controller by being forwarded, which needs the companies."""
        buttons = [button for button in super().workflow_buttons(obj)
                   if button[1] != self._url(obj, "transition", RequestStatus.AWAITING_CONTROLLER)]
        if obj.status in (RequestStatus.VERIFIED, RequestStatus.AWAITING_CONTROLLER):
            buttons.insert(0, (_("Forward to companies"), self._url(obj, "forward")))
        return buttons

    def get_urls(self):
        return [self._path("forward/", "forward", self.forward_view), *super().get_urls()]

    def transition_view(self, request, object_id, to):
        if to == RequestStatus.AWAITING_CONTROLLER:
            return redirect(self._url(self._workflow_object(request, object_id), "forward"))
        return super().transition_view(request, object_id, to)

    def forward_view(self, request, object_id):
        obj = self._workflow_object(request, object_id)
        return self._action_page(
            request, obj, ForwardForm, _("Forward %(object)s to companies") % {"object": obj},
            lambda data: rights.request_forward(request=obj, tenants=list(data["tenants"]), actor=request.user,
                                                note=data["note"]))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The copies shown inline are tenant data: record that staff saw them."""
        obj = self.get_object(request, unquote(object_id))
        if obj is not None:
            tenant_ids = set(obj.routed_copies.values_list("tenant_id", flat=True))
            if tenant_ids:
                staff_access_record(staff_user=request.user, tenant_ids=tenant_ids, action="view",
                                    model=RoutedRequest._meta.label, object_id=obj.reference,
                                    path=request.get_full_path())
        return super().change_view(request, object_id, form_url, extra_context)

    def get_search_results(self, request, queryset, search_term):
        """Find a request by the requester's e-mail or phone number too, through the blind indexes (within the
        list's filters, which ``queryset`` already applies)."""
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        by_index = _blind_index_filter(search_term.strip())
        if by_index is not None:
            found |= queryset.filter(by_index)
        return found, may_have_duplicates


def _blind_index_filter(term: str) -> Q | None:
    """Match an e-mail address or a phone number typed by staff against the blind indexes; None for anything else."""
    if "@" in term:
        return Q(email_index=email_index(term))
    try:
        return Q(phone_index=phone_index(term)) if term else None
    except ValidationError:
        return None


@admin.register(RoutedRequest)
class RoutedRequestAdmin(WorkflowAdminMixin, TenantDataAdmin):
    """A company's copy: read-mostly; staff move it through its states (fulfilment) and comment on it."""

    list_display = ["__str__", "tenant", "status", "routed_at", "deadline_display", "decided_at"]
    list_filter = ["status"]
    fields = ["request", "tenant", "status", "matched_on", "routed_at", "due_at", "extended_due_at",
              "extension_reason", "decided_at", "decided_by", "decision_reason", "completed_at"]
    list_select_related = ["tenant", "request"]
    inlines = [ErasureLogInline, ExportFileInline, RoutedRequestEventInline]

    @admin.display(description=_("deadline"))
    def deadline_display(self, obj):
        return _deadline(obj)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def workflow_buttons(self, obj):
        """Staff may carry out an approved copy, or retry one in error; a rectification needs the controller's
        corrections, so the controller carries it out from the portal."""
        buttons = super().workflow_buttons(obj)
        if obj.status in fulfilment.FULFILLABLE and obj.request.kind != RequestType.RECTIFICATION:
            buttons.insert(0, (_("Carry out the request"), self._url(obj, "fulfil")))
        return buttons

    def get_urls(self):
        return [self._path("fulfil/", "fulfil", self.fulfil_view), *super().get_urls()]

    def fulfil_view(self, request, object_id):
        obj = self._workflow_object(request, object_id)
        return self._action_page(request, obj, ConfirmForm, _("Carry out %(object)s") % {"object": obj},
                                 lambda data: _fulfilled(fulfilment.request_fulfil(routed=obj, actor=request.user)))

    def _action_page(self, request, obj, form_class, title, perform):
        """Acting on a company's copy is an access to its data: record it like a view."""
        if request.method == "POST":
            self._record(request, {obj.tenant_id}, "change", str(obj.pk))
        return super()._action_page(request, obj, form_class, title, perform)


def _fulfilled(routed: RoutedRequest) -> RoutedRequest:
    """Turn a fulfilment that ended in error (already recorded and committed) into a message on the staff form."""
    if routed.status == RequestStatus.ERROR:
        raise ValidationError(_("Carrying out failed and was undone; see the timeline and the server logs."))
    return routed


@admin.register(LegalHold)
class LegalHoldAdmin(TenantDataAdmin):
    """Holds placed by restriction requests and by staff (incident, litigation); staff release them here."""

    list_display = ["__str__", "tenant", "reason", "created_at", "created_by", "released_at", "released_by"]
    list_filter = ["reason", ("released_at", admin.EmptyFieldListFilter)]
    fields = ["tenant", "reason", "routed", "call_ids", "note", "created_at", "created_by", "released_at",
              "released_by"]
    readonly_fields = fields
    add_fields = [*LegalHoldForm.Meta.fields, "phone", "email"]
    actions = ["release"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = LegalHoldForm
            kwargs["fields"] = self.add_fields
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request, obj=None):
        return self.add_fields if obj is None else self.fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def save_form(self, request, form, change):
        """A new hold goes through the service, which names the person by blind index only."""
        if change:
            return super().save_form(request, form, change)
        hold = legal_hold_place(actor=request.user, **form.hold())
        self._record(request, {hold.tenant_id}, "change", str(hold.pk))
        return hold

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        if change:
            super().save_related(request, form, formsets, change)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Release the selected holds"))
    def release(self, request, queryset):
        holds = list(queryset.filter(released_at__isnull=True))
        if holds:
            self._record(request, {hold.tenant_id for hold in holds}, "change")
        for hold in holds:
            legal_hold_release(hold=hold, actor=request.user)
            self.log_change(request, hold, _("Released"))
        messages.success(request, ngettext("%(count)d hold released.", "%(count)d holds released.", len(holds))
                         % {"count": len(holds)})


@admin.register(ExportFile)
class ExportFileAdmin(ReadOnlyAdminMixin, TenantDataAdmin):
    list_display = ["__str__", "tenant", "created_at", "expires_at", "download_count", "deleted_at"]
    fields = ["tenant", "routed", "created_at", "expires_at", "size_bytes", "download_count", "downloaded_at",
              "deleted_at"]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ErasureLog)
class ErasureLogAdmin(ReadOnlyAdminMixin, TenantDataAdmin):
    list_display = ["routed", "tenant", "store", "count", "at"]
    list_filter = ["store"]
    fields = ["tenant", "routed", "store", "count", "at"]

    def has_delete_permission(self, request, obj=None):
        return False


from . import record_admin  # noqa: E402, F401 - the record of processing on the tenant admin (issue 6 §4)
from .policy_admin import DpaVersionAdmin  # noqa: E402, F401 - the DPA and the AI policy (issue 7 §5)
from .retention_admin import RetentionRunAdmin  # noqa: E402, F401 - retention runs (issue 6 §2)
