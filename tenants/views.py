from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import selectors, services
from .decorators import portal_view
from .forms import ApiKeyForm, MemberInviteForm, MemberRoleForm, TenantContactForm, TenantSettingsForm
from .models import ApiKey, Membership
from .roles import Perm, role_has


@login_required
def portal_home(request):
    """Send a member of one tenant to its dashboard; let a member of several choose."""
    memberships = selectors.memberships_for_user(request.user)
    if len(memberships) == 1:
        return redirect("dashboard", tenant_slug=memberships[0].tenant.slug)
    return render(request, "tenants/switcher.html", {"memberships": memberships})


@portal_view()
def dashboard(request):
    cards = selectors.dashboard_cards(request.tenant, request.membership.role)
    return render(request, "tenants/dashboard.html", {"cards": cards})


def _form_errors_from(error, *forms):
    """Put a service's ValidationError on the form that has the field (or the first form)."""
    detail = error.message_dict if hasattr(error, "error_dict") else {None: error.messages}
    for field, errors in detail.items():
        target = next((f for f in forms if field in f.fields), forms[0])
        for message in errors:
            target.add_error(field if field in target.fields else None, message)


@portal_view()
def settings_view(request):
    tenant = request.tenant
    can_edit = role_has(request.membership.role, Perm.MANAGE_SETTINGS)
    contact_form = TenantContactForm(request.POST or None, instance=tenant, prefix="contact")
    settings_form = TenantSettingsForm(request.POST or None, instance=tenant.settings, prefix="settings")
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        if contact_form.is_valid() and settings_form.is_valid():
            try:
                with transaction.atomic():
                    services.tenant_update(tenant=tenant, **contact_form.cleaned_data)
                    services.tenant_settings_update(tenant_settings=tenant.settings, **settings_form.cleaned_data)
            except ValidationError as error:
                _form_errors_from(error, settings_form, contact_form)
            else:
                messages.success(request, _("Settings saved."))
                return redirect("tenant-settings", tenant_slug=tenant.slug)
    return render(
        request,
        "tenants/settings.html",
        {"contact_form": contact_form, "settings_form": settings_form, "can_edit": can_edit},
    )


@portal_view()
def members(request):
    form = MemberInviteForm(request.POST or None)
    can_manage = role_has(request.membership.role, Perm.MANAGE_MEMBERS)
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied
        if form.is_valid():
            try:
                membership = services.member_invite(tenant=request.tenant, actor=request.user, **form.cleaned_data)
            except ValidationError as error:
                _form_errors_from(error, form)
            else:
                _send_welcome(request, membership)
                messages.success(request, _("%(email)s was added.") % {"email": membership.user.email})
                return redirect("members", tenant_slug=request.tenant.slug)
    context = {
        "form": form,
        "can_manage": can_manage,
        "members": selectors.members_of(request.tenant),
        "role_form": MemberRoleForm(),
    }
    return render(request, "tenants/members.html", context)


def _send_welcome(request, membership):
    """A new account has no password: e-mail it a link to choose one, after the transaction commits."""
    user = membership.user
    if user.has_usable_password():
        return
    context = {
        "email": user.email,
        "domain": request.get_host(),
        "protocol": "https" if request.is_secure() else "http",
        "uid": urlsafe_base64_encode(force_bytes(user.pk)),
        "token": default_token_generator.make_token(user),
        "tenant": request.tenant,
    }
    transaction.on_commit(lambda: PasswordResetForm().send_mail(
        "registration/welcome_subject.txt", "registration/welcome_email.txt", context, None, user.email))


@require_POST
@portal_view(Perm.MANAGE_MEMBERS)
def member_role(request, membership_id):
    membership = get_object_or_404(Membership, pk=membership_id)
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a valid role."))
    else:
        try:
            services.membership_change_role(membership=membership, role=form.cleaned_data["role"], actor=request.user)
        except (ValidationError, PermissionDenied) as error:
            messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
        else:
            messages.success(request, _("Role changed."))
    return redirect("members", tenant_slug=request.tenant.slug)


@require_POST
@portal_view(Perm.MANAGE_MEMBERS)
def member_remove(request, membership_id):
    membership = get_object_or_404(Membership, pk=membership_id)
    try:
        services.membership_remove(membership=membership, actor=request.user)
    except (ValidationError, PermissionDenied) as error:
        messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
    else:
        messages.success(request, _("Member removed."))
    return redirect("members", tenant_slug=request.tenant.slug)


@portal_view(Perm.MANAGE_API_KEYS)
def api_keys(request):
    form = ApiKeyForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        try:
            _key, new_key = services.api_key_create(tenant=request.tenant, created_by=request.user, **form.cleaned_data)
        except ValidationError as error:
            _form_errors_from(error, form)
        else:
            form = ApiKeyForm()
    context = {"form": form, "new_key": new_key, "keys": selectors.api_keys_of(request.tenant)}
    return render(request, "tenants/api_keys.html", context)


@require_POST
@portal_view(Perm.MANAGE_API_KEYS)
def api_key_revoke(request, key_id):
    key = get_object_or_404(ApiKey, pk=key_id)
    services.api_key_revoke(api_key=key)
    messages.success(request, _("The key %(prefix)s is revoked.") % {"prefix": key.prefix})
    return redirect("api-keys", tenant_slug=request.tenant.slug)


@portal_view(Perm.VIEW_AUDIT)
def activity(request):
    context = {
        "entries": selectors.audit_trail_of(request.tenant),
        "staff_accesses": selectors.staff_accesses_of(request.tenant),
    }
    return render(request, "tenants/activity.html", context)
