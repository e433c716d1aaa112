"""Staff screens of the register: the providers, the published versions, change notices with one button per allowed
step, customers' objections (tenant data: each staff view is recorded), subscribers and mailings (read-only)."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from tenants.admin_mixins import TenantDataAdmin
from tenants.crypto import email_index
from tenants.services import staff_access_record

from . import notices, services
from .models import ChangeNotice, Mailing, Objection, RegisterVersion, Subprocessor, Subscriber
from .register import register_publish

NS = ChangeNotice.Status
OS = Objection.Status


def _errors_onto(form, error: ValidationError) -> None:
    """Put a service's ValidationError on the form's fields when it names them, else on the whole form."""
    detail = error.message_dict if hasattr(error, "error_dict") else {None: error.messages}
    for field, messages_ in detail.items():
        for message in messages_:
            form.add_error(field if field in form.fields else None, message)


def _pretty(value) -> str:
    return format_html('<pre style="white-space: pre-wrap; margin: 0">{}</pre>',
                       json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False))


class ReadOnlyMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ActionPagesMixin:
    """Staff buttons on the change page, each opening a small confirmation form that calls one service."""

    change_form_template = "admin/subprocessors/change_form.html"
    action_form_template = "admin/action_form.html"

    def _path(self, route, view_name, view):
        return path(f"<path:object_id>/{route}", self.admin_site.admin_view(view), name=self._url_name(view_name))

    def _url_name(self, view_name):
        return f"{self.opts.app_label}_{self.opts.model_name}_{view_name}"

    def _url(self, obj, view_name, *args):
        return reverse(f"admin:{self._url_name(view_name)}", args=[quote(obj.pk), *args])

    def _action_object(self, request, object_id):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        return obj

    def _action_page(self, request, obj, form_class, title, perform, intro=""):
        """Show the action's form; on a valid POST call the service, report and go back to the change page."""
        form = form_class(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            try:
                perform(form.cleaned_data)
            except ValidationError as error:
                _errors_onto(form, error)
            else:
                self.log_change(request, obj, str(title))
                messages.success(request, _("Done: %(action)s.") % {"action": title})
                return redirect(self._url(obj, "change"))
        context = {**self.admin_site.each_context(request), "opts": self.opts, "original": obj, "title": title,
                   "form": form, "intro": intro, "change_url": self._url(obj, "change")}
        return TemplateResponse(request, self.action_form_template, context)


class ConfirmForm(forms.Form):
    confirm = forms.BooleanField(label=_("I confirm"))


class ResolutionForm(forms.Form):
    resolution = forms.CharField(label=_("Answer to the customer"), widget=forms.Textarea(attrs={"rows": 6}),
                                 help_text=_("The customer reads it in its portal."))


# Subprocessors ----------------------------------------------------------------------------------------------------

MATERIAL_FIELDS = ("processing_region", "country", "transfer_mechanism")


class SubprocessorForm(forms.ModelForm):
    correction = forms.BooleanField(
        label=_("This corrects a mistake"), required=False,
        help_text=_("Tick only to correct a wrong region, country or transfer mechanism of an active provider. A real "
                    "change of where or how its data is processed needs a change notice, announced to customers "
                    "ahead of time."))

    class Meta:
        model = Subprocessor
        fields = ["name", "slug", "role", "legal_entity", "contact", "dpa_url", "certifications", "processing_region",
                  "country", "processing_locations", "transfer_mechanism", "supplementary_measures",
                  "supplementary_measures_fr", "services", "services_fr", "purpose", "purpose_fr", "data_categories",
                  "no_training_offered", "no_training_enabled", "zero_retention_offered", "zero_retention_enabled"]

    def clean(self):
        cleaned = super().clean()
        instance = self.instance
        if instance.pk is not None and instance.status == Subprocessor.Status.ACTIVE and not cleaned.get("correction"):
            changed = [name for name in MATERIAL_FIELDS if name in self.changed_data]
            if changed:
                raise ValidationError(_(
                    "The region, country or transfer mechanism of an active provider changes through a change notice "
                    "(kind “Change”), announced to customers ahead of time. Tick “This corrects a mistake” only to "
                    "correct an error."))
        return cleaned


@admin.register(Subprocessor)
class SubprocessorAdmin(admin.ModelAdmin):
    """The register. Saving publishes a new version of the public list when what the public sees changed. Providers
    come in, leave and change materially through change notices: status and service dates are read-only here."""

    form = SubprocessorForm
    list_display = ["name", "role", "processing_region", "transfer_mechanism", "status", "effective_from",
                    "effective_until", "temporarily_disabled"]
    list_filter = ["role", "status", "processing_region", "temporarily_disabled"]
    search_fields = ["name", "slug", "legal_entity"]
    readonly_fields = ["status", "effective_from", "effective_until", "temporarily_disabled", "disabled_reason",
                       "created_at"]
    actions = ["deactivate", "reactivate"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "role", "legal_entity", "contact", "dpa_url", "certifications"]}),
        (_("Where and how data is processed"), {
            "fields": ["processing_region", "country", "processing_locations", "transfer_mechanism",
                       "supplementary_measures", "supplementary_measures_fr", "correction"],
            "description": _("For an active provider, a change here is a change of subprocessor: announce it with a "
                             "change notice (kind “Change”) at least %(days)d days ahead, so customers can object.")}),
        (_("What it does"), {"fields": ["services", "services_fr", "purpose", "purpose_fr", "data_categories"]}),
        (_("Options"), {"fields": ["no_training_offered", "no_training_enabled", "zero_retention_offered",
                                   "zero_retention_enabled"]}),
        (_("Status"), {
            "fields": ["status", "effective_from", "effective_until", "temporarily_disabled", "disabled_reason",
                       "created_at"],
            "description": _("A new provider starts as planned; change notices make it active or retire it.")}),
    ]

    def get_fieldsets(self, request, obj=None):
        fieldsets = []
        for name, options in self.fieldsets:
            options = dict(options)
            if "description" in options and "%(days)d" in str(options["description"]):
                options["description"] = str(options["description"]) % {"days": notices.notice_days()}
            if obj is None:
                options["fields"] = [field for field in options["fields"] if field != "correction"]
            fieldsets.append((name, options))
        return fieldsets

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        version = register_publish(note="Edited by staff")
        if version is not None:
            self.message_user(request, _("Version %(number)d of the public list is published.")
                              % {"number": version.number}, messages.INFO)

    def has_delete_permission(self, request, obj=None):
        return False  # a provider that was on the list stays in the record; retire it through a notice

    @admin.action(description=_("Temporarily deactivate (the pipeline falls back)"))
    def deactivate(self, request, queryset):
        for subprocessor in queryset:
            services.subprocessor_set_disabled(subprocessor=subprocessor, disabled=True,
                                               reason=f"Deactivated by {request.user.email}")
        self.message_user(request, _("Deactivated."), messages.SUCCESS)

    @admin.action(description=_("Reactivate"))
    def reactivate(self, request, queryset):
        for subprocessor in queryset:
            services.subprocessor_set_disabled(subprocessor=subprocessor, disabled=False, reason="")
        self.message_user(request, _("Reactivated."), messages.SUCCESS)


# Published versions -----------------------------------------------------------------------------------------------

@admin.register(RegisterVersion)
class RegisterVersionAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["number", "published_at", "note", "diff_summary", "notice"]
    fields = ["number", "published_at", "note", "notice", "digest", "diff_display", "snapshot_display"]
    readonly_fields = fields

    @admin.display(description=_("changes"))
    def diff_summary(self, version):
        diff = version.diff or {}
        return _("%(added)d added, %(removed)d removed, %(changed)d changed") % {
            "added": len(diff.get("added", [])), "removed": len(diff.get("removed", [])),
            "changed": len(diff.get("changed", []))}

    @admin.display(description=_("changes from the previous version"))
    def diff_display(self, version):
        return _pretty(version.diff)

    @admin.display(description=_("list"))
    def snapshot_display(self, version):
        return _pretty(version.snapshot)


# Change notices ---------------------------------------------------------------------------------------------------

class ChangeNoticeForm(forms.ModelForm):
    class Meta:
        model = ChangeNotice
        fields = ["kind", "subprocessor", "replaces", "changes", "summary", "summary_fr", "effective_date"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "effective_date" in self.fields:
            self.fields["effective_date"].help_text = _(
                "At least %(days)d days after the announcement: %(date)s at the earliest if announced today.") % {
                "days": notices.notice_days(),
                "date": date_format(notices.earliest_effective_date(), "DATE_FORMAT")}

    def _post_clean(self):
        super()._post_clean()
        if self.errors or self.instance.subprocessor_id is None:
            return
        try:
            notices.notice_check(self.instance)
        except ValidationError as error:
            _errors_onto(self, error)


class ObjectionInline(admin.TabularInline):
    model = Objection
    fields = ["tenant", "status", "raised_at", "resolved_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = _("Objections")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("tenant")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


ACTIONS = {
    "announce": (_("Announce"), _("Announce %(notice)s to customers and subscribers")),
    "apply": (_("Apply now"), _("Put %(notice)s into effect now")),
    "withdraw": (_("Withdraw"), _("Withdraw %(notice)s")),
}


@admin.register(ChangeNotice)
class ChangeNoticeAdmin(ActionPagesMixin, admin.ModelAdmin):
    """A notice is written as a draft, then announced (mailed, webhooks), applied on its date by the beat task (or
    here once due), or withdrawn before. Only a draft can be edited or deleted."""

    form = ChangeNoticeForm
    list_display = ["__str__", "kind", "status", "effective_date", "announced_at", "objections_display"]
    list_filter = ["status", "kind"]
    date_hierarchy = "effective_date"
    list_select_related = ["subprocessor"]
    inlines = [ObjectionInline]
    record_fields = ["status", "created_at", "announced_at", "announced_by", "applied_at", "withdrawn_at",
                     "objections_display", "versions_display"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            objections_total=Count("objections"),
            objections_open=Count("objections", filter=Q(objections__status=OS.OPEN)))

    @admin.display(description=_("objections"))
    def objections_display(self, notice):
        total = getattr(notice, "objections_total", None)
        if total is None:
            counts = notices.notice_objection_counts(notice)
            total, open_ = counts["total"], counts[OS.OPEN]
        else:
            open_ = notice.objections_open
        if not total:
            return "—"
        return _("%(total)d (%(open)d open)") % {"total": total, "open": open_}

    @admin.display(description=_("published versions"))
    def versions_display(self, notice):
        return ", ".join(str(version) for version in notice.versions.all()) or "—"

    def get_fields(self, request, obj=None):
        fields = list(ChangeNoticeForm.Meta.fields)
        return fields if obj is None else [*fields, *self.record_fields]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        if obj.status != NS.DRAFT:
            return [*ChangeNoticeForm.Meta.fields, *self.record_fields]
        return self.record_fields

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None and obj.status != NS.DRAFT else []

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (obj is None or obj.status == NS.DRAFT)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # drafts are deleted one by one, from their page
        return actions

    def change_view(self, request, object_id, form_url="", extra_context=None):
        notice = self.get_object(request, unquote(object_id))
        extra = {}
        if notice is not None:
            tenant_ids = set(Objection.objects.filter(notice=notice).values_list("tenant_id", flat=True))
            if tenant_ids:  # the inline shows which customers objected: a view of their data
                staff_access_record(staff_user=request.user, tenant_ids=tenant_ids, action="view",
                                    model=Objection._meta.label, object_id=f"notice-{notice.pk}",
                                    path=request.get_full_path())
            extra["workflow_buttons"] = self.workflow_buttons(notice)
            if notice.status != NS.DRAFT:
                extra.update(show_save=False, show_save_and_continue=False, show_save_and_add_another=False)
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def workflow_buttons(self, notice) -> list[tuple[str, str]]:
        return [(ACTIONS[action][0], self._url(notice, action)) for action in notices.allowed_actions(notice)]

    def get_urls(self):
        return [self._path(f"{action}/", action, self.action_view(action)) for action in ACTIONS] + super().get_urls()

    def action_view(self, action):
        def view(request, object_id):
            notice = self._action_object(request, object_id)
            if action not in notices.allowed_actions(notice):
                messages.error(request, _("This action is not open on this notice now."))
                return redirect(self._url(notice, "change"))
            perform = {
                "announce": lambda data: notices.notice_announce(notice=notice, actor=request.user),
                "apply": lambda data: notices.notice_apply(notice=notice),
                "withdraw": lambda data: notices.notice_withdraw(notice=notice, actor=request.user),
            }[action]
            title = ACTIONS[action][1] % {"notice": notice}
            return self._action_page(request, notice, ConfirmForm, title, perform, intro=self._intro(action, notice))

        view.__name__ = f"{action}_view"
        return view

    def _intro(self, action, notice):
        if action == "announce":
            return _("Every customer's DPO and owners and every confirmed subscriber are e-mailed once, and every "
                     "customer's systems receive the subprocessor.change_announced webhook. The notice can no longer "
                     "be edited afterwards.")
        if action == "withdraw":
            return _("Open objections to it are closed as moot; customers told of it are told it is withdrawn.")
        return _("The register changes as announced and a new version of the public list is published.")


# Objections -------------------------------------------------------------------------------------------------------

RESOLVE = {
    OS.ANSWERED: _("Answered (the customer withdraws its objection)"),
    OS.EXEMPTED: _("Exempt the customer from the new provider"),
    OS.CONTRACT_ENDED: _("The contract ends"),
}


@admin.register(Objection)
class ObjectionAdmin(ActionPagesMixin, TenantDataAdmin):
    """Customers' objections: tenant data, each staff view recorded. Staff resolve an open one with a button per
    outcome, writing the answer the customer reads."""

    list_display = ["__str__", "tenant", "notice", "status", "raised_at", "resolved_at"]
    list_filter = ["status"]
    list_select_related = ["tenant", "notice", "notice__subprocessor"]
    fields = ["tenant", "notice", "status", "reason", "raised_by", "raised_at", "resolution", "resolved_by",
              "resolved_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        objection = self.get_object(request, unquote(object_id))
        extra = {"show_save": False, "show_save_and_continue": False, "show_save_and_add_another": False}
        if objection is not None:
            extra["workflow_buttons"] = self.workflow_buttons(objection)
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def workflow_buttons(self, objection) -> list[tuple[str, str]]:
        if objection.status != OS.OPEN:
            return []
        return [(label, self._url(objection, "resolve", status)) for status, label in RESOLVE.items()]

    def get_urls(self):
        return [self._path("resolve/<str:status>/", "resolve", self.resolve_view), *super().get_urls()]

    def resolve_view(self, request, object_id, status):
        objection = self._action_object(request, object_id)
        if status not in RESOLVE or objection.status != OS.OPEN:
            messages.error(request, _("This objection cannot be resolved that way now."))
            return redirect(self._url(objection, "change"))
        if request.method == "POST":
            self._record(request, {objection.tenant_id}, "change", str(objection.pk))
        title = _("Resolve the objection of %(tenant)s: %(outcome)s") % {"tenant": objection.tenant,
                                                                          "outcome": RESOLVE[status]}
        return self._action_page(
            request, objection, ResolutionForm, title,
            lambda data: notices.objection_resolve(objection=objection, status=status,
                                                   resolution=data["resolution"], actor=request.user),
            intro=_("The customer's DPO and owners are e-mailed to read the answer in their portal."))


# Subscribers and mailings -----------------------------------------------------------------------------------------

class SubscriberStatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("pending", _("Awaiting confirmation")), ("active", _("Subscribed")),
                ("unsubscribed", _("Unsubscribed"))]

    def queryset(self, request, queryset):
        if self.value() == "pending":
            return queryset.filter(confirmed_at__isnull=True, unsubscribed_at__isnull=True)
        if self.value() == "active":
            return queryset.filter(confirmed_at__isnull=False, unsubscribed_at__isnull=True)
        if self.value() == "unsubscribed":
            return queryset.filter(unsubscribed_at__isnull=False)
        return queryset


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    """People who asked for the notices. Their address is not shown; staff find one by typing the exact address in
    the search box (matched through its blind index) and may unsubscribe them."""

    list_display = ["__str__", "state", "language", "created_at", "confirmed_at", "unsubscribed_at"]
    list_filter = [SubscriberStatusFilter, "language"]
    fields = ["language", "created_at", "confirmation_sent_at", "confirmed_at", "unsubscribed_at"]
    readonly_fields = fields
    search_fields = ["pk"]
    search_help_text = _("Type the subscriber's exact e-mail address.")
    actions = ["unsubscribe"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("status"))
    def state(self, subscriber):
        if subscriber.unsubscribed_at:
            return _("Unsubscribed")
        return _("Subscribed") if subscriber.confirmed_at else _("Awaiting confirmation")

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        if "@" in term:
            return queryset.filter(email_index=email_index(term)), False
        return queryset.filter(pk=int(term)) if term.isdigit() else queryset.none(), False

    @admin.action(description=_("Unsubscribe"))
    def unsubscribe(self, request, queryset):
        count = queryset.filter(unsubscribed_at__isnull=True).update(unsubscribed_at=timezone.now())
        self.message_user(request, ngettext("%(count)d subscriber unsubscribed.", "%(count)d subscribers unsubscribed.",
                                            count) % {"count": count}, messages.SUCCESS)


@admin.register(Mailing)
class MailingAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["key", "template", "created_at", "recipients_total", "recipients_sent", "recipients_pending"]
    fields = ["key", "template", "created_at", "context_display", "recipients_total", "recipients_sent",
              "recipients_pending", "recipients_failing"]
    readonly_fields = fields
    search_fields = ["key"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            total=Count("recipients"), sent=Count("recipients", filter=Q(recipients__sent_at__isnull=False)),
            failing=Count("recipients", filter=Q(recipients__sent_at__isnull=True) & ~Q(recipients__error="")))

    @admin.display(description=_("recipients"), ordering="total")
    def recipients_total(self, mailing):
        return mailing.total

    @admin.display(description=_("sent"), ordering="sent")
    def recipients_sent(self, mailing):
        return mailing.sent

    @admin.display(description=_("pending"))
    def recipients_pending(self, mailing):
        return mailing.total - mailing.sent

    @admin.display(description=_("failing (retried)"))
    def recipients_failing(self, mailing):
        return mailing.failing

    @admin.display(description=_("context"))
    def context_display(self, mailing):
        return _pretty(mailing.context)
