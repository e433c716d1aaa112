"""Partner API: contact lists."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from calls.donotcall import do_not_call_add
from calls.tests.test_api_contacts import ContactApiTestCase, R, W
from campaigns.models import ContactList, ContactListEntry, RiskFinding
from campaigns.services import lists as list_services


class ContactListTests(ContactApiTestCase):
    def test_create_and_read_a_list_with_its_findings(self):
        response = self.api("POST", "/api/v1/contact-lists/", self.write, {"name": "Spring", "description": "Fair"})
        self.assertEqual(response.status_code, 201, response.content)
        body = response.json()
        self.assertEqual((body["name"], body["legal_basis"], body["contact_count"], body["ready"], body["findings"]),
                         ("Spring", "", 0, False, []))
        self.assertEqual(len(body["blockers"]), 1)  # never checked
        contact = self.contact()
        with self.in_alpha():
            do_not_call_add(tenant=self.alpha, phone="0612345678")
        path = f"/api/v1/contact-lists/{body['id']}/"
        added = self.api("POST", path + "contacts/", self.write, {"contacts": [contact.pk]})
        self.assertEqual(added.json(), {"added": 1, "contact_count": 1})
        checked = self.api("POST", path + "check/", self.write).json()
        self.assertEqual(sorted(finding["kind"] for finding in checked["findings"]),
                         [RiskFinding.Kind.DO_NOT_CALL, RiskFinding.Kind.NO_LEGAL_BASIS])
        self.assertEqual((checked["open_findings"], checked["ready"]), (2, False))
        patched = self.api("PATCH", path, self.write, {"legal_basis": "contract"}).json()
        self.assertEqual([finding["kind"] for finding in patched["findings"]], [RiskFinding.Kind.DO_NOT_CALL])
        self.assertEqual((patched["name"], patched["description"], patched["legal_basis"]),
                         ("Spring", "Fair", "contract"))
        self.assertEqual(self.api("GET", path, self.read).json(), patched)

    def test_the_services_rules_are_400s_naming_the_field(self):
        self.contact_list("Taken")
        cases = [({"name": "taken"}, "name"), ({"name": ""}, "name"), ({"name": "A", "legal_basis": "vibes"},
                                                                         "legal_basis"),
                 ({"name": "B", "legal_basis": "consent"}, "consent_proof"), ({}, "name")]
        for data, field in cases:
            body = self.assert_problem(self.api("POST", "/api/v1/contact-lists/", self.write, data), 400)
            self.assertIn(field, self.fields(body), data)
        other = self.contact_list("Other")
        body = self.assert_problem(self.api("PATCH", f"/api/v1/contact-lists/{other.pk}/", self.write,
                                            {"name": "Taken"}), 400)
        self.assertIn("name", self.fields(body))

    def test_adding_contacts_of_another_tenant_or_unknown_is_a_400_naming_them(self):
        contact_list = self.contact_list()
        mine = self.contact()
        theirs = self.contact("0698765432", tenant=self.beta)
        path = f"/api/v1/contact-lists/{contact_list.pk}/contacts/"
        body = self.assert_problem(self.api("POST", path, self.write, {"contacts": [mine.pk, theirs.pk, 999999]}),
                                   400)
        self.assertEqual(body["errors"][0]["field"], "contacts")
        self.assertIn(f"{theirs.pk}, 999999", body["errors"][0]["detail"])
        self.assertNotIn(str(mine.pk) + ",", body["errors"][0]["detail"])
        with self.in_alpha():
            self.assertFalse(ContactListEntry.objects.exists())
        for data in ({"contacts": []}, {"contacts": ["a"]}, {}, {"contacts": [0]}, {"contacts": [2**64]}):
            self.assert_problem(self.api("POST", path, self.write, data), 400)
        self.assertEqual(self.api("POST", path, self.write, {"contacts": [mine.pk, mine.pk]}).json(),
                         {"added": 1, "contact_count": 1})
        self.assertEqual(self.api("POST", path, self.write, {"contacts": [mine.pk]}).json()["added"], 0)
        body = self.assert_problem(self.api("POST", path, self.write, {"contacts": [2**63 - 1]}), 400)
        self.assertEqual(body["errors"][0]["field"], "contacts")

    def test_lists_and_their_contacts_page_in_a_constant_number_of_queries(self):
        lists = [self.contact_list(f"List {index}") for index in range(12)]
        created = [self.contact(f"+336123456{index:02d}") for index in range(12)]
        with self.in_alpha():
            list_services.contact_list_add(contact_list=lists[0], contacts=created)
            list_services.contact_list_add(contact_list=lists[1], contacts=created[:3])
        self.api("GET", "/api/v1/contact-lists/", self.read)  # the key's first use records its time
        for path in ("/api/v1/contact-lists/", f"/api/v1/contact-lists/{lists[0].pk}/contacts/"):
            counts = []
            for size in (2, 12):
                with CaptureQueriesContext(connection) as queries:
                    response = self.api("GET", path, self.read, {"page_size": size})
                self.assertEqual(len(response.json()["results"]), size, path)
                counts.append(len(queries))
            self.assertEqual(counts[0], counts[1], path)
        listed = {item["id"]: item["contact_count"] for item in
                  self.api("GET", "/api/v1/contact-lists/", self.read, {"page_size": 20}).json()["results"]}
        self.assertEqual((listed[lists[0].pk], listed[lists[1].pk], listed[lists[2].pk]), (12, 3, 0))
        page = self.api("GET", f"/api/v1/contact-lists/{lists[1].pk}/contacts/", self.read).json()["results"]
        self.assertEqual(sorted(item["id"] for item in page), sorted(contact.pk for contact in created[:3]))
        self.assertEqual(sorted(page[0]["lists"]), [lists[0].pk, lists[1].pk])

    def test_isolation_and_scopes_of_every_endpoint(self):
        contact_list = self.contact_list()
        contact = self.contact()
        path = f"/api/v1/contact-lists/{contact_list.pk}/"
        self.assert_isolated("GET", path, [R])
        self.assert_isolated("PATCH", path, [W], {"description": "Changed"})
        self.assert_isolated("GET", path + "contacts/", [R])
        self.assert_isolated("POST", path + "contacts/", [W], {"contacts": [contact.pk]})
        self.assert_isolated("POST", path + "check/", [W])
        self.assert_needs("GET", "/api/v1/contact-lists/", [R])
        self.assert_needs("POST", "/api/v1/contact-lists/", [W], {"name": "New"})
        self.assertEqual(self.api("GET", "/api/v1/contact-lists/", self.key(self.beta, R)).json()["results"], [])
        with self.in_alpha():
            contact_list.refresh_from_db()
            self.assertEqual((contact_list.description, contact_list.risk_checked_at), ("", None))
            self.assertFalse(ContactListEntry.objects.exists())
            self.assertEqual(ContactList.objects.count(), 1)
