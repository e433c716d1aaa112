"""Partner API: bulk contact imports, run as asynchronous jobs through the portal's import pipeline."""

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from calls import services
from calls.models import Contact
from campaigns.api.lists import rows_csv
from campaigns.models import ContactImport, ContactList, RiskFinding
from campaigns.services import lists
from tenants.crypto import phone_index
from tenants.models import ApiScope, IdempotencyRecord
from tenants.testing import ApiTestCase

MEDIA = tempfile.mkdtemp(prefix="callkom-api-import-tests-")
R, W = "contacts:read", "contacts:write"
S = ContactImport.Status
PATH = "/api/v1/contacts/imports/"


@override_settings(MEDIA_ROOT=MEDIA)
class ImportApiTestCase(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.addClassCleanup(shutil.rmtree, MEDIA, ignore_errors=True)

    def setUp(self):
        super().setUp()
        shutil.rmtree(MEDIA, ignore_errors=True)
        self.read = self.key(self.alpha, R)
        self.write = self.key(self.alpha, R, W)
        with self.in_alpha():
            self.contact_list = lists.contact_list_create(tenant=self.alpha, name="Prospects",
                                                                     legal_basis="contract")

    def start(self, rows, *, run=True, key=None, **fields):
        """POST an import; with ``run``, the import task runs (eagerly) once the request's transaction commits."""
        data = {"list": self.contact_list.pk, "rows": rows, **fields}
        with self.captureOnCommitCallbacks(execute=run):
            response = self.api("POST", PATH, key or self.write, data)
        return response

    def job(self, job_id):
        response = self.api("GET", f"{PATH}{job_id}/", self.read)
        self.assertEqual(response.status_code, 200, response.content)
        return response.json()

    def list_phones(self, contact_list=None):
        with self.in_alpha():
            return sorted(Contact.objects.filter(list_entries__contact_list=contact_list or self.contact_list)
                          .values_list("phone", flat=True))

    def stored_files(self):
        return [path for path in Path(MEDIA).rglob("*") if path.is_file()]


class ImportTests(ImportApiTestCase):
    def test_rows_are_normalised_de_duplicated_and_checked_for_risks(self):
        with self.in_alpha():
            known = services.contact_create(tenant=self.alpha, phone="+33698765432", name="Known")
        rows = [
            {"phone": "06 12 34 56 78", "name": "Élodie Dupré", "email": "E.Dupre@Example.com", "company": "Café",
             "time_zone": "europe/paris", "notes": "Mornings", "custom_fields": {"Santé": "diabète"}},
            {"phone": "+33612345678", "name": "Same number"},
            {"phone": "+33 6 98 76 54 32", "name": "Known again"},
            {"phone": "+44 20 7946 0958", "name": "Ann Lee"},
            {"phone": 612345679},
        ]
        response = self.start(rows)
        self.assertEqual(response.status_code, 202, response.content)
        started = response.json()
        self.assertEqual((started["status"], started["list"], started["counts"]["total"]),
                         (S.QUEUED, self.contact_list.pk, 5))
        self.assertEqual(response["Location"], started["status_url"])
        self.assertTrue(started["status_url"].endswith(f"{PATH}{started['id']}/"))
        job = self.job(started["id"])
        self.assertEqual(job["status"], S.COMPLETED)
        self.assertEqual(job["progress"], {"phase": "done", "percent": 100})
        self.assertEqual(job["counts"], {"total": 5, "processed": 5, "imported": 3, "duplicates": 2, "invalid": 0})
        self.assertIsNotNone(job["finished_at"])
        self.assertEqual(job["errors"], [])
        self.assertEqual(self.list_phones(), ["+33612345678", "+33612345679", "+33698765432", "+442079460958"])
        with self.in_alpha():
            elodie = Contact.objects.get(phone_index=phone_index("+33612345678"))
            self.assertEqual((elodie.name, elodie.email, elodie.company, elodie.time_zone, elodie.notes),
                             ("Élodie Dupré", "e.dupre@example.com", "Café", "Europe/Paris", "Mornings"))
            self.assertEqual(json.loads(elodie.custom_fields), {"Santé": "diabète"})
            self.assertEqual(Contact.objects.filter(phone_index=known.phone_index).count(), 1)
            contact_list = ContactList.objects.get()
            self.assertIsNotNone(contact_list.risk_checked_at)
            self.assertEqual(list(RiskFinding.objects.values_list("kind", "column")),
                             [(RiskFinding.Kind.SPECIAL_CATEGORY, "Santé")])
        self.assertEqual(self.stored_files(), [])  # the encrypted upload is gone once the import ended

    def test_values_that_need_quoting_survive_the_trip(self):
        tricky = ['Lee, Ann', 'Say "hi"', "line one\nline two", "a;b\tc", "carriage\rreturn", "=1+2"]
        rows = [{"phone": f"+3361234567{index}", "notes": value, "custom_fields": {"Tricky, key \"q\"": value}}
                for index, value in enumerate(tricky)]
        self.assertEqual(self.start(rows).status_code, 202)
        with self.in_alpha():
            stored = {contact.phone: (contact.notes, json.loads(contact.custom_fields))
                      for contact in Contact.objects.all()}
        for index, value in enumerate(tricky):
            self.assertEqual(stored[f"+3361234567{index}"], (value, {"Tricky, key \"q\"": value}))
        content, mapping = rows_csv([{"phone": "1"}])
        self.assertEqual((content, mapping), (b"phone\r\n1\r\n", {"phone": "phone"}))

    def test_invalid_rows_stop_the_import_until_a_decision_and_never_show_a_value(self):
        rows = [{"phone": "0612345678"}, {"phone": "12-SECRET-34", "email": "secret@"},
                {"name": "No number"}, {"phone": "0698765432", "time_zone": "Mars/Olympus"},
                {"phone": "0611111111", "name": "x" * 201, "custom_fields": {"Long": "y" * 1001}}]
        job = self.job(self.start(rows).json()["id"])
        self.assertEqual((job["status"], job["counts"]["invalid"], job["counts"]["imported"]),
                         (S.NEEDS_DECISION, 4, 0))
        self.assertEqual(job["progress"]["phase"], "decision")
        self.assertEqual([(error["index"], error["row"], error["column"], error["field"], error["code"])
                          for error in job["errors"]],
                         [(1, 3, "phone", "phone", "invalid_phone"), (1, 3, "email", "email", "invalid_email"),
                          (2, 4, "phone", "phone", "invalid_phone"),
                          (3, 5, "time_zone", "time_zone", "invalid_time_zone"),
                          (4, 6, "name", "name", "too_long"), (4, 6, "Long", "custom", "too_long")])
        self.assertNotIn("SECRET", json.dumps(job))
        self.assertNotIn("secret@", json.dumps(job))
        self.assertEqual(self.list_phones(), [])
        with self.captureOnCommitCallbacks(execute=True):
            decided = self.api("POST", f"{PATH}{job['id']}/import-valid-rows/", self.write)
        self.assertEqual(decided.status_code, 202, decided.content)
        job = self.job(job["id"])
        self.assertEqual((job["status"], job["import_valid_rows"], job["counts"]["imported"]), (S.COMPLETED, True, 1))
        self.assertEqual(self.list_phones(), ["+33612345678"])
        body = self.assert_problem(self.api("POST", f"{PATH}{job['id']}/import-valid-rows/", self.write), 409)
        self.assertIn("decision", body["detail"])

    def test_import_valid_skips_the_invalid_rows_up_front(self):
        rows = [{"phone": "0612345678"}, {"phone": "not a number"}, {"phone": "0698765432"}]
        job = self.job(self.start(rows, on_invalid_rows="import_valid").json()["id"])
        self.assertEqual((job["status"], job["counts"]["imported"], job["counts"]["invalid"]), (S.COMPLETED, 2, 1))
        self.assertEqual([error["index"] for error in job["errors"]], [1])
        self.assertEqual(self.list_phones(), ["+33612345678", "+33698765432"])

    def test_a_new_list_by_name(self):
        response = self.start([{"phone": "0612345678"}], list=None, list_name="Fair visitors")
        self.assertEqual(response.status_code, 400)  # list and list_name: give one
        with self.captureOnCommitCallbacks(execute=True):
            response = self.api("POST", PATH, self.write, {"list_name": "Fair visitors",
                                                           "rows": [{"phone": "0612345678"}]})
        self.assertEqual(response.status_code, 202, response.content)
        with self.in_alpha():
            created = ContactList.objects.get(name="Fair visitors")
        self.assertEqual(response.json()["list"], created.pk)
        self.assertEqual(self.list_phones(created), ["+33612345678"])
        body = self.assert_problem(self.api("POST", PATH, self.write, {"list_name": "fair visitors",
                                                                       "rows": [{"phone": "0612345678"}]}), 400)
        self.assertEqual([error["field"] for error in body["errors"]], ["list_name"])

    def test_the_shape_of_the_request_is_checked_first(self):
        with self.in_beta():
            theirs = lists.contact_list_create(tenant=self.beta, name="Theirs")
        ok = [{"phone": "0612345678"}]
        cases = [
            ({"rows": ok}, ["list"]),
            ({"list": theirs.pk, "rows": ok}, ["list"]),
            ({"list": "x", "rows": ok}, ["list"]),
            ({"list": self.contact_list.pk}, ["rows"]),
            ({"list": self.contact_list.pk, "rows": []}, ["rows"]),
            ({"list": self.contact_list.pk, "rows": {"phone": "0612345678"}}, ["rows"]),
            ({"list": self.contact_list.pk, "rows": [{"phone": "0"}] * 10_001}, ["rows"]),
            ({"list": self.contact_list.pk, "rows": [{"phone": "0612345678"}, {"mobile": "0612345678"}]},
             ["rows.1.mobile"]),
            ({"list": self.contact_list.pk, "rows": [{"phone": " ", "name": ""}]}, ["rows.0"]),
            ({"list": self.contact_list.pk, "rows": ["0612345678"]}, ["rows.0"]),
            ({"list": self.contact_list.pk, "rows": [{"phone": True}, {"phone": "0612345678", "name": {"a": 1}}]},
             ["rows.0.phone", "rows.1.name"]),
            ({"list": self.contact_list.pk, "rows": [{"phone": "06\u0000"}]}, ["rows.0.phone"]),
            ({"list": self.contact_list.pk, "rows": [{"phone": "06", "custom_fields": {"a;b": "x", " c": "y",
                                                                                       "Phone": "z"}}]},
             ["rows.0.custom_fields.a;b", "rows.0.custom_fields. c", "rows.0.custom_fields.Phone"]),
            ({"list": self.contact_list.pk, "rows": [{"phone": "06", "custom_fields": ["x"]}]},
             ["rows.0.custom_fields"]),
            ({"list": self.contact_list.pk, "rows": ok, "on_invalid_rows": "maybe"}, ["on_invalid_rows"]),
        ]
        for data, fields in cases:
            body = self.assert_problem(self.api("POST", PATH, self.write, data), 400)
            self.assertEqual([error["field"] for error in body["errors"]], fields, data)
        with self.in_alpha():
            self.assertFalse(ContactImport.objects.exists())
        self.assertEqual(self.stored_files(), [])

    @pytest.mark.clock  # idempotency records last 24 hours
    def test_the_same_idempotency_key_starts_one_import(self):
        rows = [{"phone": "0612345678"}]
        with self.captureOnCommitCallbacks(execute=True):
            first = self.api("POST", PATH, self.write, {"list": self.contact_list.pk, "rows": rows},
                             HTTP_IDEMPOTENCY_KEY="import-1")
            again = self.api("POST", PATH, self.write, {"list": self.contact_list.pk, "rows": rows},
                             HTTP_IDEMPOTENCY_KEY="import-1")
        self.assertEqual((first.status_code, again.status_code), (202, 202))
        self.assertEqual(again["Idempotent-Replayed"], "true")
        self.assertEqual(again.json()["id"], first.json()["id"])
        with self.in_alpha():
            self.assertEqual(ContactImport.objects.count(), 1)
            self.assertEqual(IdempotencyRecord.objects.count(), 1)
        other = self.api("POST", PATH, self.write, {"list": self.contact_list.pk, "rows": rows + rows},
                         HTTP_IDEMPOTENCY_KEY="import-1")
        self.assert_problem(other, 422)

    def test_cancel_a_queued_import(self):
        started = self.start([{"phone": "0612345678"}], run=False).json()
        canceled = self.api("POST", f"{PATH}{started['id']}/cancel/", self.write)
        self.assertEqual(canceled.status_code, 200, canceled.content)
        self.assertEqual((canceled.json()["status"], canceled.json()["progress"]["phase"]), (S.CANCELED, "ended"))
        body = self.assert_problem(self.api("POST", f"{PATH}{started['id']}/cancel/", self.write), 409)
        self.assertIn("ended", body["detail"])
        self.assert_problem(self.api("POST", f"{PATH}{started['id']}/import-valid-rows/", self.write), 409)

    def test_more_rows_than_a_batch(self):
        rows = [{"phone": f"+3361{index:07d}"} for index in range(1100)] + [{"phone": "+33610000000"}]
        job = self.job(self.start(rows).json()["id"])
        self.assertEqual((job["status"], job["counts"]["imported"], job["counts"]["duplicates"]),
                         (S.COMPLETED, 1100, 1))


class ImportListTests(ImportApiTestCase):
    def test_the_list_filters_and_pages_in_a_constant_number_of_queries(self):
        with self.in_alpha():
            other = lists.contact_list_create(tenant=self.alpha, name="Other")
        ids = [self.start([{"phone": "0612345678"}, {"phone": "bad"}]).json()["id"] for _ in range(11)]
        with self.captureOnCommitCallbacks(execute=True):
            completed = self.api("POST", PATH, self.write, {"list": other.pk, "rows": [{"phone": "0612345678"}]})
        self.api("GET", PATH, self.read)  # the key's first use records its time
        counts = []
        for size in (2, 12):
            with CaptureQueriesContext(connection) as queries:
                response = self.api("GET", PATH, self.read, {"page_size": size})
            self.assertEqual(len(response.json()["results"]), size)
            counts.append(len(queries))
        self.assertEqual(counts[0], counts[1])
        listed = self.api("GET", PATH, self.read, {"list": self.contact_list.pk, "page_size": 50}).json()["results"]
        self.assertEqual(sorted(job["id"] for job in listed), sorted(ids))
        self.assertEqual(listed[0]["errors"][0]["code"], "invalid_phone")
        done = self.api("GET", PATH, self.read, {"status": S.COMPLETED}).json()["results"]
        self.assertEqual([job["id"] for job in done], [completed.json()["id"]])
        self.assert_problem(self.api("GET", PATH, self.read, {"status": "nope"}), 400)
        self.assertEqual(self.api("GET", PATH, self.key(self.beta, R)).json()["results"], [])

    def test_isolation_and_scopes_of_every_endpoint(self):
        job = self.start([{"phone": "0612345678"}, {"phone": "bad"}]).json()
        self.assertEqual(job["status"], S.QUEUED)  # as answered; the task ran at commit
        path = f"{PATH}{job['id']}/"
        self.assert_isolated("GET", path, [R])
        self.assert_isolated("POST", path + "import-valid-rows/", [W])
        self.assert_isolated("POST", path + "cancel/", [W])
        lacking = self.key(self.alpha, *[scope for scope in ApiScope.values if scope not in (R, W)])
        for method, data in (("GET", None), ("POST", {"list": self.contact_list.pk, "rows": [{"phone": "06"}]})):
            self.assert_problem(self.api(method, PATH, lacking, data), 403)
        self.assertEqual(self.job(job["id"])["status"], S.NEEDS_DECISION)
        self.assert_problem(self.api("GET", f"{PATH}not-a-uuid/", self.read), 404)
        with self.in_alpha():
            self.assertEqual(ContactImport.objects.count(), 1)
