"""Contact imports: upload, column mapping, the import task's body, and the user's decisions on a file with errors.

Each service runs in one transaction inside the tenant's scope, except ``import_run``, the body of the import task:
it commits batch by batch (see campaigns.importing) so that a long import shows its progress and survives a
restart.
"""

from __future__ import annotations

import logging
import os
import uuid

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tenants.models import User

from .. import importing
from ..models import ContactImport, ContactList
from ..tasks import contact_import_run
from .lists import contact_list_check_risks

logger = logging.getLogger(__name__)

ImportStatus = ContactImport.Status

CANCELABLE = (ImportStatus.UPLOADED, ImportStatus.QUEUED, ImportStatus.VALIDATING, ImportStatus.NEEDS_DECISION,
              ImportStatus.IMPORTING)
RUNNING = (ImportStatus.VALIDATING, ImportStatus.IMPORTING)



@transaction.atomic
def import_upload(*, contact_list: ContactList, uploaded_file, actor: User | None = None) -> ContactImport:
    """Store an uploaded CSV or XLSX file encrypted and read its column names; the user maps them next.

    Raise ValidationError for a file that is empty, too large, or neither CSV nor XLSX (nothing is kept then).
    """
    import_id = uuid.uuid4()
    stored = importing.upload_store(upload=uploaded_file,
                                    name=f"contact-imports/{contact_list.tenant_id}/{import_id}.enc")
    try:
        contact_import = ContactImport(
            id=import_id, tenant_id=contact_list.tenant_id, contact_list=contact_list,
            file_name=os.path.basename(uploaded_file.name or "")[:200] or "upload", file_format=stored.file_format,
            path=stored.path, headers=stored.headers, total_rows=stored.rows_estimate, created_by=actor,
        )
        contact_import.save()
    except BaseException:
        importing.upload_delete(stored.path)
        raise
    return contact_import


def _locked(contact_import: ContactImport) -> ContactImport:
    return ContactImport.objects.select_for_update().get(pk=contact_import.pk)


@transaction.atomic
def import_configure(*, contact_import: ContactImport, mapping: dict[str, str]) -> ContactImport:
    """Set which contact field each column fills (phone exactly once); possible again after a check found errors,
    since a wrong mapping is the usual cause."""
    contact_import = _locked(contact_import)
    if contact_import.status not in (ImportStatus.UPLOADED, ImportStatus.NEEDS_DECISION):
        raise ValidationError(_("This import can no longer be changed."))
    problems = importing.mapping_errors(contact_import.headers, mapping)
    if problems:
        raise ValidationError(problems)
    contact_import.mapping = {header: mapping.get(header, "ignore") for header in contact_import.headers}
    contact_import.status = ImportStatus.UPLOADED
    contact_import.import_valid_rows = False
    contact_import.processed_rows = contact_import.invalid_rows = 0
    contact_import.errors = []
    contact_import.save()
    return contact_import


def _queue(contact_import: ContactImport) -> None:
    tenant_id, import_id = contact_import.tenant_id, str(contact_import.pk)
    transaction.on_commit(lambda: contact_import_run.delay(tenant_id, import_id))


@transaction.atomic
def import_start(*, contact_import: ContactImport, import_valid_rows: bool = False) -> ContactImport:
    """Queue the import task once the columns are mapped. ``import_valid_rows`` takes up front the decision the
    portal asks for after a check with errors: write the valid rows and skip the others."""
    contact_import = _locked(contact_import)
    if contact_import.status != ImportStatus.UPLOADED or not contact_import.mapping:
        raise ValidationError(_("Map the columns before starting the import."))
    contact_import.status = ImportStatus.QUEUED
    contact_import.import_valid_rows = contact_import.import_valid_rows or import_valid_rows
    contact_import.save(update_fields=["status", "import_valid_rows"])
    _queue(contact_import)
    return contact_import


@transaction.atomic
def import_import_valid_rows(*, contact_import: ContactImport) -> ContactImport:
    """The user's decision after errors: import the rows that passed the check, skip the others."""
    contact_import = _locked(contact_import)
    if contact_import.status != ImportStatus.NEEDS_DECISION:
        raise ValidationError(_("This import is not waiting for a decision."))
    if contact_import.invalid_rows >= contact_import.total_rows:
        raise ValidationError(_("No row of this file is valid: correct the file and upload it again."))
    contact_import.import_valid_rows = True
    contact_import.status = ImportStatus.QUEUED
    contact_import.save(update_fields=["import_valid_rows", "status"])
    _queue(contact_import)
    return contact_import


@transaction.atomic
def import_cancel(*, contact_import: ContactImport) -> ContactImport:
    """Stop an import. A running task stops before its next batch; rows already imported stay in the list."""
    contact_import = _locked(contact_import)
    if contact_import.status not in CANCELABLE:
        raise ValidationError(_("This import has already ended."))
    contact_import.status = ImportStatus.CANCELED
    contact_import.finished_at = timezone.now()
    contact_import.save(update_fields=["status", "finished_at"])
    _delete_upload_on_commit(contact_import.path)
    return contact_import


def _delete_upload_on_commit(path: str) -> None:
    transaction.on_commit(lambda: importing.upload_delete(path))


def import_run(*, contact_import: ContactImport) -> ContactImport:
    """Run an import (the Celery task's body): check every row, then write the valid ones and check the list's
    risks. A file with errors stops before writing anything unless the user asked for the valid rows. Whatever
    happens, the import ends in a status the page can show: a crash becomes ``failed`` with a message."""
    mode = _import_begin(contact_import)
    if mode is None:
        return contact_import
    writing = mode == "resume"
    try:
        if mode == "check":
            if not _import_checked(contact_import, importing.check_pass(contact_import)):
                return ContactImport.objects.get(pk=contact_import.pk)
            writing = True
        importing.import_pass(contact_import, skip=contact_import.processed_rows)  # 0 unless resuming
        contact_list_check_risks(contact_list=contact_import.contact_list)
        _import_end(contact_import, ImportStatus.IMPORTING, status=ImportStatus.COMPLETED)
    except importing.ImportCanceled:
        if writing:
            contact_list_check_risks(contact_list=contact_import.contact_list)
        _delete_upload_on_commit(contact_import.path)
    except ValidationError as error:
        _import_fail(contact_import, " ".join(error.messages))
    except Exception as error:  # noqa: BLE001 - any crash must end as a failed import, never a stuck one
        logger.exception("Contact import %s failed", contact_import.pk)
        _import_fail(contact_import, _("The import stopped on an unexpected error (%(error)s). Rows imported before "
                                       "it stay in the list; upload the file again to import the rest.")
                     % {"error": type(error).__name__})
    return ContactImport.objects.get(pk=contact_import.pk)


@transaction.atomic
def _import_begin(contact_import: ContactImport) -> str | None:
    """Claim a queued import ("check"), restart one whose worker died while checking ("check"), or resume one
    whose worker died while writing ("resume"); None for any other status."""
    locked = _locked(contact_import)
    if locked.status == ImportStatus.IMPORTING:
        contact_import.refresh_from_db()
        return "resume"
    if locked.status not in (ImportStatus.QUEUED, ImportStatus.VALIDATING):
        return None
    locked.status = ImportStatus.VALIDATING
    locked.processed_rows = locked.invalid_rows = locked.imported_rows = locked.duplicate_rows = 0
    locked.errors, locked.failure = [], ""
    locked.save()
    contact_import.refresh_from_db()
    return "check"


@transaction.atomic
def _import_checked(contact_import: ContactImport, result: importing.CheckResult) -> bool:
    """Record the check's counts; return whether to go on writing (no error, or the user wants the valid rows)."""
    locked = _locked(contact_import)
    if locked.status != ImportStatus.VALIDATING:
        raise importing.ImportCanceled
    locked.total_rows, locked.invalid_rows, locked.errors = result.total, result.invalid, result.errors
    if result.invalid and not locked.import_valid_rows:
        locked.status, locked.processed_rows = ImportStatus.NEEDS_DECISION, result.total
        locked.save()
        return False
    locked.status, locked.processed_rows = ImportStatus.IMPORTING, 0
    locked.save()
    ContactList.objects.filter(pk=locked.contact_list_id).update(risk_checked_at=None)
    contact_import.refresh_from_db()
    return True


@transaction.atomic
def _import_end(contact_import: ContactImport, *from_statuses: str, **fields) -> None:
    """Move a running import to its end state, unless the user canceled it meanwhile; drop the upload."""
    ContactImport.objects.filter(pk=contact_import.pk, status__in=from_statuses).update(
        finished_at=timezone.now(), **fields)
    _delete_upload_on_commit(contact_import.path)


def _import_fail(contact_import: ContactImport, message: str) -> None:
    _import_end(contact_import, *RUNNING, status=ImportStatus.FAILED, failure=message[:300])


