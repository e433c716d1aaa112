"""Public pages of the register: the list (HTML and JSON), its archive of versions, and the subscription to notices.

Everything here is public (no log-in). The JSON is part of the public contract (DESIGN.md §6): its shape is pinned
by ``schema/subprocessors-v1.schema.json`` and by the tests, and it is language-neutral; the HTML pages are in the
visitor's language.
"""

from __future__ import annotations

import datetime
import hashlib
import json

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import translation
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe

from tenants.ratelimit import count, ip_key, limited

from . import register, subscriptions
from .forms import HONEYPOT, SubscribeForm
from .mailing import unsubscribe_token_subscriber
from .models import ChangeNotice, DataCategory, RegisterVersion, Subprocessor

JSON_MAX_AGE = 300  # seconds a client or cache may keep /subprocessors.json
VERSION_JSON_MAX_AGE = 24 * 3600  # a published version never changes
# Subscription attempts per client address (how many, per how many seconds), counted in the cache under a blind
# index of the address, as the rights-request form does.
SUBSCRIBE_PER_IP = (10, 3600)

ROLE_ORDER = [Subprocessor.Role.STT, Subprocessor.Role.LLM, Subprocessor.Role.TTS, Subprocessor.Role.HOSTING,
              Subprocessor.Role.QUEUE, Subprocessor.Role.TELEPHONY]


# The JSON document ------------------------------------------------------------------------------------------------

def _absolute(name: str, *args) -> str:
    return settings.CALLKOM_PUBLIC_URL + reverse(name, args=args)


def announced_notices():
    """The change notices announced and not yet in force or withdrawn: public, customers may object to them."""
    return (ChangeNotice.objects.filter(status=ChangeNotice.Status.ANNOUNCED)
            .select_related("subprocessor", "replaces").order_by("effective_date", "pk"))


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def notice_document(notice: ChangeNotice) -> dict:
    return {
        "id": notice.pk,
        "kind": notice.kind,
        "subprocessor": notice.subprocessor.slug,
        "name": notice.subprocessor.name,
        "replaces": notice.replaces.slug if notice.replaces_id else None,
        "summary": notice.summary,
        "summary_fr": notice.summary_fr,
        "effective_date": _iso(notice.effective_date),
        "announced_at": _iso(notice.announced_at),
    }


def register_document(version: RegisterVersion | None, *, notices=(), archived: bool = False) -> dict:
    """The ``/subprocessors.json`` document (schema version 1) of a version; None before the first publication."""
    empty_diff = {"added": [], "removed": [], "changed": []}
    if version is None:
        head = {"version": None, "published_at": None, "digest": None, "previous_version": None,
                "changes": empty_diff, "subprocessors": []}
    else:
        head = {"version": version.number, "published_at": _iso(version.published_at), "digest": version.digest,
                "previous_version": version.number - 1 if version.number > 1 else None,
                "changes": version.diff or empty_diff, "subprocessors": register.ordered(version.snapshot)}
    html = _absolute("subprocessors-version", version.number) if archived and version else _absolute("subprocessors")
    return {
        "schema_version": register.SCHEMA_VERSION,
        **head,
        "announced_changes": [notice_document(notice) for notice in notices],
        "links": {"html": html, "feed": _absolute("subprocessors-feed"),
                  "archive": _absolute("subprocessors-versions")},
    }


def _json_response(request, document: dict, *, etag: str, max_age: int) -> HttpResponse:
    etag = f'"{etag}"'
    body = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["ETag"] = etag
    patch_cache_control(response, public=True, max_age=max_age)
    response = get_conditional_response(request, etag=etag, response=response)
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_safe
def register_json(request):
    version = register.current_version()
    document = register_document(version, notices=announced_notices())
    announced = json.dumps(document["announced_changes"], sort_keys=True).encode()
    head = f"v{version.number}-{version.digest[:16]}" if version else "v0"
    etag = f"{head}-{hashlib.sha256(announced).hexdigest()[:16]}"
    return _json_response(request, document, etag=etag, max_age=JSON_MAX_AGE)


@require_safe
def version_json(request, number: int):
    version = get_object_or_404(RegisterVersion, number=number)
    document = register_document(version, archived=True)
    return _json_response(request, document, etag=f"v{version.number}-{version.digest[:16]}",
                          max_age=VERSION_JSON_MAX_AGE)


# The HTML pages ---------------------------------------------------------------------------------------------------

def _language() -> str:
    return subscriptions.language_code(translation.get_language())


def localised(entry: dict, name: str) -> str:
    """``entry[name + "_fr"]`` when the page is in French and it is filled in, else ``entry[name]``."""
    language = _language()
    if language != "en":
        value = entry.get(f"{name}_{language}")
        if value:
            return value
    return entry.get(name) or ""


def _label(choices, value) -> str:
    return str(dict(choices.choices).get(value, value))


def _region(code: str) -> str:
    labels = {"eu": _("European Union"), "local": _("CALLKOM's own servers in the EU"), "us": _("United States")}
    return labels.get(code, (code or "").upper())


def _date(value):
    if not value:
        return None
    try:
        return datetime.date.fromisoformat(value)
    except (TypeError, ValueError):
        return None


def _option(offered: bool, enabled: bool) -> str:
    if not offered:
        return _("not offered")
    return _("offered, switched on") if enabled else _("offered, switched off")


def _contact(value: str) -> dict:
    value = (value or "").strip()
    if value.startswith(("https://", "http://")):
        return {"text": value, "href": value}
    if "@" in value and " " not in value:
        return {"text": value, "href": f"mailto:{value}"}
    return {"text": value, "href": ""}


def display_entry(entry: dict) -> dict:
    """What a page shows of one snapshot entry, in the active language."""
    return {
        "slug": entry.get("slug", ""),
        "name": entry.get("name", ""),
        "legal_entity": entry.get("legal_entity", ""),
        "services": localised(entry, "services"),
        "purpose": localised(entry, "purpose"),
        "data_categories": [_label(DataCategory, value) for value in entry.get("data_categories") or []],
        "region": _region(entry.get("processing_region", "")),
        "country": entry.get("country", ""),
        "in_eu": entry.get("in_eu", False),
        "locations": entry.get("processing_locations") or [],
        "transfer": _label(Subprocessor.Transfer, entry.get("transfer_mechanism", "")),
        "measures": localised(entry, "supplementary_measures"),
        "no_training": _option(entry.get("no_training_offered"), entry.get("no_training_enabled")),
        "zero_retention": _option(entry.get("zero_retention_offered"), entry.get("zero_retention_enabled")),
        "dpa_url": entry.get("dpa_url", ""),
        "own": entry.get("processing_region") == "local",  # CALLKOM's own servers: no provider, no DPA
        "certifications": entry.get("certifications") or [],
        "contact": _contact(entry.get("contact", "")),
        "since": _date(entry.get("effective_from")),
    }


def role_groups(snapshot: list[dict]) -> list[dict]:
    """The entries grouped by role, in the order of the pipeline then the infrastructure; empty roles left out."""
    by_role: dict[str, list[dict]] = {}
    for entry in snapshot:
        by_role.setdefault(entry.get("role", ""), []).append(display_entry(entry))
    order = [role.value for role in ROLE_ORDER] + sorted(set(by_role) - {role.value for role in ROLE_ORDER})
    return [{"role": role, "label": _label(Subprocessor.Role, role) or _("Other"), "entries": by_role[role]}
            for role in order if role in by_role]


def _field_label(name: str) -> str:
    try:
        return str(Subprocessor._meta.get_field(name).verbose_name)
    except Exception:  # noqa: BLE001 - a field of an older snapshot that the model no longer has
        return name


def _value_text(name: str, value) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if name == "data_categories" and isinstance(value, list):
        return ", ".join(_label(DataCategory, item) for item in value)
    if name == "role":
        return _label(Subprocessor.Role, value)
    if name == "transfer_mechanism":
        return _label(Subprocessor.Transfer, value)
    if name == "processing_region":
        return _region(value)
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def display_diff(diff: dict | None) -> dict:
    diff = diff or {}
    changed = [{"name": item.get("name", item.get("slug", "")),
                "fields": [{"label": _field_label(field), "old": _value_text(field, values[0]),
                            "new": _value_text(field, values[1])}
                           for field, values in (item.get("fields") or {}).items()]}
               for item in diff.get("changed") or []]
    return {"added": diff.get("added") or [], "removed": diff.get("removed") or [], "changed": changed,
            "empty": not (diff.get("added") or diff.get("removed") or changed)}


def diff_counts(diff: dict | None) -> dict:
    diff = diff or {}
    return {name: len(diff.get(name) or []) for name in ("added", "removed", "changed")}


def _notice_display(notice: ChangeNotice) -> dict:
    return {"id": notice.pk, "kind": notice.get_kind_display(), "name": notice.subprocessor.name,
            "replaces": notice.replaces.name if notice.replaces_id else "", "summary": notice.localised("summary"),
            "effective_date": notice.effective_date}


@require_safe
def register_page(request):
    version = register.current_version()
    context = {
        "version": version,
        "groups": role_groups(version.snapshot if version else []),
        "notices": [_notice_display(notice) for notice in announced_notices()],
        "form": SubscribeForm(),
        "honeypot": HONEYPOT,
    }
    return render(request, "subprocessors/public/register.html", context)


@require_safe
def version_archive(request):
    versions = [{"number": version.number, "published_at": version.published_at, "note": version.note,
                 **diff_counts(version.diff)}
                for version in RegisterVersion.objects.order_by("-number")]
    return render(request, "subprocessors/public/archive.html", {"versions": versions})


@require_safe
def version_page(request, number: int):
    version = get_object_or_404(RegisterVersion, number=number)
    # Nothing here depends on later versions: an archived page stays the same, byte for byte.
    context = {"version": version, "groups": role_groups(version.snapshot),
               "diff": display_diff(version.diff)}
    return render(request, "subprocessors/public/version.html", context)


# Subscriptions ----------------------------------------------------------------------------------------------------

def _subscribe_form(request, form, status=200):
    return render(request, "subprocessors/public/subscribe.html", {"form": form, "honeypot": HONEYPOT},
                  status=status)


def _bad_link(request):
    context = {"privacy_email": settings.PRIVACY_CONTACT_EMAIL, "hours": _confirm_hours()}
    return render(request, "subprocessors/public/bad_link.html", context, status=400)


def _confirm_hours() -> int:
    return int(subscriptions.CONFIRM_MAX_AGE.total_seconds() // 3600)


@require_http_methods(["GET", "HEAD", "POST"])
def subscribe(request):
    """Ask for change notices by e-mail. The answer never tells whether the address was known."""
    if request.method != "POST":
        return _subscribe_form(request, SubscribeForm())
    ip_counter = ip_key(request, "subscribe")
    if limited(ip_counter, SUBSCRIBE_PER_IP):
        return render(request, "subprocessors/public/too_many.html",
                      {"privacy_email": settings.PRIVACY_CONTACT_EMAIL}, status=429)
    sent_page = render(request, "subprocessors/public/subscribe_sent.html",
                       {"hours": _confirm_hours()})
    if request.POST.get(HONEYPOT):
        count(ip_counter, SUBSCRIBE_PER_IP)
        return sent_page
    form = SubscribeForm(request.POST)
    if not form.is_valid():
        return _subscribe_form(request, form, status=400)
    subscriptions.subscription_request(email=form.cleaned_data["email"], language=_language())
    count(ip_counter, SUBSCRIBE_PER_IP)
    return sent_page


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def subscribe_confirm(request, token: str):
    """The link of the confirmation e-mail: a GET shows a button (mail scanners fetch links), the POST confirms."""
    subscriber = subscriptions.confirm_token_subscriber(token)
    if subscriber is None:
        return _bad_link(request)
    if request.method == "POST":
        subscriptions.subscription_confirm(subscriber=subscriber)
        return render(request, "subprocessors/public/subscribe_done.html")
    return render(request, "subprocessors/public/subscribe_confirm.html")


@csrf_exempt  # RFC 8058: mail clients POST "List-Unsubscribe=One-Click" without any token; it only unsubscribes
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request, token: str):
    subscriber = unsubscribe_token_subscriber(token)
    if subscriber is None:
        return _bad_link(request)
    if request.method == "POST":
        subscriptions.subscription_cancel(subscriber=subscriber)
        return render(request, "subprocessors/public/unsubscribe_done.html")
    return render(request, "subprocessors/public/unsubscribe.html")


SCHEMA_PATH = settings.BASE_DIR / "subprocessors" / "schema" / "subprocessors-v1.schema.json"


@require_safe
def register_schema(request):
    """The JSON Schema of ``/subprocessors.json`` (version 1), for clients that validate what they fetch."""
    response = HttpResponse(SCHEMA_PATH.read_bytes(), content_type="application/schema+json")
    response["Access-Control-Allow-Origin"] = "*"
    patch_cache_control(response, public=True, max_age=VERSION_JSON_MAX_AGE)
    return response
