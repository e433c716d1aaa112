"""Partner API: the do-not-call list."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from calls.donotcall import do_not_call_add, platform_do_not_call_add
from calls.models import DoNotCall, DoNotCallSource
from tenants.crypto import phone_index
from tenants.models import ApiScope
from tenants.testing import ApiTestCase

R, W = "contacts:read", "contacts:write"
PATH = "/api/v1/do-not-call/"


class DoNotCallApiTests(ApiTestCase):
    def setUp(self):
        super().setUp()
        self.read = self.key(self.alpha, R)
        self.write = self.key(self.alpha, R, W)

    def entry(self, phone="0612345678", tenant=None, **fields):
        tenant = tenant or self.alpha
        with (self.in_alpha() if tenant == self.alpha else self.in_beta()):
            return do_not_call_add(tenant=tenant, phone=phone, **fields)

    def lacking(self, *scopes):
        return self.key(self.alpha, *[scope for scope in ApiScope.values if scope not in scopes])

    def test_add_a_number_then_adding_it_again_answers_the_existing_entry(self):
        response = self.api("POST", PATH, self.write, {"phone": "06 12 34 56 78", "reason": "Asked by e-mail"})
        self.assertEqual(response.status_code, 201, response.content)
        body = response.json()
        self.assertEqual((body["phone"], body["source"], body["reason"]),
                         ("+33612345678", DoNotCallSource.MANUAL, "Asked by e-mail"))
        again = self.api("POST", PATH, self.write, {"phone": "+33 6 12 34 56 78", "reason": "Another reason"})
        self.assertEqual((again.status_code, again.json()), (200, body))
        with self.in_alpha():
            entry = DoNotCall.objects.get()
            self.assertEqual((entry.phone_index, entry.created_by), (phone_index("+33612345678"), None))
        self.assertEqual(self.api("GET", f"{PATH}{body['id']}/", self.read).json(), body)

    def test_bad_input_is_a_400_naming_the_field(self):
        for data, field in (({"phone": "12"}, "phone"), ({}, "phone"), ({"phone": "0612345678", "reason": "x" * 201},
                                                                         "reason"), ({"phone": 612345678.5}, "phone")):
            body = self.assert_problem(self.api("POST", PATH, self.write, data), 400)
            self.assertEqual([error["field"] for error in body["errors"]], [field], data)
        with self.in_alpha():
            self.assertFalse(DoNotCall.objects.exists())

    def test_an_objection_cannot_be_removed_but_a_manual_entry_can(self):
        objection = self.entry("0612345678", source=DoNotCallSource.OBJECTION)
        rights = self.entry("0698765432", source=DoNotCallSource.RIGHTS_REQUEST)
        manual = self.entry("0611111111")
        for entry in (objection, rights):
            body = self.assert_problem(self.api("DELETE", f"{PATH}{entry.pk}/", self.write), 409)
            self.assertIn("objected", body["detail"])
        self.assertEqual(self.api("DELETE", f"{PATH}{manual.pk}/", self.write).status_code, 204)
        with self.in_alpha():
            self.assertEqual(sorted(DoNotCall.objects.values_list("pk", flat=True)), [objection.pk, rights.pk])
        self.assert_problem(self.api("DELETE", f"{PATH}{manual.pk}/", self.write), 404)

    def test_the_list_shows_e164_filters_by_source_and_pages_in_constant_queries(self):
        entries = [self.entry(f"06123456{index:02d}") for index in range(11)]
        objection = self.entry("0698765432", source=DoNotCallSource.OBJECTION)
        self.entry("0698765432", tenant=self.beta)
        self.api("GET", PATH, self.read)  # the key's first use records its time
        counts = []
        for size in (2, 12):
            with CaptureQueriesContext(connection) as queries:
                response = self.api("GET", PATH, self.read, {"page_size": size})
            self.assertEqual(len(response.json()["results"]), size)
            counts.append(len(queries))
        self.assertEqual(counts[0], counts[1])
        results = self.api("GET", PATH, self.read).json()["results"]
        self.assertEqual([item["id"] for item in results], [objection.pk, *[entry.pk for entry in reversed(entries)]])
        self.assertEqual(results[0]["phone"], "+33698765432")
        self.assertEqual([item["id"] for item in self.api("GET", PATH, self.read, {"source": "objection"})
                          .json()["results"]], [objection.pk])
        self.assert_problem(self.api("GET", PATH, self.read, {"source": "whim"}), 400)

    def test_check_a_number(self):
        entry = self.entry("0612345678", source=DoNotCallSource.OBJECTION)
        platform_do_not_call_add(phone="0698765432")
        self.entry("0611111111", tenant=self.beta)

        def check(phone):
            response = self.api("GET", f"{PATH}check/", self.read, {"phone": phone})
            self.assertEqual(response.status_code, 200, response.content)
            return response.json()

        self.assertEqual(check("06 12 34 56 78"), {"phone": "+33612345678", "listed": True, "source": "objection",
                                                   "entry": entry.pk, "platform_listed": False})
        self.assertEqual(check("+33698765432"), {"phone": "+33698765432", "listed": True, "source": None,
                                                 "entry": None, "platform_listed": True})
        self.assertEqual(check("0611111111"), {"phone": "+33611111111", "listed": False, "source": None,
                                               "entry": None, "platform_listed": False})
        for query in ({"phone": "12"}, {}):
            body = self.assert_problem(self.api("GET", f"{PATH}check/", self.read, query), 400)
            self.assertEqual([error["field"] for error in body["errors"]], ["phone"])
        self.assert_problem(self.api("GET", f"{PATH}check/", self.lacking(R), {"phone": "0612345678"}), 403)

    def test_isolation_and_scopes_of_every_endpoint(self):
        entry = self.entry()
        self.assert_isolated("GET", f"{PATH}{entry.pk}/", [R])
        self.assert_isolated("DELETE", f"{PATH}{entry.pk}/", [W])
        for method, path, scopes, data in (("GET", PATH, [R], None), ("POST", PATH, [W], {"phone": "0698765432"}),
                                           ("GET", f"{PATH}check/", [R], {"phone": "0612345678"})):
            body = self.assert_problem(self.api(method, path, self.lacking(*scopes), data), 403)
            self.assertEqual(body["missing_scopes"], scopes)
        beta_read = self.key(self.beta, R)
        self.assertEqual(self.api("GET", PATH, beta_read).json()["results"], [])
        self.assertFalse(self.api("GET", f"{PATH}check/", beta_read, {"phone": "0612345678"}).json()["listed"])
        with self.in_alpha():
            self.assertEqual(DoNotCall.objects.count(), 1)
