"""Carrying out a rights request that the controller approved, through the personal-data registry only.

Each type of request does one thing per registered handler:
- access, portability: every handler's export, with the request's metadata, as a machine-readable JSON file and a
  readable summary in the requester's language, zipped, encrypted in the default storage, and reached through a
  download link e-mailed to the requester (unguessable, stored hashed, valid 7 days and 5 downloads);
- erasure: every handler erases and reports per data store; one :class:`ErasureLog` line per store is the proof;
- rectification: the controller's corrections go to every handler; the timeline records which fields changed,
  with the values before and after in its (encrypted) note;
- objection: every handler stops processing (for calls, a do-not-call entry);
- restriction: a :class:`LegalHold` on the person, which calls and retention consult.

Then the copy is completed and the requester receives the completion letter.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import logging
import secrets
import uuid
import zipfile
from functools import partial

from cryptography.fernet import InvalidToken
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from encrypted_model_fields.fields import get_crypter

from tenants.crypto import normalize_email, normalize_phone
from tenants.models import User
from tenants.scope import all_tenants_scope, tenant_scope

from . import registry, rights, selectors
from .models import (
    ErasureLog,
    EventKind,
    ExportFile,
    LegalHold,
    RequestStatus,
    RequestType,
    RightsRequest,
    RoutedRequest,
    RoutedRequestEvent,
)
from .registry import RECTIFIABLE_FIELDS, DataSubject
from .services import legal_hold_place

S = RequestStatus
logger = logging.getLogger(__name__)

EXPORT_TTL = datetime.timedelta(days=7)
EXPORT_MAX_DOWNLOADS = 5
TOKEN_BYTES = 32  # 256 bits: a link cannot be guessed, so its hash alone finds the export
FIELD_MAX = 200
# A copy can be carried out once approved, and again after a failure (the error state), once the cause is fixed.
FULFILLABLE = frozenset({S.APPROVED, S.ERROR})


class ExportNotFound(Exception):
    """No export has this token: a wrong or made-up link (the page answers 404 and tells nothing more)."""


class ExportGone(Exception):
    """The link existed but can no longer be used (expired, used up, file gone); the message says which."""


def subject_of(request: RightsRequest) -> DataSubject:
    """The person of a request, as the handlers know people: blind indexes, plus the values they gave."""
    return DataSubject(phone_index=request.phone_index or None, email_index=request.email_index or None,
                       phone=request.requester_phone, email=request.requester_email)


# Carrying out ----------------------------------------------------------------------------------------------------

@transaction.atomic
def request_fulfil(*, routed: RoutedRequest, actor: User | None, changes: dict[str, str] | None = None
                   ) -> RoutedRequest:
    """Carry out an approved copy: approved (or error) → in progress → completed, and the completion letter.

    What can be checked first (the state, the corrections, a legal hold in the way) raises ValidationError and
    changes nothing. The work runs in a savepoint: when a handler fails, all of it is undone, the copy goes to
    error with a note for CALLKOM staff (who are e-mailed), and it can be carried out again later.
    The copy is re-read through the tenant-scoped manager: another tenant's copy does not exist here.
    """
    routed = RoutedRequest.objects.select_for_update(of=("self",)).select_related("request", "tenant").get(pk=routed.pk)
    if routed.status not in FULFILLABLE:
        raise ValidationError(_("Only an approved request can be carried out."), code="not_approved")
    kind = routed.request.kind
    subject = subject_of(routed.request)
    changes = clean_changes(changes) if kind == RequestType.RECTIFICATION else {}
    if kind == RequestType.ERASURE and _held(routed, subject):
        raise ValidationError(_("This person's data is under a legal hold: it cannot be erased until CALLKOM "
                                "staff release the hold."), code="held")
    rights.transition(item=routed, to=S.IN_PROGRESS, actor=actor)
    try:
        with transaction.atomic():
            note = CARRY_OUT[kind](routed=routed, subject=subject, actor=actor, changes=changes)
    except ValidationError:
        raise  # a refusal found while working: the outer transaction undoes the move to "in progress" too
    except Exception:
        logger.exception("Carrying out routed rights request %s failed", routed.pk)
        return rights.transition(item=routed, to=S.ERROR, actor=actor,
                                 note=_("Carrying out failed and was undone; see the server logs. It can be "
                                        "carried out again once the cause is fixed."))
    _event(routed, actor, note)
    return rights.transition(item=routed, to=S.COMPLETED, actor=actor)


def _held(routed: RoutedRequest, subject: DataSubject) -> bool:
    return selectors.is_held(routed.tenant, phone_index=subject.phone_index, email_index=subject.email_index)


def _event(routed: RoutedRequest, actor: User | None, note: str) -> None:
    RoutedRequestEvent.objects.create(tenant_id=routed.tenant_id, routed=routed, kind=EventKind.FULFILMENT,
                                      actor=actor, note=note)


def _counts_text(counts: dict[str, int]) -> str:
    return "\n".join(f"{store}: {count}" for store, count in sorted(counts.items()))


def _merged(results) -> dict[str, int]:
    merged: dict[str, int] = {}
    for counts in results:
        for store, count in counts.items():
            merged[store] = merged.get(store, 0) + count
    return merged


def clean_changes(changes: dict[str, str] | None) -> dict[str, str]:
    """Normalise the controller's corrections (E.164 phone, lower-case e-mail); empty fields mean "no change"."""
    cleaned = {}
    for field, value in (changes or {}).items():
        value = str(value or "").strip()
        if field not in RECTIFIABLE_FIELDS:
            raise ValidationError(_("“%(field)s” cannot be corrected here.") % {"field": field})
        if not value:
            continue
        try:
            cleaned[field] = _clean_value(field, value)
        except ValidationError as error:
            raise ValidationError({field: error.messages}) from None
    if not cleaned:
        raise ValidationError(_("Enter at least one correction."), code="no_changes")
    return cleaned


def _clean_value(field: str, value: str) -> str:
    if len(value) > FIELD_MAX:
        raise ValidationError(_("At most %(max)d characters.") % {"max": FIELD_MAX})
    if field == "phone":
        return normalize_phone(value)
    if field == "email":
        validate_email(value)
        return normalize_email(value)
    return value


def _export(*, routed: RoutedRequest, subject: DataSubject, actor, changes) -> str:
    """Store the archive and send its link. A failure after the file is written removes the file; the savepoint's
    rollback undoes the rest."""
    request = routed.request
    path, size = _archive_store(routed, subject)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    try:
        export = ExportFile.objects.create(tenant_id=routed.tenant_id, routed=routed, path=path, size_bytes=size,
                                           token_hash=token_hash(token), expires_at=timezone.now() + EXPORT_TTL)
        url = settings.CALLKOM_PUBLIC_URL + reverse("privacy-download", args=[token])
        with translation.override(request.language):
            expires = _when(export.expires_at)
        rights.letter(routed, "export", record=not request.requester_email,
                      extra={"url": url, "expires": expires, "max_downloads": EXPORT_MAX_DOWNLOADS})
    except BaseException:
        default_storage.delete(path)
        raise
    return _("Data export prepared; the download link was sent to the requester, valid until %(expires)s, for at "
             "most %(max)d downloads.") % {"expires": _when(export.expires_at), "max": EXPORT_MAX_DOWNLOADS}


def _when(moment: datetime.datetime) -> str:
    return date_format(timezone.localtime(moment), "DATETIME_FORMAT")


def _erase(*, routed: RoutedRequest, subject: DataSubject, actor, changes) -> str:
    # Apps registered later build on earlier ones (campaigns' list entries hang on calls' contacts): they erase
    # first, so that each store's rows are counted by the app that holds them, not lost in a cascade.
    counts = _merged(handler.erase(routed.tenant, subject) for handler in reversed(registry.handlers()))
    ErasureLog.objects.bulk_create(ErasureLog(tenant_id=routed.tenant_id, routed=routed, store=store, count=count)
                                   for store, count in sorted(counts.items()))
    return _("Erased or anonymised, per data store:") + "\n" + _counts_text(counts)


def _rectify(*, routed: RoutedRequest, subject: DataSubject, actor, changes: dict[str, str]) -> str:
    """The note is the audit of the rectification: fields, records, and the values before and after. The note is
    encrypted at rest and shown only to the controller and CALLKOM staff; the audit log sees none of it."""
    results = [handler.rectify(routed.tenant, subject, changes) for handler in registry.handlers()]
    previous: dict[str, set[str]] = {}
    for result in results:
        for field, values in result.previous.items():
            previous.setdefault(field, set()).update(values)
    lines = [_("Corrected fields: %(fields)s.") % {"fields": ", ".join(sorted(changes))},
             _counts_text(_merged(result.counts for result in results)),
             _("Before:")]
    lines += [f"  {field}: {', '.join(sorted(previous.get(field, ()))) or '—'}" for field in sorted(changes)]
    lines.append(_("After:"))
    lines += [f"  {field}: {changes[field]}" for field in sorted(changes)]
    return "\n".join(lines)


def _object(*, routed: RoutedRequest, subject: DataSubject, actor, changes) -> str:
    counts = _merged(handler.object(routed.tenant, subject) for handler in registry.handlers())
    return _("Objection honoured, per data store:") + "\n" + _counts_text(counts)


def _restrict(*, routed: RoutedRequest, subject: DataSubject, actor, changes) -> str:
    legal_hold_place(tenant=routed.tenant, reason=LegalHold.Reason.RESTRICTION, phone_index=subject.phone_index or "",
                     email_index=subject.email_index or "", routed=routed, actor=actor,
                     note=_("Restriction requested in %(reference)s.") % {"reference": routed.request.reference})
    counts = _merged(handler.restrict(routed.tenant, subject, True) for handler in registry.handlers())
    heading = _("Legal hold placed: the data is kept but no longer processed. Records covered, per data store:")
    return heading + "\n" + _counts_text(counts)


CARRY_OUT = {
    RequestType.ACCESS: _export,
    RequestType.PORTABILITY: _export,
    RequestType.ERASURE: _erase,
    RequestType.RECTIFICATION: _rectify,
    RequestType.OBJECTION: _object,
    RequestType.RESTRICTION: _restrict,
}


# The export file ------------------------------------------------------------------------------------------------

def _archive_store(routed: RoutedRequest, subject: DataSubject) -> tuple[str, int]:
    """Build the archive, encrypt it into the default storage; return its path and its size before encryption."""
    archive = _archive(routed, subject)
    path = default_storage.save(f"exports/{routed.tenant_id}/{uuid.uuid4()}.zip.enc",
                                ContentFile(get_crypter().encrypt(archive)))
    return path, len(archive)


def _archive(routed: RoutedRequest, subject: DataSubject) -> bytes:
    """A ZIP holding data.json (every handler's export and the request's metadata) and summary.html (the same,
    readable, in the requester's language)."""
    request = routed.request
    data = {handler.name: handler.export(routed.tenant, subject) for handler in registry.handlers()}
    document = {
        "request": {"reference": request.reference, "type": request.kind, "received_at": request.received_at,
                    "controller": routed.tenant.legal_name, "processor": "CALLKOM", "generated_at": timezone.now()},
        "data": data,
    }
    with translation.override(request.language):
        summary = render_to_string("compliance/exports/summary.html", {
            "rights_request": request, "controller": routed.tenant.legal_name, "generated_at": timezone.now(),
            "rows": outline(data), "language": request.language,
        })
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.json", json.dumps(document, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2))
        archive.writestr("summary.html", summary)
    return buffer.getvalue()


def outline(value, depth: int = 0) -> list[dict]:
    """Flatten exported data into rows (depth, label, text) for the readable summary.

    A key ``created_at`` is shown as the translation of "Created at": handlers mark their labels for translation.
    A dict always opens a level (its keys are labels); a list opens one unless it holds plain values only.
    """
    if isinstance(value, dict):
        items = [(_label(key), item) for key, item in value.items()]
    else:
        items = [(f"{index}.", item) for index, item in enumerate(value, start=1)]
    rows: list[dict] = []
    for label, item in items:
        if _opens_level(item):
            rows += [{"depth": depth, "label": label, "text": ""}, *outline(item, depth + 1)]
        else:
            rows.append({"depth": depth, "label": label, "text": _text(item) or "—"})
    return rows


def _label(key) -> str:
    words = str(key).replace("_", " ").strip().capitalize()
    return _(words) if words else "—"  # gettext("") would be the catalogue's header


def _opens_level(item) -> bool:
    if isinstance(item, dict):
        return bool(item)
    return isinstance(item, list) and any(isinstance(value, (dict, list)) for value in item)


def _text(item) -> str:
    if isinstance(item, list):
        return ", ".join("" if value is None else str(value) for value in item)
    return "" if item is None or isinstance(item, dict) else str(item)


# Downloads -------------------------------------------------------------------------------------------------------

def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def export_for_token(token: str) -> ExportFile:
    """The export behind a link, if it can still be downloaded; raise ExportNotFound or ExportGone otherwise.
    Reads only (the landing page): nothing is counted."""
    with all_tenants_scope("data export download"):
        export = ExportFile.objects.select_related("routed__request").filter(token_hash=token_hash(token)).first()
    if export is None:
        raise ExportNotFound
    refusal = _refusal(export)
    if refusal:
        raise ExportGone(refusal)
    return export


def export_download(*, token: str) -> tuple[ExportFile, bytes]:
    """Count a download and return the decrypted archive; raise ExportNotFound or ExportGone.

    The refusal is decided in its own transaction, which commits before the error is raised: a link found
    expired or used up has its file deleted for good, even though the caller sees an error.
    """
    outcome = _download(token)
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


@transaction.atomic
def _download(token: str) -> tuple[ExportFile, bytes] | Exception:
    with all_tenants_scope("data export download"):
        export = ExportFile.objects.select_for_update().filter(token_hash=token_hash(token)).first()
    if export is None:
        return ExportNotFound()
    with tenant_scope(export.tenant):
        refusal = _refusal(export)
        if refusal:
            _file_delete(export)
            return ExportGone(refusal)
        try:
            with default_storage.open(export.path, "rb") as handle:
                archive = get_crypter().decrypt(handle.read())
        except (OSError, InvalidToken):
            logger.exception("Data export %s could not be read", export.pk)
            _file_delete(export)
            return ExportGone(_("This file is no longer available."))
        export.download_count += 1
        export.downloaded_at = timezone.now()
        export.save(update_fields=["download_count", "downloaded_at"])
        if export.download_count >= EXPORT_MAX_DOWNLOADS:
            _file_delete(export)
    return export, archive


def _refusal(export: ExportFile) -> str:
    if export.download_count >= EXPORT_MAX_DOWNLOADS:
        return _("This link has already been used %(max)d times, the most allowed.") % {"max": EXPORT_MAX_DOWNLOADS}
    if export.expires_at <= timezone.now():
        return _("This link has expired.")
    if export.deleted_at is not None:
        return _("This file is no longer available.")
    return ""


def export_state(export: ExportFile) -> str:
    """How the link stands, for the controller's page."""
    if export.download_count >= EXPORT_MAX_DOWNLOADS:
        return _("Used up")
    if export.expires_at <= timezone.now():
        return _("Expired")
    return _("File deleted") if export.deleted_at is not None else _("Active")


def _file_delete(export: ExportFile, *, now: datetime.datetime | None = None) -> None:
    """Forget the file once the transaction commits; the row stays as the record of what was sent."""
    if export.deleted_at is None:
        export.deleted_at = now or timezone.now()
        export.save(update_fields=["deleted_at"])
        transaction.on_commit(partial(default_storage.delete, export.path))


def exports_purge(*, now: datetime.datetime | None = None) -> int:
    """Delete the files of the links that have expired (daily); return how many. The rows stay."""
    now = now or timezone.now()
    with all_tenants_scope("data export purge"):
        expired = list(ExportFile.objects.filter(deleted_at__isnull=True, expires_at__lte=now).select_related("tenant"))
    for export in expired:
        with tenant_scope(export.tenant), transaction.atomic():
            _file_delete(export, now=now)
    return len(expired)
