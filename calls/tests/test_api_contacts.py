"""Partner API: contacts (contact lists: campaigns/tests/test_api_lists.py)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from calls import services
from calls.models import Call, Contact
from campaigns.models import CampaignTarget, ContactList, ContactListEntry
from campaigns.services import lists as list_services
from campaigns.tests.campaign_helpers import consented_campaign, usable_list
from compliance.models import LegalHold
from tenants.crypto import email_index, phone_index
from tenants.models import ApiScope
from tenants.testing import ApiTestCase

R, W = "contacts:read", "contacts:write"


class ContactApiTestCase(ApiTestCase):
    def setUp(self):
        super().setUp()
        self.read = self.key(self.alpha, R)
        self.write = self.key(self.alpha, R, W)

    def contact(self, phone="0612345678", tenant=None, **fields):
        tenant = tenant or self.alpha
        with (self.in_alpha() if tenant == self.alpha else self.in_beta()):
            return services.contact_create(tenant=tenant, phone=phone, **fields)

    def contact_list(self, name="Prospects", tenant=None, **fields):
        tenant = tenant or self.alpha
        with (self.in_alpha() if tenant == self.alpha else self.in_beta()):
            return list_services.contact_list_create(tenant=tenant, name=name, **fields)

    def lacking(self, *scopes):
        """A key of Alpha with every scope but these."""
        return self.key(self.alpha, *[scope for scope in ApiScope.values if scope not in scopes])

    def assert_needs(self, method, path, scopes, data=None):
        body = self.assert_problem(self.api(method, path, self.lacking(*scopes), data), 403)
        self.assertEqual(sorted(body["missing_scopes"]), sorted(scopes))

    def fields(self, body) -> dict:
        return {item["field"]: item for item in body["errors"]}


class ContactTests(ContactApiTestCase):
    def test_create_normalises_the_number_and_shows_everything_back(self):
        response = self.api("POST", "/api/v1/contacts/", self.write, {
            "phone": "06 12 34 56 78", "name": "Élodie Dupré", "email": "E.Dupre@Example.com", "company": "Café",
            "time_zone": "Europe/Paris", "notes": "Mornings.", "custom_fields": {"Customer since": "2021"}})
        self.assertEqual(response.status_code, 201, response.content)
        body = response.json()
        self.assertEqual({key: body[key] for key in ("phone", "name", "email", "company", "time_zone", "notes",
                                                     "custom_fields", "lists")},
                         {"phone": "+33612345678", "name": "Élodie Dupré", "email": "e.dupre@example.com",
                          "company": "Café", "time_zone": "Europe/Paris", "notes": "Mornings.",
                          "custom_fields": {"Customer since": "2021"}, "lists": []})
        with self.in_alpha():
            contact = Contact.objects.get(pk=body["id"])
            self.assertEqual((contact.tenant_id, contact.phone_index, contact.email_index),
                             (self.alpha.pk, phone_index("+33612345678"), email_index("e.dupre@example.com")))
        self.assertEqual(self.api("GET", f"/api/v1/contacts/{body['id']}/", self.read).json(), body)

    def test_bad_input_is_a_400_naming_each_field(self):
        response = self.api("POST", "/api/v1/contacts/", self.write, {
            "phone": "12", "email": "not-an-email", "time_zone": "Mars/Olympus", "name": "x" * 201,
            "custom_fields": {"phone": "x"}})
        body = self.assert_problem(response, 400)
        self.assertEqual(set(self.fields(body)), {"phone", "email", "time_zone", "name", "custom_fields.phone"})
        self.assert_problem(self.api("POST", "/api/v1/contacts/", self.write, {"name": "No number"}), 400)
        self.assert_problem(self.api("POST", "/api/v1/contacts/", self.write, {"phone": ["0612345678"]}), 400)
        self.assert_problem(self.api("POST", "/api/v1/contacts/", self.write, {"phone": "06", "custom_fields": []}),
                            400)
        with self.in_alpha():
            self.assertFalse(Contact.objects.exists())

    def test_a_number_already_held_is_a_409_naming_phone(self):
        existing = self.contact("+33612345678")
        body = self.assert_problem(self.api("POST", "/api/v1/contacts/", self.write, {"phone": "06 12 34 56 78"}), 409)
        self.assertTrue(body["type"].endswith("/conflict/"))
        self.assertEqual(body["errors"][0]["field"], "phone")
        self.assertIn(str(existing.pk), body["errors"][0]["detail"])
        self.contact("0612345678", tenant=self.beta)  # another tenant's contact is no duplicate
        other = self.contact("0698765432")
        self.assert_problem(self.api("PATCH", f"/api/v1/contacts/{other.pk}/", self.write,
                                     {"phone": "+33612345678"}), 409)
        same = self.api("PATCH", f"/api/v1/contacts/{existing.pk}/", self.write, {"phone": "+33 6 12 34 56 78"})
        self.assertEqual(same.status_code, 200)

    def test_patch_changes_only_what_is_sent_and_put_replaces(self):
        contact = self.contact("0612345678", name="Ann", email="ann@example.com", company="Lee Ltd")
        path = f"/api/v1/contacts/{contact.pk}/"
        body = self.api("PATCH", path, self.write, {"email": "ANN@lee.example", "phone": "0698765432"}).json()
        self.assertEqual((body["name"], body["email"], body["phone"], body["company"]),
                         ("Ann", "ann@lee.example", "+33698765432", "Lee Ltd"))
        with self.in_alpha():
            contact.refresh_from_db()
            self.assertEqual((contact.phone_index, contact.email_index),
                             (phone_index("+33698765432"), email_index("ann@lee.example")))
        body = self.api("PUT", path, self.write, {"phone": "0698765432", "name": "Ann Lee"}).json()
        self.assertEqual((body["name"], body["email"], body["company"]), ("Ann Lee", "", ""))
        with self.in_alpha():
            contact.refresh_from_db()
            self.assertEqual(contact.email_index, "")
        self.assert_problem(self.api("PUT", path, self.write, {"name": "No number"}), 400)
        self.assert_problem(self.api("PATCH", path, self.write, {"time_zone": "Nowhere"}), 400)

    def test_a_new_number_sends_the_contacts_lists_back_to_the_risk_check(self):
        contact = self.contact()
        contact_list = self.contact_list(legal_basis="contract")
        with self.in_alpha():
            list_services.contact_list_add(contact_list=contact_list, contacts=[contact])
            list_services.contact_list_check_risks(contact_list=contact_list)
        self.api("PATCH", f"/api/v1/contacts/{contact.pk}/", self.write, {"name": "Renamed"})
        with self.in_alpha():
            self.assertIsNotNone(ContactList.objects.get().risk_checked_at)
        self.api("PATCH", f"/api/v1/contacts/{contact.pk}/", self.write, {"phone": "0698765432"})
        with self.in_alpha():
            self.assertIsNone(ContactList.objects.get().risk_checked_at)

    @pytest.mark.clock  # a contact created today is after 2025
    def test_filters_by_phone_email_list_and_creation_time(self):
        ann = self.contact("0612345678", email="ann@example.com")
        bo = self.contact("0698765432")
        self.contact("0612345678", tenant=self.beta, email="ann@example.com")
        contact_list = self.contact_list()
        with self.in_alpha():
            list_services.contact_list_add(contact_list=contact_list, contacts=[bo])
            Contact.objects.filter(pk=ann.pk).update(created_at="2024-01-01T00:00:00Z")

        def ids(**query):
            response = self.api("GET", "/api/v1/contacts/", self.read, query)
            self.assertEqual(response.status_code, 200, response.content)
            return [item["id"] for item in response.json()["results"]]

        self.assertEqual(ids(), [bo.pk, ann.pk])
        self.assertEqual(ids(phone="+33 6 12 34 56 78"), [ann.pk])
        self.assertEqual(ids(email="ANN@example.com"), [ann.pk])
        self.assertEqual(ids(list=contact_list.pk), [bo.pk])
        self.assertEqual(ids(created_after="2025-01-01T00:00:00Z"), [bo.pk])
        self.assertEqual(ids(created_before="2025-01-01T00:00:00Z"), [ann.pk])
        for query in ({"phone": "12"}, {"created_after": "yesterday"}, {"list": "x"},
                      {"created_before": "0001-01-01T00:00:00+14:00"}, {"list": "99999999999999999999999"}):
            body = self.assert_problem(self.api("GET", "/api/v1/contacts/", self.read, query), 400)
            self.assertEqual(set(self.fields(body)), set(query))
        self.assertEqual(self.api("GET", "/api/v1/contacts/", self.key(self.beta, R)).json()["results"][0]["id"],
                         Contact.objects.model._base_manager.filter(tenant=self.beta).get().pk)

    def test_the_list_pages_with_a_cursor_in_a_constant_number_of_queries(self):
        contact_list = self.contact_list()
        created = [self.contact(f"+336123456{index:02d}") for index in range(12)]
        with self.in_alpha():
            list_services.contact_list_add(contact_list=contact_list, contacts=created)
        self.api("GET", "/api/v1/contacts/", self.read)  # the key's first use records its time
        counts = []
        for size in (2, 12):
            with CaptureQueriesContext(connection) as queries:
                response = self.api("GET", "/api/v1/contacts/", self.read, {"page_size": size})
            self.assertEqual(len(response.json()["results"]), size)
            counts.append(len(queries))
        self.assertEqual(counts[0], counts[1])
        first = self.api("GET", "/api/v1/contacts/", self.read, {"page_size": 5}).json()
        second = self.client.get(first["next"], HTTP_AUTHORIZATION=f"Api-Key {self.read}").json()
        seen = [item["id"] for item in first["results"] + second["results"]]
        self.assertEqual(seen, sorted((contact.pk for contact in created), reverse=True)[:10])
        self.assertEqual(first["results"][0]["lists"], [contact_list.pk])

    def test_delete_keeps_the_calls_without_contact(self):
        contact = self.contact()
        contact_list = self.contact_list()
        with self.in_alpha():
            script = services.demo_scripts_ensure(tenant=self.alpha)[0]
            call = services.call_create(tenant=self.alpha, script=script, direction="outbound", contact=contact)
            Call.objects.filter(pk=call.pk).update(status=Call.Status.COMPLETED)
            list_services.contact_list_add(contact_list=contact_list, contacts=[contact])
        response = self.api("DELETE", f"/api/v1/contacts/{contact.pk}/", self.write)
        self.assertEqual(response.status_code, 204)
        with self.in_alpha():
            self.assertFalse(Contact.objects.exists())
            self.assertFalse(ContactListEntry.objects.exists())
            self.assertIsNone(Call.objects.get().contact_id)
        self.assert_problem(self.api("DELETE", f"/api/v1/contacts/{contact.pk}/", self.write), 404)

    def test_delete_takes_the_contact_out_of_campaigns(self):
        with self.in_alpha():
            script = services.demo_scripts_ensure(tenant=self.alpha)[0]
            contact_list = usable_list(self.alpha, phones=["+33612345601", "+33612345602"])
            campaign = consented_campaign(self.alpha, script, contact_list)
            contact = Contact.objects.order_by("pk").first()
            CampaignTarget.objects.create(tenant=self.alpha, campaign=campaign, contact=contact)
        self.assertEqual(self.api("DELETE", f"/api/v1/contacts/{contact.pk}/", self.write).status_code, 204)
        with self.in_alpha():
            self.assertFalse(CampaignTarget.objects.filter(contact_id=contact.pk).exists())
            self.assertEqual(Contact.objects.count(), 1)

    def test_delete_is_refused_during_a_call_and_under_a_legal_hold(self):
        contact = self.contact()
        with self.in_alpha():
            script = services.demo_scripts_ensure(tenant=self.alpha)[0]
            call = services.call_create(tenant=self.alpha, script=script, direction="outbound", contact=contact)
        body = self.assert_problem(self.api("DELETE", f"/api/v1/contacts/{contact.pk}/", self.write), 409)
        self.assertIn("call", body["detail"])
        with self.in_alpha():
            Call.objects.filter(pk=call.pk).update(status=Call.Status.COMPLETED)
            LegalHold.objects.create(tenant=self.alpha, phone_index=contact.phone_index,
                                     reason=LegalHold.Reason.LITIGATION)
        body = self.assert_problem(self.api("DELETE", f"/api/v1/contacts/{contact.pk}/", self.write), 409)
        self.assertIn("legal hold", body["detail"])
        with self.in_alpha():
            self.assertTrue(Contact.objects.exists())

    def test_isolation_and_scopes_of_every_endpoint(self):
        contact = self.contact()
        path = f"/api/v1/contacts/{contact.pk}/"
        self.assert_isolated("GET", path, [R])
        self.assert_isolated("PATCH", path, [W], {"name": "Changed"})
        self.assert_isolated("PUT", path, [W], {"phone": "0612345678", "name": "Changed"})
        self.assert_isolated("DELETE", path, [W])
        self.assert_needs("GET", "/api/v1/contacts/", [R])
        self.assert_needs("POST", "/api/v1/contacts/", [W], {"phone": "0698765432"})
        self.assertEqual(self.api("GET", "/api/v1/contacts/", self.key(self.beta, R)).json()["results"], [])
        with self.in_alpha():
            contact.refresh_from_db()
            self.assertEqual(contact.name, "")
            self.assertEqual(Contact.objects.count(), 1)
        self.assert_problem(self.api("GET", "/api/v1/contacts/", None), 401)
        self.assert_problem(self.api("GET", "/api/v1/contacts/abc/", self.read), 404)
        self.assert_problem(self.api("GET", "/api/v1/contacts/99999999999999999999999/", self.read), 404)
