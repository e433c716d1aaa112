"""Contact imports: reading CSV and XLSX files, the column mapping, row checks, de-duplication, batches, failures."""

import datetime
import io
import json
import shutil
import tempfile
from pathlib import Path
from unittest import mock

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import override_settings
from openpyxl import Workbook

from calls import services
from calls.models import Contact
from campaigns import importing
from campaigns.forms import guess_field, guess_mapping
from campaigns.models import ContactImport, ContactListEntry
from campaigns.services import imports, lists
from tenants.crypto import email_index, phone_index
from tenants.testing import TwoTenantTestCase

MEDIA = tempfile.mkdtemp(prefix="callkom-import-tests-")
S = ContactImport.Status


def csv_file(text: str, name="contacts.csv", encoding="utf-8") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(encoding), content_type="text/csv")


def xlsx_file(rows, name="contacts.xlsx") -> SimpleUploadedFile:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return SimpleUploadedFile(name, buffer.getvalue())


def stored_files() -> list[Path]:
    return [path for path in Path(MEDIA).rglob("*") if path.is_file()]


@override_settings(MEDIA_ROOT=MEDIA)
class ImportTestCase(TwoTenantTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.addClassCleanup(shutil.rmtree, MEDIA, ignore_errors=True)

    def setUp(self):
        shutil.rmtree(MEDIA, ignore_errors=True)
        self.scope = self.in_alpha()
        self.scope.__enter__()
        self.addCleanup(self.scope.__exit__, None, None, None)
        self.contact_list = lists.contact_list_create(tenant=self.alpha, name="Prospects", legal_basis="contract",
                                                         actor=self.alice)

    def upload(self, upload, mapping=None):
        contact_import = imports.import_upload(contact_list=self.contact_list, uploaded_file=upload, actor=self.alice)
        mapping = mapping or guess_mapping(contact_import.headers)
        return imports.import_configure(contact_import=contact_import, mapping=mapping)

    def run_import(self, upload, mapping=None) -> ContactImport:
        contact_import = self.upload(upload, mapping)
        with self.captureOnCommitCallbacks(execute=True):
            imports.import_start(contact_import=contact_import)
        contact_import.refresh_from_db()
        return contact_import

    def list_contacts(self):
        return Contact.objects.filter(list_entries__contact_list=self.contact_list).order_by("pk")


class ReadingTests(ImportTestCase):
    def test_a_semicolon_csv_in_windows_1252(self):
        text = "Nom;Téléphone;E-mail;Société;Fuseau horaire\nÉlodie Dupré;06 12 34 56 78;E.Dupre@Example.com;Café;\n"
        contact_import = self.run_import(csv_file(text, encoding="cp1252"))
        self.assertEqual(contact_import.headers, ["Nom", "Téléphone", "E-mail", "Société", "Fuseau horaire"])
        self.assertEqual(contact_import.mapping, {"Nom": "name", "Téléphone": "phone", "E-mail": "email",
                                                  "Société": "company", "Fuseau horaire": "time_zone"})
        self.assertEqual(contact_import.status, S.COMPLETED)
        contact = self.list_contacts().get()
        self.assertEqual((contact.name, contact.phone, contact.email, contact.company, contact.time_zone),
                         ("Élodie Dupré", "+33612345678", "e.dupre@example.com", "Café", ""))
        self.assertEqual(contact.phone_index, phone_index("+33612345678"))
        self.assertEqual(contact.email_index, email_index("e.dupre@example.com"))

    def test_utf8_with_bom_tabs_quotes_and_blank_lines(self):
        text = '\ufeffphone\tname\tnotes\n0612345678\t"Lee, Ann"\t"line one\nline two"\n\n0698765432\tBo\t\n'
        contact_import = self.run_import(csv_file(text))
        self.assertEqual(contact_import.headers, ["phone", "name", "notes"])
        self.assertEqual((contact_import.status, contact_import.total_rows, contact_import.imported_rows),
                         (S.COMPLETED, 2, 2))
        first = self.list_contacts().first()
        self.assertEqual((first.name, first.notes), ("Lee, Ann", "line one\nline two"))

    def test_delimiters_are_sniffed(self):
        self.assertEqual(importing.sniff_delimiter(["a,b;c\n", "1,2;3\n"]), ",")
        self.assertEqual(importing.sniff_delimiter(["a;b;c\n", "1;2,5;3\n"]), ";")
        self.assertEqual(importing.sniff_delimiter(["a\tb\n", "1\t2\n"]), "\t")
        self.assertEqual(importing.sniff_delimiter(["phone\n", "0612345678\n"]), ",")

    def test_an_xlsx_workbook_with_numbers_dates_and_a_blank_row(self):
        upload = xlsx_file([
            ["Prénom", "Nom", "Mobile", "Inscrit le", "Fuseau"],
            ["Ann", "Lee", 612345678, datetime.datetime(2024, 5, 1), "europe/paris"],
            [None, None, None, None, None],
            ["Bo", "Ek", "+44 20 7946 0958", None, None],
            ["Cy", "Do", "12", None, None],
        ])
        contact_import = self.upload(upload)
        self.assertEqual(contact_import.file_format, ContactImport.Format.XLSX)
        self.assertEqual(contact_import.mapping["Mobile"], "phone")
        self.assertEqual(contact_import.mapping["Inscrit le"], "custom")
        with self.captureOnCommitCallbacks(execute=True):
            imports.import_start(contact_import=contact_import)
        contact_import.refresh_from_db()
        self.assertEqual(contact_import.status, S.NEEDS_DECISION)
        self.assertEqual(contact_import.errors, [{"row": 5, "column": "Mobile",
                                                  "message": "This is not a valid phone number."}])
        with self.captureOnCommitCallbacks(execute=True):
            imports.import_import_valid_rows(contact_import=contact_import)
        contact_import.refresh_from_db()
        self.assertEqual(contact_import.status, S.COMPLETED)
        ann, bo = self.list_contacts()
        self.assertEqual((ann.name, ann.phone, ann.time_zone), ("Ann Lee", "+33612345678", "Europe/Paris"))
        self.assertEqual(json.loads(ann.custom_fields), {"Inscrit le": "2024-05-01"})
        self.assertEqual(bo.phone, "+442079460958")

    def test_files_that_are_not_contact_lists_are_refused_and_nothing_is_kept(self):
        cases = {
            "empty": SimpleUploadedFile("a.csv", b""),
            "blank": SimpleUploadedFile("a.csv", b"\xef\xbb\xbf\r\n  \n"),
            "header only": csv_file("phone;name\n"),
            "pdf": SimpleUploadedFile("a.pdf", b"%PDF-1.7\n..."),
            "old excel": SimpleUploadedFile("a.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100),
            "binary": SimpleUploadedFile("a.bin", b"\x01\x02\x00\x00\xff" * 50),
            "zip that is no workbook": SimpleUploadedFile("a.xlsx", b"PK\x03\x04" + b"\x00" * 60),
            "undecodable": SimpleUploadedFile("a.csv", b"phone\n\x81\x8d\x8f\x90\x9d\n"),
        }
        for label, upload in cases.items():
            with self.subTest(label), self.assertRaises(ValidationError) as raised:
                imports.import_upload(contact_list=self.contact_list, uploaded_file=upload)
            self.assertTrue(raised.exception.messages[0])
        self.assertFalse(ContactImport.objects.exists())
        self.assertEqual(stored_files(), [])

    def test_the_upload_is_stored_encrypted(self):
        contact_import = self.upload(csv_file("phone,name\n0612345678,Secret Person\n"))
        raw = (Path(MEDIA) / contact_import.path).read_bytes()
        self.assertNotIn(b"Secret", raw)
        self.assertNotIn(b"0612345678", raw)
        self.assertEqual(importing.preview_rows(contact_import), [["0612345678", "Secret Person"]])


class MappingTests(ImportTestCase):
    def test_guesses_from_french_and_english_headers(self):
        expected = {
            "Téléphone": "phone", "Numéro de téléphone": "phone", "mobile": "phone", "Phone number": "phone",
            "Nom": "name", "Prénom": "name", "firstName": "name", "Courriel": "email", "E-mail": "email",
            "Nom de l'entreprise": "company", "Company": "company", "Commentaires": "notes", "Timezone": "time_zone",
            "Ville": "custom", "Date de naissance": "ignore", "Santé": "ignore", "IBAN": "ignore",
        }
        self.assertEqual({header: guess_field(header) for header in expected}, expected)
        self.assertEqual(guess_mapping(["Tel", "Mobile"]), {"Tel": "phone", "Mobile": "custom"})

    def test_a_mapping_needs_one_phone_and_known_fields(self):
        contact_import = imports.import_upload(
            contact_list=self.contact_list,
            uploaded_file=csv_file("Tel,Mobile,Mail,Mail2,First,Last\n0612345678,,a@b.fr,,A,B\n"))
        bad = {
            "no phone": {"Tel": "name"},
            "two phones": {"Tel": "phone", "Mobile": "phone"},
            "two e-mails": {"Tel": "phone", "Mail": "email", "Mail2": "email"},
            "unknown field": {"Tel": "phone", "Mail": "password"},
            "unknown column": {"Tel": "phone", "Fax": "custom"},
        }
        for label, mapping in bad.items():
            with self.subTest(label), self.assertRaises(ValidationError):
                imports.import_configure(contact_import=contact_import, mapping=mapping)
        contact_import = imports.import_configure(contact_import=contact_import,
                                                   mapping={"Tel": "phone", "First": "name", "Last": "name"})
        self.assertEqual(contact_import.mapping, {"Tel": "phone", "Mobile": "ignore", "Mail": "ignore",
                                                  "Mail2": "ignore", "First": "name", "Last": "name"})

    def test_headers_are_made_unique_and_never_blank(self):
        contact_import = self.upload(csv_file("phone,,Name,Name,\n0612345678,x,a,b\n"),
                                     mapping={"phone": "phone"})
        self.assertEqual(contact_import.headers, ["phone", "Column 2", "Name", "Name (2)"])

    def test_cannot_start_before_mapping_nor_twice(self):
        contact_import = imports.import_upload(contact_list=self.contact_list,
                                                uploaded_file=csv_file("phone\n0612345678\n"))
        with self.assertRaises(ValidationError):
            imports.import_start(contact_import=contact_import)
        contact_import = self.run_import(csv_file("phone\n0612345678\n"))
        with self.assertRaises(ValidationError):
            imports.import_start(contact_import=contact_import)
        with self.assertRaises(ValidationError):
            imports.import_configure(contact_import=contact_import, mapping={"phone": "phone"})


class RowCheckTests(ImportTestCase):
    def test_numbers_are_normalised_to_e164_with_france_by_default(self):
        numbers = ["06.12.34.56.78", "+33 6 12 34 56 78", "0033612345678", "6 12 34 56 78", "+44 20 7946 0958",
                   "01 23 45 67 89"]
        text = "phone\n" + "\n".join(numbers) + "\n"
        contact_import = self.run_import(csv_file(text))
        self.assertEqual((contact_import.imported_rows, contact_import.duplicate_rows), (3, 3))
        self.assertEqual([c.phone for c in self.list_contacts()], ["+33612345678", "+442079460958", "+33123456789"])

    def test_errors_by_row_and_column_nothing_imported_until_the_user_decides(self):
        text = ("Name;Phone;Email;Zone\n"
                "Ann;0612345678;ann@example.com;Europe/Paris\n"  # row 2: fine
                "Bo;12;bo@example.com;\n"  # row 3: phone
                "Cy;0698765432;not-an-email;\n"  # row 4: e-mail
                "Di;0611111111;;Mars/Olympus\n"  # row 5: time zone
                ";;;\n"  # row 6: blank, skipped
                "Ed;;;;extra\n"  # row 7: no phone and a cell too many
                "Fa;0622222222;;\n")  # row 8: fine
        contact_import = self.run_import(csv_file(text), mapping={"Name": "name", "Phone": "phone", "Email": "email",
                                                                  "Zone": "time_zone"})
        self.assertEqual(contact_import.status, S.NEEDS_DECISION)
        self.assertEqual((contact_import.total_rows, contact_import.invalid_rows), (6, 4))
        self.assertEqual([(e["row"], e["column"]) for e in contact_import.errors],
                         [(3, "Phone"), (4, "Email"), (5, "Zone"), (7, ""), (7, "Phone")])
        self.assertNotIn("not-an-email", json.dumps(contact_import.errors))  # the report never quotes a cell
        self.assertFalse(Contact.objects.exists())
        self.assertFalse(ContactListEntry.objects.exists())
        self.assertEqual(len(stored_files()), 1)  # kept for the decision

        with self.captureOnCommitCallbacks(execute=True):
            imports.import_import_valid_rows(contact_import=contact_import)
        contact_import.refresh_from_db()
        self.assertEqual(contact_import.status, S.COMPLETED)
        self.assertEqual((contact_import.imported_rows, contact_import.invalid_rows), (2, 4))
        self.assertEqual([c.name for c in self.list_contacts()], ["Ann", "Fa"])
        self.assertEqual(stored_files(), [])
        self.assertIsNotNone(contact_import.finished_at)

    def test_a_file_without_a_single_valid_row_offers_no_import_of_valid_rows(self):
        contact_import = self.run_import(csv_file("phone\n12\n"))
        self.assertEqual(contact_import.status, S.NEEDS_DECISION)
        with self.assertRaisesMessage(ValidationError, "No row"):
            imports.import_import_valid_rows(contact_import=contact_import)

    def test_errors_kept_are_capped_but_counts_exact(self):
        text = "phone\n" + "12\n" * 30 + "0612345678\n"
        with mock.patch.object(importing, "ERRORS_KEPT", 10):
            contact_import = self.run_import(csv_file(text))
        self.assertEqual((contact_import.invalid_rows, len(contact_import.errors)), (30, 10))
        self.assertEqual(contact_import.errors[-1]["row"], 11)

    def test_a_new_mapping_after_errors_starts_again(self):
        contact_import = self.run_import(csv_file("a,b\nAnn,0612345678\n"), mapping={"a": "phone", "b": "name"})
        self.assertEqual(contact_import.status, S.NEEDS_DECISION)
        contact_import = imports.import_configure(contact_import=contact_import, mapping={"a": "name", "b": "phone"})
        self.assertEqual((contact_import.status, contact_import.errors), (S.UPLOADED, []))
        with self.captureOnCommitCallbacks(execute=True):
            imports.import_start(contact_import=contact_import)
        contact_import.refresh_from_db()
        self.assertEqual((contact_import.status, contact_import.imported_rows), (S.COMPLETED, 1))


class DeduplicationTests(ImportTestCase):
    def test_duplicates_in_the_file_and_among_existing_contacts(self):
        existing = services.contact_create(tenant=self.alpha, phone="0612345678", name="Known")
        with self.in_beta():  # another tenant's contact is no duplicate
            services.contact_create(tenant=self.beta, phone="0698765432")
        text = "phone,name\n+33 6 12 34 56 78,Known again\n0698765432,New\n06 98 76 54 32,New twice\n"
        contact_import = self.run_import(csv_file(text))
        self.assertEqual((contact_import.imported_rows, contact_import.duplicate_rows), (1, 2))
        listed = list(self.list_contacts())
        self.assertEqual([c.pk for c in listed][0], existing.pk)
        self.assertEqual([c.name for c in listed], ["Known", "New"])  # an existing contact is reused as it is
        self.assertEqual(Contact.objects.count(), 2)

    def test_importing_the_same_file_again_adds_nothing(self):
        text = "phone\n0612345678\n0698765432\n"
        self.run_import(csv_file(text))
        again = self.run_import(csv_file(text))
        self.assertEqual((again.imported_rows, again.duplicate_rows), (0, 2))
        self.assertEqual(ContactListEntry.objects.count(), 2)

    def test_batches_commit_their_progress(self):
        text = "phone\n" + "".join(f"06000000{n:02d}\n" for n in range(7)) + "0600000000\n"
        with mock.patch.object(importing, "BATCH_ROWS", 3):
            contact_import = self.run_import(csv_file(text))
        self.assertEqual((contact_import.processed_rows, contact_import.total_rows), (8, 8))
        self.assertEqual((contact_import.imported_rows, contact_import.duplicate_rows), (7, 1))


class RobustnessTests(ImportTestCase):
    def test_a_crash_while_writing_fails_the_import_and_keeps_the_committed_batches(self):
        text = "phone\n" + "".join(f"06000000{n:02d}\n" for n in range(5))
        original = importing._BatchWriter.write
        calls = []

        def crash_on_second_batch(writer, batch, handled):
            calls.append(handled)
            if len(calls) == 2:
                raise RuntimeError("disk full")
            return original(writer, batch, handled)

        with mock.patch.object(importing, "BATCH_ROWS", 2), \
                mock.patch.object(importing._BatchWriter, "write", crash_on_second_batch), \
                self.assertLogs("campaigns.services.imports", "ERROR"):
            contact_import = self.run_import(csv_file(text))
        self.assertEqual(contact_import.status, S.FAILED)
        self.assertIn("RuntimeError", contact_import.failure)
        self.assertEqual((contact_import.imported_rows, self.list_contacts().count()), (2, 2))
        self.assertEqual(stored_files(), [])
        self.assertIsNone(self.contact_list.__class__.objects.get(pk=self.contact_list.pk).risk_checked_at)

    def test_a_worker_that_died_while_writing_resumes_after_the_last_batch(self):
        text = "phone\n" + "".join(f"06000000{n:02d}\n" for n in range(5))
        contact_import = self.upload(csv_file(text))
        for n in range(2):  # what the first batch committed before the worker died
            contact = services.contact_create(tenant=self.alpha, phone=f"06000000{n:02d}")
            ContactListEntry.objects.create(tenant=self.alpha, contact_list=self.contact_list, contact=contact)
        ContactImport.objects.filter(pk=contact_import.pk).update(status=S.IMPORTING, total_rows=5, processed_rows=2,
                                                                  imported_rows=2)
        contact_import = imports.import_run(contact_import=contact_import)
        self.assertEqual(contact_import.status, S.COMPLETED)
        self.assertEqual((contact_import.processed_rows, contact_import.imported_rows,
                          contact_import.duplicate_rows), (5, 5, 0))
        self.assertEqual(self.list_contacts().count(), 5)

    def test_a_crash_while_checking_fails_the_import(self):
        contact_import = self.upload(csv_file("phone\n0612345678\n"))
        with mock.patch.object(importing, "check_pass", side_effect=KeyError("boom")), \
                self.assertLogs("campaigns.services.imports", "ERROR"), self.captureOnCommitCallbacks(execute=True):
            imports.import_start(contact_import=contact_import)
        contact_import.refresh_from_db()
        self.assertEqual(contact_import.status, S.FAILED)
        self.assertFalse(Contact.objects.exists())

    def test_a_missing_upload_fails_the_import(self):
        contact_import = self.upload(csv_file("phone\n0612345678\n"))
        importing.upload_delete(contact_import.path)
        with self.assertLogs("campaigns.services.imports", "ERROR"), self.captureOnCommitCallbacks(execute=True):
            imports.import_start(contact_import=contact_import)
        contact_import.refresh_from_db()
        self.assertEqual(contact_import.status, S.FAILED)

    def test_cancel_before_the_run_and_between_two_batches(self):
        contact_import = self.upload(csv_file("phone\n0612345678\n"))
        with self.captureOnCommitCallbacks(execute=True):
            imports.import_cancel(contact_import=contact_import)
        contact_import.refresh_from_db()
        self.assertEqual(contact_import.status, S.CANCELED)
        self.assertEqual(stored_files(), [])
        self.assertEqual(imports.import_run(contact_import=contact_import).status, S.CANCELED)
        with self.assertRaises(ValidationError):
            imports.import_cancel(contact_import=contact_import)

        text = "phone\n" + "".join(f"06000000{n:02d}\n" for n in range(4))
        original = importing._BatchWriter.write

        def cancel_after_first_batch(writer, batch, handled):
            original(writer, batch, handled)
            imports.import_cancel(contact_import=writer.contact_import)

        with mock.patch.object(importing, "BATCH_ROWS", 2), \
                mock.patch.object(importing._BatchWriter, "write", cancel_after_first_batch):
            contact_import = self.run_import(csv_file(text))
        self.assertEqual((contact_import.status, contact_import.imported_rows), (S.CANCELED, 2))
        self.assertEqual(self.list_contacts().count(), 2)
        self.contact_list.refresh_from_db()
        self.assertIsNotNone(self.contact_list.risk_checked_at)  # what was imported is checked

    def test_the_task_runs_the_import_in_the_tenants_scope(self):
        from campaigns.tasks import contact_import_run

        contact_import = self.upload(csv_file("phone\n0612345678\n"))
        ContactImport.objects.filter(pk=contact_import.pk).update(status=S.QUEUED)
        self.assertEqual(contact_import_run(self.alpha.pk, str(contact_import.pk)), S.COMPLETED)
        self.assertIsNone(contact_import_run(self.alpha.pk, "00000000-0000-0000-0000-000000000000"))

    def test_contacts_are_encrypted_at_rest(self):
        self.run_import(csv_file("phone,name,Ville\n0612345678,Secret Person,Lyon\n"))
        with connection.cursor() as cursor:
            cursor.execute("SELECT name, phone, custom_fields FROM calls_contact")
            row = cursor.fetchone()
        self.assertNotIn("Secret", " ".join(row))
        self.assertNotIn("Lyon", " ".join(row))
