"""The contact import engine: the encrypted upload, reading CSV and XLSX files row by row, checking each row, and
writing the valid ones in batches.

Why it is built this way:
- an uploaded list is personal data, so it is stored encrypted with the database keys, like a recording; it is cut
  into chunks, each its own Fernet token on its own line, so reading it back never holds the whole file;
- a CSV file is transcoded to UTF-8 when it is stored, so the reader has one encoding to handle; the delimiter is
  sniffed from the stored text each time it is read, which gives the same answer every time;
- every row is checked before any is written (pass 1), so that a file with errors changes nothing until the user
  decides; pass 2 writes batches, each with its progress counters in one transaction, so that a worker that dies
  resumes after the last committed batch, and a cancel takes effect between two batches;
- duplicates are found by blind index (the phone number's HMAC), in the file and among the tenant's contacts: an
  existing contact is added to the list, not copied.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import datetime
import io
import itertools
import json
import tempfile
import zoneinfo
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from encrypted_model_fields.fields import get_crypter

from tenants.crypto import DEFAULT_PHONE_REGION, blind_index, normalize_email, normalize_phone

from .models import Contact, ContactImport, ContactListEntry

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_COLUMNS = 100
MAX_ROWS = 500_000
BATCH_ROWS = 1000  # rows per transaction in pass 2
PROGRESS_EVERY = 2000  # rows between two progress writes in pass 1
ERRORS_KEPT = 1000  # errors stored for the report; the counts stay exact
SNIFF_LINES = 20
MAX_LENGTHS = {"name": 200, "company": 200, "email": 254, "notes": 10_000, "custom": 1000}
FORMAT = ContactImport.Format

FIELD_CHOICES = [
    ("phone", gettext_lazy("Phone number")),
    ("name", gettext_lazy("Name")),
    ("email", gettext_lazy("E-mail")),
    ("company", gettext_lazy("Company")),
    ("time_zone", gettext_lazy("Time zone")),
    ("notes", gettext_lazy("Notes")),
    ("custom", gettext_lazy("Other information (kept under the column's name)")),
    ("ignore", gettext_lazy("Do not import")),
]
FIELDS = {value for value, _label in FIELD_CHOICES}
JOINED_FIELDS = {"name": " ", "notes": "\n"}  # may come from several columns (first name + last name)
SINGLE_FIELDS = {"phone", "email", "company", "time_zone"}


class ImportCanceled(Exception):
    """The import's status left the running state (the user canceled it) while a pass was running."""


# --- the encrypted upload ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredUpload:
    path: str
    file_format: str
    headers: list[str]
    rows_estimate: int  # exact for CSV; from the sheet's declared size for XLSX (0 when it declares none)


def upload_store(*, upload, name: str) -> StoredUpload:
    """Check that the upload is a non-empty CSV or XLSX file and store it encrypted under ``name``.

    Raise ValidationError (and store nothing) for anything else.
    """
    if upload.size is not None and upload.size > MAX_UPLOAD_BYTES:
        raise ValidationError(_("The file is larger than %(size)s MB.") % {"size": MAX_UPLOAD_BYTES // 2**20})
    upload.seek(0)
    head = upload.read(4096)
    if not head.strip(b" \t\r\n\xef\xbb\xbf") and not upload.read(1):
        raise ValidationError(_("The file is empty."))
    file_format = _detect_format(head)
    if file_format == FORMAT.CSV:
        chunks = _utf8_chunks(upload, _detect_encoding(upload))
    else:
        chunks = upload.chunks()
    path = _store_encrypted(name, chunks)
    try:
        headers, rows_estimate = _inspect(path, file_format)
    except BaseException:
        default_storage.delete(path)
        raise
    return StoredUpload(path=path, file_format=file_format, headers=headers, rows_estimate=rows_estimate)


def _detect_format(head: bytes) -> str:
    """Tell the format from the file's first bytes, never from its name."""
    if head.startswith(b"PK\x03\x04"):
        return FORMAT.XLSX
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ValidationError(_("This is an old Excel file (.xls). Save it as .xlsx or as CSV and upload it again."))
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return FORMAT.CSV
    if b"\x00" in head or head.startswith(b"%PDF"):
        raise ValidationError(_("This file is neither a CSV file nor an Excel workbook (.xlsx)."))
    return FORMAT.CSV


def _detect_encoding(upload) -> str:
    """Return the encoding of a text upload: UTF-8 (with or without BOM), UTF-16 with BOM, or Windows-1252."""
    upload.seek(0)
    head = upload.read(4)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for encoding in ("utf-8", "cp1252"):
        if _decodes(upload, encoding):
            return encoding
    raise ValidationError(_("The file's characters could not be read. Save it as “CSV UTF-8” and upload it again."))


def _decodes(upload, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        for chunk in upload.chunks():
            if "\x00" in decoder.decode(chunk):
                raise ValidationError(_("This file is neither a CSV file nor an Excel workbook (.xlsx)."))
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _utf8_chunks(upload, encoding: str) -> Iterator[bytes]:
    decoder = codecs.getincrementaldecoder(encoding)()
    for chunk in upload.chunks():
        yield decoder.decode(chunk).encode("utf-8")
    yield decoder.decode(b"", final=True).encode("utf-8")


def _store_encrypted(name: str, chunks: Iterable[bytes]) -> str:
    """Write each chunk as one Fernet token per line; the spool holds ciphertext only."""
    crypter = get_crypter()
    with tempfile.TemporaryFile() as spool:
        for chunk in chunks:
            if chunk:
                spool.write(crypter.encrypt(chunk))
                spool.write(b"\n")
        spool.seek(0)
        return default_storage.save(name, File(spool, name=name))


class _DecryptingReader(io.RawIOBase):
    """The plain bytes of a stored upload, decrypted one chunk at a time."""

    def __init__(self, handle):
        super().__init__()
        self._handle = handle
        self._lines = iter(handle)
        self._crypter = get_crypter()
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            line = next(self._lines, None)
            if line is None:
                return 0
            if line.strip():
                self._pending = self._crypter.decrypt(line.strip())
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count

    def close(self) -> None:
        self._handle.close()
        super().close()


def _open_plain(path: str) -> io.BufferedReader:
    return io.BufferedReader(_DecryptingReader(default_storage.open(path, "rb")), buffer_size=1 << 16)


def upload_delete(path: str) -> None:
    if path:
        default_storage.delete(path)


# --- reading rows -----------------------------------------------------------------------------------------------


@contextmanager
def open_rows(path: str, file_format: str) -> Iterator[Iterator[list[str]]]:
    """Yield an iterator over every row of the stored file (the header first) as lists of stripped strings."""
    if file_format == FORMAT.XLSX:
        with _xlsx_rows(path) as rows:
            yield rows
        return
    with io.TextIOWrapper(_open_plain(path), encoding="utf-8", newline="") as text:
        head = list(itertools.islice(text, SNIFF_LINES))
        reader = csv.reader(itertools.chain(head, text), delimiter=sniff_delimiter(head))
        yield ([cell.strip() for cell in row] for row in reader)


def sniff_delimiter(lines: list[str]) -> str:
    """Pick the delimiter among , ; and tab that splits the header into the most columns, the following lines
    agreeing; a one-column file gets the comma."""
    best, best_score = ",", (0, 1)
    for delimiter in (",", ";", "\t"):
        try:
            rows = [row for row in csv.reader(lines, delimiter=delimiter) if row]
        except csv.Error:
            continue
        if not rows:
            continue
        width = len(rows[0])
        score = (sum(1 for row in rows[1:] if len(row) == width), width)
        if width > 1 and score > best_score:
            best, best_score = delimiter, score
    return best


@contextmanager
def _xlsx_sheet(path: str):
    """Open the workbook's first sheet in openpyxl's streaming (read-only) mode."""
    from openpyxl import load_workbook

    with _open_plain(path) as plain:
        data = io.BytesIO(plain.read())  # a zip file needs seeking; XLSX is compressed, so this stays small
    workbook = load_workbook(data, read_only=True, data_only=True)
    try:
        yield workbook.worksheets[0]
    finally:
        workbook.close()


@contextmanager
def _xlsx_rows(path: str) -> Iterator[Iterator[list[str]]]:
    with _xlsx_sheet(path) as sheet:
        yield ([_cell_text(value) for value in row] for row in sheet.iter_rows(values_only=True))


def _cell_text(value) -> str:
    """Turn an XLSX cell into the text the user sees: 612345678.0 is “612345678”, a date is ISO 8601."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat()
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value).strip()


def _inspect(path: str, file_format: str) -> tuple[list[str], int]:
    """Return the file's column names and its number of data rows (for XLSX, the sheet's declared size: counting
    would mean parsing the whole sheet in the request)."""
    try:
        if file_format == FORMAT.CSV:
            with open_rows(path, file_format) as rows:
                headers = clean_headers(next(rows, []))
                count = sum(1 for row in rows if any(row))
                has_rows = count > 0
        else:
            with _xlsx_sheet(path) as sheet:
                rows = ([_cell_text(value) for value in row] for row in sheet.iter_rows(values_only=True))
                headers = clean_headers(next(rows, []))
                has_rows = any(any(row) for row in rows)
                count = max((sheet.max_row or 1) - 1, 0)
    except (csv.Error, UnicodeDecodeError) as error:
        raise ValidationError(_("The CSV file could not be read (%(error)s).") % {"error": error})
    except ValidationError:
        raise
    except Exception as error:  # noqa: BLE001 - openpyxl raises many kinds of errors on a broken workbook
        raise ValidationError(_("The Excel workbook could not be read (%(error)s).") % {"error": type(error).__name__})
    if not has_rows:
        raise ValidationError(_("The file has column names but no rows."))
    return headers, count


def clean_headers(cells: list[str]) -> list[str]:
    """Make the first row usable as column names: no trailing empty cells, none blank, none twice."""
    while cells and not cells[-1]:
        cells = cells[:-1]
    if not cells:
        raise ValidationError(_("The first row must hold the column names."))
    if len(cells) > MAX_COLUMNS:
        raise ValidationError(_("The file has more than %(count)s columns.") % {"count": MAX_COLUMNS})
    headers: list[str] = []
    for position, cell in enumerate(cells, start=1):
        base = (cell or _("Column %(number)s") % {"number": position})[:110]
        header, suffix = base, 2
        while header in headers:
            header, suffix = f"{base} ({suffix})", suffix + 1
        headers.append(header)
    return headers


def data_rows(rows: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    """Number the data rows as the spreadsheet does (the header is row 1) and skip the blank ones."""
    for number, cells in enumerate(rows, start=2):
        if number - 1 > MAX_ROWS:
            raise ValidationError(_("The file has more than %(count)s rows.") % {"count": MAX_ROWS})
        if any(cells):
            yield number, cells


def preview_rows(contact_import: ContactImport, limit: int = 3) -> list[list[str]]:
    """Return the first data rows, to help the user map the columns."""
    with open_rows(contact_import.path, contact_import.file_format) as rows:
        next(rows, None)
        return [cells for _number, cells in itertools.islice(data_rows(rows), limit)]


# --- the column mapping and the check of one row ----------------------------------------------------------------


def mapping_errors(headers: list[str], mapping: dict) -> list[str]:
    """Return what is wrong with a mapping of column names to contact fields (empty when it is usable)."""
    problems = []
    unknown = sorted(set(mapping) - set(headers))
    if unknown:
        problems.append(_("Unknown columns: %(columns)s.") % {"columns": ", ".join(unknown)})
    if any(field not in FIELDS for field in mapping.values()):
        problems.append(_("Each column must be mapped to one of the offered fields."))
    chosen = [field for field in mapping.values() if field in FIELDS]
    if chosen.count("phone") != 1:
        problems.append(_("Choose exactly one column holding the phone number."))
    for field in sorted(SINGLE_FIELDS - {"phone"}):
        if chosen.count(field) > 1:
            problems.append(_("Only one column can hold the %(field)s.") % {"field": dict(FIELD_CHOICES)[field]})
    return problems


@cache
def _time_zones() -> dict[str, str]:
    return {name.lower(): name for name in zoneinfo.available_timezones()}


@dataclass(frozen=True, slots=True)
class CleanRow:
    phone: str  # E.164
    name: str
    email: str  # lower-cased
    company: str
    time_zone: str
    notes: str
    custom: dict


class RowChecker:
    """Check one data row against the mapping and return its clean values, or the errors per column.

    Error messages never quote the cell: the error report is stored unencrypted, and the row and column are
    enough to find the cell in the spreadsheet.
    """

    def __init__(self, headers: list[str], mapping: dict, region: str = DEFAULT_PHONE_REGION):
        self.width = len(headers)
        self.region = region
        self.columns = [(index, header, mapping.get(header, "ignore")) for index, header in enumerate(headers)]

    def check(self, cells: list[str]) -> tuple[CleanRow | None, list[tuple[str, str]]]:
        errors: list[tuple[str, str]] = []
        if any(cells[self.width:]):
            used = max(position for position, cell in enumerate(cells, start=1) if cell)
            errors.append(("", _("This row has %(cells)s cells but the file has %(columns)s columns.")
                           % {"cells": used, "columns": self.width}))
        values: dict[str, list[str]] = {"name": [], "notes": []}
        custom: dict[str, str] = {}
        for index, header, field in self.columns:
            value = cells[index] if index < len(cells) else ""
            if field == "ignore" or (not value and field != "phone"):
                continue
            try:
                cleaned = self._clean(field, value)
            except ValidationError as error:
                errors.append((header, error.messages[0]))
                continue
            if field == "custom":
                custom[header] = cleaned
            else:
                values.setdefault(field, []).append(cleaned)
        joined = {field: JOINED_FIELDS.get(field, "").join(parts) for field, parts in values.items()}
        for field in ("name", "notes"):
            if len(joined[field]) > MAX_LENGTHS[field]:
                errors.append(("", _("The %(field)s is longer than %(count)s characters.")
                               % {"field": dict(FIELD_CHOICES)[field], "count": MAX_LENGTHS[field]}))
        if errors:
            return None, errors
        return CleanRow(phone=joined["phone"], name=joined["name"], email=joined.get("email", ""),
                        company=joined.get("company", ""), time_zone=joined.get("time_zone", ""),
                        notes=joined["notes"], custom=custom), []

    def _clean(self, field: str, value: str) -> str:
        if field == "phone":
            if not value:
                raise ValidationError(_("The phone number is missing."))
            try:
                return normalize_phone(value, self.region)
            except ValidationError:
                raise ValidationError(_("This is not a valid phone number."))
        if field in MAX_LENGTHS and len(value) > MAX_LENGTHS[field]:
            raise ValidationError(_("Longer than %(count)s characters.") % {"count": MAX_LENGTHS[field]})
        if field == "email":
            try:
                validate_email(value)
            except ValidationError:
                raise ValidationError(_("This is not a valid e-mail address."))
            return normalize_email(value)
        if field == "time_zone":
            zone = _time_zones().get(value.lower())
            if zone is None:
                raise ValidationError(_("Unknown time zone (expected a name such as Europe/Paris)."))
            return zone
        return value


# --- the two passes ---------------------------------------------------------------------------------------------


@dataclass
class CheckResult:
    total: int = 0
    invalid: int = 0
    errors: list[dict] = dataclasses.field(default_factory=list)  # the first ERRORS_KEPT


def check_pass(contact_import: ContactImport) -> CheckResult:
    """Pass 1: check every row, write nothing but the progress; return the counts and the first errors."""
    checker = RowChecker(contact_import.headers, contact_import.mapping)
    result = CheckResult()
    with open_rows(contact_import.path, contact_import.file_format) as rows:
        next(rows, None)
        for number, cells in data_rows(rows):
            result.total += 1
            _clean, errors = checker.check(cells)
            if errors:
                result.invalid += 1
                room = ERRORS_KEPT - len(result.errors)
                result.errors.extend({"row": number, "column": column, "message": message}
                                     for column, message in errors[:room])
            if result.total % PROGRESS_EVERY == 0:
                _progress(contact_import, ContactImport.Status.VALIDATING, processed_rows=result.total)
    return result


def import_pass(contact_import: ContactImport, *, skip: int = 0) -> None:
    """Pass 2: write the valid rows in batches of BATCH_ROWS data rows, skipping the first ``skip`` data rows
    (already committed by an earlier run of the same import)."""
    checker = RowChecker(contact_import.headers, contact_import.mapping)
    writer = _BatchWriter(contact_import)
    with open_rows(contact_import.path, contact_import.file_format) as rows:
        next(rows, None)
        batch: list[CleanRow] = []
        handled = 0
        for _number, cells in itertools.islice(data_rows(rows), skip, None):
            handled += 1
            clean, _errors = checker.check(cells)
            if clean is not None:
                batch.append(clean)
            if handled == BATCH_ROWS:
                writer.write(batch, handled)
                batch, handled = [], 0
        if handled:
            writer.write(batch, handled)


class _BatchWriter:
    """Write batches of clean rows into the import's list, de-duplicated by the phone number's blind index."""

    def __init__(self, contact_import: ContactImport):
        self.contact_import = contact_import
        self.tenant_id = contact_import.tenant_id
        self.list_id = contact_import.contact_list_id
        self.seen: set[str] = set()

    def write(self, batch: list[CleanRow], handled: int) -> None:
        fresh: dict[str, CleanRow] = {}
        for row in batch:
            index = blind_index("phone", row.phone)
            if index not in self.seen:
                self.seen.add(index)
                fresh[index] = row
        with transaction.atomic():
            existing = self._existing(list(fresh))
            new = [self._contact(index, row) for index, row in fresh.items() if index not in existing]
            Contact.objects.bulk_create(new)
            contact_ids = [*existing.values(), *(contact.pk for contact in new)]
            ContactListEntry.objects.bulk_create(
                [ContactListEntry(tenant_id=self.tenant_id, contact_list_id=self.list_id, contact_id=contact_id)
                 for contact_id in contact_ids],
                ignore_conflicts=True,
            )
            _progress(self.contact_import, ContactImport.Status.IMPORTING, processed_rows=F("processed_rows") + handled,
                      imported_rows=F("imported_rows") + len(new),
                      duplicate_rows=F("duplicate_rows") + len(batch) - len(new))

    def _existing(self, indexes: list[str]) -> dict[str, int]:
        """Return the tenant's oldest contact for each of these numbers."""
        found: dict[str, int] = {}
        rows = (Contact.objects.filter(tenant_id=self.tenant_id, phone_index__in=indexes)
                .order_by("pk").values_list("phone_index", "pk"))
        for index, pk in rows:
            found.setdefault(index, pk)
        return found

    def _contact(self, index: str, row: CleanRow) -> Contact:
        return Contact(
            tenant_id=self.tenant_id, phone=row.phone, phone_index=index, name=row.name, email=row.email,
            email_index=blind_index("email", row.email) if row.email else "", company=row.company,
            custom_fields=json.dumps(row.custom, ensure_ascii=False), notes=row.notes, time_zone=row.time_zone,
        )


def _progress(contact_import: ContactImport, status: str, **counters) -> None:
    """Write progress counters while the import is still in ``status``; raise ImportCanceled when it is not."""
    updated = ContactImport.objects.filter(pk=contact_import.pk, status=status).update(**counters)
    if not updated:
        raise ImportCanceled
