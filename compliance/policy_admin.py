"""The DPA template and the AI policy in the Django admin: staff write a draft, then publish it with one button.

A draft is edited like any object (one draft of each document at a time; it takes the next version number). Once
published, a version is read-only: the admin offers no change, no save and no delete, and the services refuse it
anyway. Publishing goes through a confirmation page that says who will be e-mailed. Acceptances are read-only,
tenant-owned rows: each list or page shown to staff is a logged access to the tenant's data.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tenants.admin_mixins import ReadOnlyAdminMixin, TenantDataAdmin

from . import policies
from .forms import errors_onto
from .models import AiPolicyVersion, DpaAcceptance, DpaVersion

TEXT_FIELDS = ["title", "title_fr", "body", "body_fr", "changes", "changes_fr"]
RECORD_FIELDS = ["number", "created_at", "published_at", "published_by"]


class PublishForm(forms.Form):
    confirm = forms.BooleanField(label=gettext_lazy("Publish this version now; it can never be changed afterwards"))


class DraftForm(forms.ModelForm):
    """Refuse a second draft here, as a form error, rather than in the service, as an exception."""

    def clean(self):
        cleaned = super().clean()
        model = self._meta.model
        if self.instance.pk is None and model.objects.filter(published_at__isnull=True).exists():
            raise ValidationError(_("A draft exists already: edit it, publish it or delete it first."))
        return cleaned


class PublishedDocumentAdmin(admin.ModelAdmin):
    change_form_template = "compliance/admin/change_form.html"
    list_display = ["number", "title", "published_at", "published_by"]
    list_display_links = ["number", "title"]
    form = DraftForm
    text_fields = TEXT_FIELDS

    # Services, set by each document's admin.
    create_service = update_service = publish_service = None

    def get_fields(self, request, obj=None):
        return list(self.text_fields) if obj is None else [*RECORD_FIELDS, *self.text_fields]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else RECORD_FIELDS

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or not obj.published)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and obj is not None and not obj.published

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # a bulk delete would reach published versions
        return actions

    def save_form(self, request, form, change):
        """Every write goes through the services (numbering, one draft, immutability)."""
        data = {name: form.cleaned_data[name] for name in self.text_fields if name in form.cleaned_data}
        if change:
            return self.update_service(version=form.instance, **data)
        return self.create_service(**data)

    def save_model(self, request, obj, form, change):
        pass  # saved by save_form

    def save_related(self, request, form, formsets, change):
        pass  # no relations edited here

    # --- the Publish button ---

    def get_urls(self):
        view = self.admin_site.admin_view(self.publish_view)
        name = f"{self.opts.app_label}_{self.opts.model_name}_publish"
        return [path("<path:object_id>/publish/", view, name=name), *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        buttons = []
        if obj is not None and not obj.published and self.has_change_permission(request, obj):
            buttons.append((_("Publish"), self._publish_url(obj)))
        return super().change_view(request, object_id, form_url, {**(extra_context or {}),
                                                                   "workflow_buttons": buttons})

    def _publish_url(self, obj):
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_publish", args=[quote(obj.pk)])

    def publish_consequence(self, obj) -> str:
        raise NotImplementedError

    def publish_view(self, request, object_id):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        change_url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[quote(obj.pk)])
        if obj.published:
            messages.info(request, _("This version is published already."))
            return redirect(change_url)
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        form = PublishForm(request.POST or None)
        form.fields["confirm"].help_text = self.publish_consequence(obj)
        if request.method == "POST" and form.is_valid():
            try:
                published = self.publish_service(version=obj, actor=request.user)
            except ValidationError as error:
                errors_onto(form, error)
            else:
                self.log_change(request, published, _("Published"))
                messages.success(request, _("Version %(number)s is published. %(consequence)s") % {
                    "number": published.number, "consequence": self.publish_consequence(published)})
                return redirect(change_url)
        title = _("Publish %(object)s") % {"object": obj}
        context = {**self.admin_site.each_context(request), "opts": self.opts, "original": obj, "title": title,
                   "form": form, "change_url": change_url}
        return TemplateResponse(request, "admin/action_form.html", context)


@admin.register(DpaVersion)
class DpaVersionAdmin(PublishedDocumentAdmin):
    create_service = staticmethod(policies.dpa_draft_create)
    update_service = staticmethod(policies.dpa_draft_update)
    publish_service = staticmethod(policies.dpa_publish)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        if "body" in form.base_fields:
            form.base_fields["body"].help_text = _(
                "In English; one paragraph per line (a short line without final punctuation is a heading). "
                "{controller} and {processor} are replaced by the parties' names. Annex I (the subprocessor list) and "
                "Annex II (the security measures) are added to each customer's PDF.")
        return form

    def publish_consequence(self, obj) -> str:
        return _("Every customer's DPO and owners are e-mailed, and each customer's owners are asked to accept the "
                 "new version in the portal; until they do, the version they accepted before remains in force.")


@admin.register(AiPolicyVersion)
class AiPolicyVersionAdmin(PublishedDocumentAdmin):
    text_fields = [*TEXT_FIELDS, "substantial"]
    list_display = [*PublishedDocumentAdmin.list_display, "substantial"]
    create_service = staticmethod(policies.ai_policy_draft_create)
    update_service = staticmethod(policies.ai_policy_draft_update)
    publish_service = staticmethod(policies.ai_policy_publish)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        if "substantial" in form.base_fields:
            form.base_fields["substantial"].help_text = _(
                "Decides who is told when this version is published. Empty: an editorial change, published on "
                "/ai-policy/ and e-mailed to nobody. A substantial change (a new purpose, a new provider outside the "
                "EU, another substantial change): e-mailed to every customer's DPO and owners and to the "
                "subscribers of CALLKOM's change notices.")
        return form

    def publish_consequence(self, obj) -> str:
        if obj.substantial:
            return _("Substantial change (%(kind)s): every customer's DPO and owners and every subscriber are "
                     "e-mailed.") % {"kind": obj.get_substantial_display()}
        return _("Editorial change: the new version is published on /ai-policy/ and nobody is e-mailed.")


@admin.register(DpaAcceptance)
class DpaAcceptanceAdmin(ReadOnlyAdminMixin, TenantDataAdmin):
    list_display = ["tenant", "version", "accepted_by_email", "accepted_at", "ip_address", "register_version"]
    list_filter = ["version"]
    fields = ["tenant", "version", "accepted_by", "accepted_by_email", "accepted_at", "ip_address",
              "register_version"]
    date_hierarchy = "accepted_at"

    def has_delete_permission(self, request, obj=None):
        return False
