"""E-mail notifications: the human channel next to webhooks.

An e-mail crosses mail servers that neither CALLKOM nor the customer controls, so by default it says only what
happened and links to the portal, where reading the details needs a log-in. An address that chose
``include_report`` also gets the event's data (for report.ready: the report itself).
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tenants.models import Membership, Tenant
from tenants.roles import Role

from .models import EmailNotification, Event

FIELD_LABELS = {
    "call_id": gettext_lazy("Call"),
    "summary": gettext_lazy("Summary"),
    "name": gettext_lazy("Name"),
    "phone": gettext_lazy("Phone"),
    "email": gettext_lazy("E-mail"),
    "company": gettext_lazy("Company"),
    "need": gettext_lazy("Need"),
    "appointment": gettext_lazy("Appointment"),
    "next_step": gettext_lazy("Next step"),
    "special_category": gettext_lazy("Special-category data mentioned"),
    "direction": gettext_lazy("Direction"),
    "channel": gettext_lazy("Channel"),
    "end_reason": gettext_lazy("End reason"),
    "campaign_id": gettext_lazy("Campaign"),
    "answered_at": gettext_lazy("Answered"),
    "status": gettext_lazy("Status"),
    "outcome": gettext_lazy("Outcome"),
    "script": gettext_lazy("Script"),
    "started_at": gettext_lazy("Started"),
    "ended_at": gettext_lazy("Ended"),
    "duration_s": gettext_lazy("Duration (seconds)"),
}
HIDDEN_FIELDS = {"portal_url"}


def language_of(tenant: Tenant) -> str:
    """The language of the tenant's first owner: the person who set the account up reads these e-mails."""
    owner = (Membership.objects.filter(tenant=tenant, role=Role.OWNER).select_related("user")
             .order_by("created_at").first())
    return owner.user.language if owner else settings.LANGUAGE_CODE


def _readable(value) -> str:
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return str(value)


def _lines(data: dict) -> list[tuple[str, str]]:
    """Label and value of each simple, non-empty field, in the order of the data."""
    return [
        (str(FIELD_LABELS.get(key, key)), _readable(value))
        for key, value in data.items()
        if key not in HIDDEN_FIELDS and value not in (None, "", [], {}) and not isinstance(value, dict | list)
    ]


def _portal_link(tenant: Tenant, link: str) -> str:
    return link or settings.CALLKOM_PUBLIC_URL + reverse("dashboard", args=[tenant.slug])


def email_compose(*, tenant: Tenant, notification: EmailNotification, event: str, data: dict,
                  link: str) -> EmailMessage:
    """Build the message in the tenant's language; ``data`` is empty unless the address asked for content."""
    with translation.override(language_of(tenant)):
        label = str(Event(event).label)
        subject = _("[CALLKOM] %(event)s – %(tenant)s") % {"event": label, "tenant": tenant.name}
        body = render_to_string("webhooks/email/notification.txt", {
            "tenant": tenant, "event_label": label, "link": _portal_link(tenant, link),
            "lines": _lines(data) if notification.include_report else [],
        })
    return EmailMessage(subject=subject, body=body, to=[notification.email])
