"""Portal pages of webhooks and e-mail notifications. The whole area needs MANAGE_SETTINGS: deliveries hold
personal data, and an endpoint decides where that data goes."""

import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tenants.decorators import portal_view
from tenants.roles import Perm

from . import selectors, services
from .forms import DeliveryFilterForm, EmailNotificationForm, EndpointForm
from .models import EmailNotification, WebhookDelivery, WebhookEndpoint

MANAGE = Perm.MANAGE_SETTINGS


def _add_errors(form, error: ValidationError) -> None:
    """Show a service's refusal on the form, on the field it names when the form has that field."""
    detail = error.message_dict if hasattr(error, "error_dict") else {None: error.messages}
    for field, field_messages in detail.items():
        for message in field_messages:
            form.add_error(field if field in form.fields else None, message)


def _area_context(request) -> dict:
    return {"dead_count": selectors.dead_letters_of(request.tenant).count()}


@portal_view(MANAGE)
def endpoint_list(request):
    """The endpoints, and the form that adds one; a new endpoint's secret is shown on this response only."""
    form = EndpointForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            created = services.endpoint_create(tenant=request.tenant, created_by=request.user, **form.cleaned_data)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            form = EndpointForm()
    context = {"form": form, "created": created, "endpoints": selectors.endpoints_of(request.tenant),
               **_area_context(request)}
    return render(request, "webhooks/endpoint_list.html", context)


@portal_view(MANAGE)
def endpoint_detail(request, endpoint_id):
    endpoint = get_object_or_404(WebhookEndpoint, pk=endpoint_id)
    filter_form = DeliveryFilterForm(request.GET or None)
    status = filter_form.cleaned_data["status"] if filter_form.is_valid() else ""
    context = {"endpoint": endpoint, "filter_form": filter_form,
               "deliveries": selectors.deliveries_of(endpoint, status=status), **_area_context(request)}
    return render(request, "webhooks/endpoint_detail.html", context)


@portal_view(MANAGE)
def endpoint_edit(request, endpoint_id):
    endpoint = get_object_or_404(WebhookEndpoint, pk=endpoint_id)
    initial = {"url": endpoint.url, "description": endpoint.description, "events": endpoint.events,
               "active": endpoint.active}
    form = EndpointForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.endpoint_update(endpoint=endpoint, **form.cleaned_data)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, _("Endpoint saved."))
            return redirect("webhook-detail", tenant_slug=request.tenant.slug, endpoint_id=endpoint.pk)
    return render(request, "webhooks/endpoint_form.html", {"endpoint": endpoint, "form": form})


@require_POST
@portal_view(MANAGE)
def endpoint_delete(request, endpoint_id):
    endpoint = get_object_or_404(WebhookEndpoint, pk=endpoint_id)
    services.endpoint_delete(endpoint=endpoint)
    messages.success(request, _("The endpoint %(url)s is deleted.") % {"url": endpoint.url})
    return redirect("webhook-list", tenant_slug=request.tenant.slug)


@require_POST
@portal_view(MANAGE)
def endpoint_rotate_secret(request, endpoint_id):
    """Rotate, and show the new secret on this response only."""
    endpoint = get_object_or_404(WebhookEndpoint, pk=endpoint_id)
    services.endpoint_rotate_secret(endpoint=endpoint)
    return render(request, "webhooks/secret.html", {"endpoint": endpoint})


@require_POST
@portal_view(MANAGE)
def endpoint_ping(request, endpoint_id):
    endpoint = get_object_or_404(WebhookEndpoint, pk=endpoint_id)
    services.endpoint_ping(endpoint=endpoint)
    messages.success(request, _("A test delivery is on its way; its result appears below in a moment."))
    return redirect("webhook-detail", tenant_slug=request.tenant.slug, endpoint_id=endpoint.pk)


@portal_view(MANAGE)
def dead_letters(request):
    context = {"deliveries": selectors.dead_letters_of(request.tenant), **_area_context(request)}
    return render(request, "webhooks/dead_letters.html", context)


@portal_view(MANAGE)
def delivery_detail(request, delivery_id):
    delivery = get_object_or_404(WebhookDelivery.objects.select_related("endpoint"), pk=delivery_id)
    body = json.dumps(json.loads(delivery.payload), indent=2, ensure_ascii=False)
    return render(request, "webhooks/delivery_detail.html", {"delivery": delivery, "body": body})


@require_POST
@portal_view(MANAGE)
def delivery_redeliver(request, delivery_id):
    """Redeliver by hand; a second click, or a delivery that already succeeded, sends nothing and says so."""
    delivery = get_object_or_404(WebhookDelivery, pk=delivery_id)
    if services.delivery_redeliver(delivery=delivery):
        messages.success(request, _("Redelivery queued, with the same delivery id %(id)s.") % {"id": delivery.pk})
    elif delivery.status == WebhookDelivery.Status.SUCCEEDED:
        messages.info(request, _("This delivery already succeeded: nothing was sent again."))
    else:
        messages.info(request, _("This delivery is already queued or on its way: nothing more was sent."))
    if request.POST.get("back") == "dead-letters":
        return redirect("webhook-dead-letters", tenant_slug=request.tenant.slug)
    return redirect("webhook-delivery", tenant_slug=request.tenant.slug, delivery_id=delivery.pk)


@portal_view(MANAGE)
def email_list(request):
    form = EmailNotificationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.email_notification_create(tenant=request.tenant, **form.cleaned_data)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, _("%(email)s is subscribed.") % {"email": form.cleaned_data["email"]})
            return redirect("webhook-emails", tenant_slug=request.tenant.slug)
    context = {"form": form, "notifications": selectors.email_notifications_of(request.tenant),
               **_area_context(request)}
    return render(request, "webhooks/email_list.html", context)


@portal_view(MANAGE)
def email_edit(request, notification_id):
    notification = get_object_or_404(EmailNotification, pk=notification_id)
    initial = {"email": notification.email, "events": notification.events,
               "include_report": notification.include_report, "active": notification.active}
    form = EmailNotificationForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.email_notification_update(notification=notification, **form.cleaned_data)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, _("Saved."))
            return redirect("webhook-emails", tenant_slug=request.tenant.slug)
    return render(request, "webhooks/email_form.html", {"notification": notification, "form": form})


@require_POST
@portal_view(MANAGE)
def email_delete(request, notification_id):
    notification = get_object_or_404(EmailNotification, pk=notification_id)
    services.email_notification_delete(notification=notification)
    messages.success(request, _("%(email)s no longer receives notifications.") % {"email": notification.email})
    return redirect("webhook-emails", tenant_slug=request.tenant.slug)
