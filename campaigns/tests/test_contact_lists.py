"""Contact lists: risk checks and their findings, fixes and acknowledgements, readiness, and the portal pages."""

import json
import shutil
import tempfile

from auditlog.models import LogEntry
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from calls.donotcall import do_not_call_add, platform_do_not_call_add
from calls.models import Contact, DoNotCallSource
from calls.services import contact_create
from campaigns.models import ContactImport, ContactList, ContactListEntry, RiskFinding
from campaigns.services import imports, lists
from campaigns.services.lists import (
    contact_list_blockers,
    contact_list_check_risks,
    finding_acknowledge,
    finding_fix,
)
from tenants.testing import TwoTenantTestCase

MEDIA = tempfile.mkdtemp(prefix="callkom-list-tests-")
K = RiskFinding.Kind
F = RiskFinding.Status


def add_contact(contact_list, phone, **custom):
    contact = contact_create(tenant=contact_list.tenant, phone=phone, custom_fields=custom)
    ContactListEntry.objects.create(tenant=contact_list.tenant, contact_list=contact_list, contact=contact)
    return contact


def findings(contact_list):
    return {(f.kind, f.column): (f.status, f.affected) for f in RiskFinding.objects.filter(contact_list=contact_list)}


@override_settings(MEDIA_ROOT=MEDIA)
class ListTestCase(TwoTenantTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.addClassCleanup(shutil.rmtree, MEDIA, ignore_errors=True)

    def setUp(self):
        self.scope = self.in_alpha()
        self.scope.__enter__()
        self.addCleanup(self.scope.__exit__, None, None, None)
        self.contact_list = lists.contact_list_create(tenant=self.alpha, name="Prospects", legal_basis="contract",
                                                         actor=self.alice)


class ListServiceTests(ListTestCase):
    def test_names_are_unique_per_tenant_and_consent_needs_a_proof(self):
        with self.assertRaises(ValidationError) as raised:
            lists.contact_list_create(tenant=self.alpha, name=" prospects ")
        self.assertIn("name", raised.exception.error_dict)
        with self.assertRaises(ValidationError) as raised:
            lists.contact_list_create(tenant=self.alpha, name="Opt-ins", legal_basis="consent")
        self.assertIn("consent_proof", raised.exception.error_dict)
        lists.contact_list_create(tenant=self.alpha, name="Opt-ins", legal_basis="consent",
                                     consent_proof="CRM export 2024-05")
        with self.in_beta():
            lists.contact_list_create(tenant=self.beta, name="Prospects")

    def test_a_list_is_ready_once_checked_and_every_finding_is_resolved(self):
        self.assertEqual(contact_list_blockers(contact_list=self.contact_list),
                         ["The list's risks have not been checked yet."])
        add_contact(self.contact_list, "0612345678", Santé="asthme")
        contact_list_check_risks(contact_list=self.contact_list)
        self.contact_list.refresh_from_db()
        self.assertEqual(contact_list_blockers(contact_list=self.contact_list),
                         ["1 risk finding(s) must be fixed or acknowledged."])
        finding_acknowledge(finding=RiskFinding.objects.get(), actor=self.alice,
                            justification="Allergies matter for the delivery we call about.")
        self.assertEqual(contact_list_blockers(contact_list=self.contact_list), [])


class RiskCheckTests(ListTestCase):
    def test_numbers_on_the_do_not_call_lists(self):
        add_contact(self.contact_list, "0611111111")
        add_contact(self.contact_list, "0622222222")
        add_contact(self.contact_list, "0633333333")
        add_contact(self.contact_list, "0644444444")
        do_not_call_add(tenant=self.alpha, phone="0611111111")
        do_not_call_add(tenant=self.alpha, phone="0622222222", source=DoNotCallSource.OBJECTION)
        platform_do_not_call_add(phone="0633333333")
        with self.in_beta():  # another tenant's list does not count
            do_not_call_add(tenant=self.beta, phone="0644444444")
        contact_list_check_risks(contact_list=self.contact_list)
        self.assertEqual(findings(self.contact_list),
                         {(K.DO_NOT_CALL, ""): (F.OPEN, 1), (K.OBJECTION, ""): (F.OPEN, 2)})

    def test_special_category_and_unneeded_columns_by_name_and_by_value(self):
        add_contact(self.contact_list, "0611111111", **{
            "Santé": "rien", "Religion": "x", "Origine ethnique": "x", "Date de naissance": "1980-01-01",
            "numeroSecuriteSociale": "x", "Mot de passe": "x", "Ville": "Lyon",
            "Ref": "FR76 3000 6000 0112 3456 7890 189", "Carte": "4111 1111 1111 1111", "Code": "2 55 08 14 168 025 38",
            "Remarque": "diabète de type 2",
        })
        add_contact(self.contact_list, "0622222222", Ville="Paris", Ref="", Remarque="rappeler lundi")
        contact_list_check_risks(contact_list=self.contact_list)
        self.assertEqual(findings(self.contact_list), {
            (K.SPECIAL_CATEGORY, "Santé"): (F.OPEN, 1),
            (K.SPECIAL_CATEGORY, "Religion"): (F.OPEN, 1),
            (K.SPECIAL_CATEGORY, "Origine ethnique"): (F.OPEN, 1),
            (K.SPECIAL_CATEGORY, "Remarque"): (F.OPEN, 2),
            (K.UNNEEDED_DATA, "Date de naissance"): (F.OPEN, 1),
            (K.UNNEEDED_DATA, "numeroSecuriteSociale"): (F.OPEN, 1),
            (K.UNNEEDED_DATA, "Mot de passe"): (F.OPEN, 1),
            (K.UNNEEDED_DATA, "Ref"): (F.OPEN, 1),
            (K.UNNEEDED_DATA, "Carte"): (F.OPEN, 1),
            (K.UNNEEDED_DATA, "Code"): (F.OPEN, 1),
        })
        detail = RiskFinding.objects.get(column="Ref").detail
        self.assertIn("IBAN", detail)

    def test_value_checks_reject_look_alikes(self):
        self.assertTrue(lists.is_iban("DE89 3704 0044 0532 0130 00"))
        self.assertFalse(lists.is_iban("DE88 3704 0044 0532 0130 00"))
        self.assertTrue(lists.is_card_number("5555-5555-5555-4444"))
        self.assertFalse(lists.is_card_number("4111 1111 1111 1112"))
        self.assertFalse(lists.is_card_number("73282932000074"))  # a SIRET passes Luhn, but is no card
        self.assertTrue(lists.is_nir("255081416802538"))
        self.assertFalse(lists.is_nir("255081416802539"))
        self.assertIsNone(lists.header_risk("Connaissance du produit"))
        self.assertIsNone(lists.header_risk("Ville"))

    def test_a_list_without_legal_basis(self):
        contact_list = lists.contact_list_create(tenant=self.alpha, name="Unsure")
        add_contact(contact_list, "0611111111")
        contact_list_check_risks(contact_list=contact_list)
        self.assertEqual(findings(contact_list), {(K.NO_LEGAL_BASIS, ""): (F.OPEN, 1)})
        contact_list.refresh_from_db()
        lists.contact_list_update(contact_list=contact_list, name="Unsure", description="",
                                     legal_basis="legitimate_interests", consent_proof="", actor=self.alice)
        finding = RiskFinding.objects.get(contact_list=contact_list)
        self.assertEqual((finding.status, finding.resolved_by), (F.FIXED, self.alice))
        lists.contact_list_update(contact_list=contact_list, name="Unsure", description="", legal_basis="",
                                     consent_proof="")
        self.assertEqual(findings(contact_list), {(K.NO_LEGAL_BASIS, ""): (F.OPEN, 1)})

    def test_checking_again_keeps_resolutions_and_follows_the_counts(self):
        add_contact(self.contact_list, "0611111111", Santé="x")
        add_contact(self.contact_list, "0622222222")
        do_not_call_add(tenant=self.alpha, phone="0622222222")
        contact_list_check_risks(contact_list=self.contact_list)
        health = RiskFinding.objects.get(kind=K.SPECIAL_CATEGORY)
        finding_acknowledge(finding=health, actor=self.alice, justification="Needed to adapt the visit, per DPO.")
        finding_fix(finding=RiskFinding.objects.get(kind=K.DO_NOT_CALL), actor=self.alice)

        add_contact(self.contact_list, "0633333333", Santé="y")
        contact_list_check_risks(contact_list=self.contact_list)
        self.assertEqual(findings(self.contact_list), {(K.SPECIAL_CATEGORY, "Santé"): (F.ACKNOWLEDGED, 2),
                                                       (K.DO_NOT_CALL, ""): (F.FIXED, 1)})
        health.refresh_from_db()
        self.assertEqual(health.acknowledgement, "Needed to adapt the visit, per DPO.")

        add_contact(self.contact_list, "0644444444")  # a new listed number reopens the fixed finding
        do_not_call_add(tenant=self.alpha, phone="0644444444")
        contact_list_check_risks(contact_list=self.contact_list)
        self.assertEqual(findings(self.contact_list)[(K.DO_NOT_CALL, "")], (F.OPEN, 1))

    def test_an_open_finding_that_disappears_is_closed(self):
        add_contact(self.contact_list, "0611111111")
        entry = do_not_call_add(tenant=self.alpha, phone="0611111111")
        contact_list_check_risks(contact_list=self.contact_list)
        entry.delete()
        contact_list_check_risks(contact_list=self.contact_list)
        self.assertEqual(findings(self.contact_list), {(K.DO_NOT_CALL, ""): (F.FIXED, 1)})

    def test_an_import_checks_the_list(self):
        do_not_call_add(tenant=self.alpha, phone="0611111111")
        upload = SimpleUploadedFile("l.csv", "phone;Santé\n0611111111;asthme\n0622222222;\n".encode())
        contact_import = imports.import_upload(contact_list=self.contact_list, uploaded_file=upload)
        contact_import = imports.import_configure(contact_import=contact_import,
                                                   mapping={"phone": "phone", "Santé": "custom"})
        with self.captureOnCommitCallbacks(execute=True):
            imports.import_start(contact_import=contact_import)
        self.contact_list.refresh_from_db()
        self.assertIsNotNone(self.contact_list.risk_checked_at)
        self.assertEqual(findings(self.contact_list), {(K.DO_NOT_CALL, ""): (F.OPEN, 1),
                                                       (K.SPECIAL_CATEGORY, "Santé"): (F.OPEN, 1)})


class FixAndAcknowledgeTests(ListTestCase):
    def test_fixing_number_findings_takes_the_contacts_out_of_the_list(self):
        kept = add_contact(self.contact_list, "0611111111")
        add_contact(self.contact_list, "0622222222")
        add_contact(self.contact_list, "0633333333")
        do_not_call_add(tenant=self.alpha, phone="0622222222")
        platform_do_not_call_add(phone="0633333333")
        contact_list_check_risks(contact_list=self.contact_list)
        for kind in (K.DO_NOT_CALL, K.OBJECTION):
            finding = finding_fix(finding=RiskFinding.objects.get(kind=kind), actor=self.alice)
            self.assertEqual((finding.status, finding.resolved_by), (F.FIXED, self.alice))
        self.assertEqual(list(self.contact_list.contacts.all()), [kept])
        self.assertEqual(Contact.objects.count(), 3)  # out of the list, not deleted
        with self.assertRaises(ValidationError):
            finding_fix(finding=RiskFinding.objects.get(kind=K.OBJECTION), actor=self.alice)

    def test_fixing_a_column_erases_it_from_the_contacts(self):
        first = add_contact(self.contact_list, "0611111111", Santé="asthme", Ville="Lyon")
        add_contact(self.contact_list, "0622222222", Santé="")
        contact_list_check_risks(contact_list=self.contact_list)
        finding_fix(finding=RiskFinding.objects.get(column="Santé"), actor=self.alice)
        first.refresh_from_db()
        self.assertEqual(json.loads(first.custom_fields), {"Ville": "Lyon"})
        contact_list_check_risks(contact_list=self.contact_list)
        self.assertEqual(findings(self.contact_list), {(K.SPECIAL_CATEGORY, "Santé"): (F.FIXED, 1)})

    def test_fixing_a_missing_legal_basis_sets_it(self):
        contact_list = lists.contact_list_create(tenant=self.alpha, name="Unsure")
        contact_list_check_risks(contact_list=contact_list)
        finding = RiskFinding.objects.get(contact_list=contact_list)
        with self.assertRaises(ValidationError):
            finding_fix(finding=finding, actor=self.alice)
        with self.assertRaises(ValidationError):
            finding_fix(finding=finding, actor=self.alice, legal_basis="consent")
        finding = finding_fix(finding=finding, actor=self.alice, legal_basis="consent", consent_proof="Form v2")
        contact_list.refresh_from_db()
        self.assertEqual((finding.status, contact_list.legal_basis), (F.FIXED, "consent"))

    def test_an_acknowledgement_needs_a_justification_and_is_audited(self):
        add_contact(self.contact_list, "0611111111", IBAN="x")
        contact_list_check_risks(contact_list=self.contact_list)
        finding = RiskFinding.objects.get()
        self.login(self.alice)
        url = f"/t/alpha/contacts/lists/{self.contact_list.pk}/findings/{finding.pk}/acknowledge/"
        response = self.client.post(url, {f"ack-{finding.pk}-justification": "ok"})
        self.assertContains(response, "errorlist", status_code=400)
        justification = "Refunds are paid to this account; the DPO agreed on 2024-05-02."
        response = self.client.post(url, {f"ack-{finding.pk}-justification": justification})
        self.assertRedirects(response, f"/t/alpha/contacts/lists/{self.contact_list.pk}/")
        finding.refresh_from_db()
        self.assertEqual((finding.status, finding.acknowledgement, finding.resolved_by),
                         (F.ACKNOWLEDGED, justification, self.alice))
        entry = LogEntry.objects.get_for_object(finding).latest("timestamp")
        self.assertEqual(entry.actor, self.alice)
        self.assertEqual(entry.changes_dict["acknowledgement"][1], justification)
        self.assertEqual(entry.changes_dict["status"][1], F.ACKNOWLEDGED)
        with self.assertRaises(ValidationError):
            finding_acknowledge(finding=finding, actor=self.alice, justification=justification)
        self.assertContains(self.client.get(f"/t/alpha/contacts/lists/{self.contact_list.pk}/"), justification)


class PageTests(ListTestCase):
    def setUp(self):
        super().setUp()
        add_contact(self.contact_list, "0611111111", Santé="asthme")
        do_not_call_add(tenant=self.alpha, phone="0611111111")
        contact_list_check_risks(contact_list=self.contact_list)
        self.finding = RiskFinding.objects.get(kind=K.SPECIAL_CATEGORY)
        upload = SimpleUploadedFile("l.csv", b"phone\n12\n0622222222\n")
        self.contact_import = imports.import_upload(contact_list=self.contact_list, uploaded_file=upload)
        self.base = f"/t/alpha/contacts/lists/{self.contact_list.pk}/"
        self.import_base = f"/t/alpha/contacts/imports/{self.contact_import.pk}/"

    def reads(self):
        return ["/t/alpha/contacts/lists/", self.base, self.import_base, f"{self.import_base}status.json",
                f"{self.import_base}errors/"]

    def changes(self):
        return {
            "/t/alpha/contacts/lists/new/": {"name": "X"},
            f"{self.base}edit/": {"name": "X"},
            f"{self.base}check/": {},
            f"{self.base}findings/{self.finding.pk}/fix/": {},
            f"{self.base}findings/{self.finding.pk}/acknowledge/": {f"ack-{self.finding.pk}-justification": "x" * 20},
            f"{self.base}import/": {},
            f"{self.import_base}mapping/": {"column_0": "phone"},
            f"{self.import_base}import-valid-rows/": {},
            f"{self.import_base}cancel/": {},
        }

    def test_another_tenants_user_gets_404_everywhere(self):
        self.login(self.charlie)
        for url in self.reads() + list(self.changes()):
            with self.subTest(url):
                self.assertEqual(self.client.get(url).status_code, 404)
        for url, data in self.changes().items():
            with self.subTest(url):
                self.assertEqual(self.client.post(url, data).status_code, 404)
        self.assertEqual(ContactList.objects.filter(name="X").count(), 0)

    def test_a_beta_object_through_alphas_own_urls_is_404(self):
        with self.in_beta():
            beta_list = lists.contact_list_create(tenant=self.beta, name="Beta list")
            beta_import = imports.import_upload(contact_list=beta_list,
                                                 uploaded_file=SimpleUploadedFile("b.csv", b"phone\n0611111111\n"))
        self.login(self.alice)
        for url in (f"/t/alpha/contacts/lists/{beta_list.pk}/", f"/t/alpha/contacts/imports/{beta_import.pk}/",
                    f"/t/alpha/contacts/imports/{beta_import.pk}/status.json"):
            with self.subTest(url):
                self.assertEqual(self.client.get(url).status_code, 404)
        self.assertEqual(self.client.post(f"/t/alpha/contacts/imports/{beta_import.pk}/cancel/").status_code, 404)

    def test_a_viewer_reads_but_cannot_change(self):
        self.login(self.bob)
        for url in self.reads():
            with self.subTest(url):
                self.assertEqual(self.client.get(url).status_code, 200)
        for url, data in self.changes().items():
            with self.subTest(url):
                self.assertEqual(self.client.post(url, data).status_code, 403)
        page = self.client.get(self.base)
        self.assertNotContains(page, "Acknowledge")
        self.assertNotContains(page, "Import contacts")

    def test_anonymous_is_sent_to_log_in(self):
        response = self.client.get("/t/alpha/contacts/lists/")
        self.assertEqual(response.status_code, 302)
        self.assertIn("/accounts/login/", response["Location"])

    def test_the_lists_page_shows_counts_and_readiness(self):
        lists.contact_list_create(tenant=self.alpha, name="Clean list", legal_basis="contract")
        contact_list_check_risks(contact_list=ContactList.objects.get(name="Clean list"))
        self.login(self.alice)
        response = self.client.get("/t/alpha/contacts/lists/")
        self.assertContains(response, "Needs attention: 2 findings")
        self.assertContains(response, "Ready")
        self.assertContains(response, "<td>1</td>", html=True)
        self.assertContains(self.client.get("/t/alpha/"), "Contact lists needing attention")

    def test_create_and_edit_a_list_with_errors_as_400(self):
        self.login(self.alice)
        response = self.client.post("/t/alpha/contacts/lists/new/", {"name": "Prospects"})
        self.assertContains(response, "Another list already has this name.", status_code=400)
        response = self.client.post("/t/alpha/contacts/lists/new/", {"name": "Opt-ins", "legal_basis": "consent"})
        self.assertContains(response, "proof", status_code=400)
        response = self.client.post("/t/alpha/contacts/lists/new/", {"name": "Opt-ins", "legal_basis": "contract"})
        created = ContactList.objects.get(name="Opt-ins")
        self.assertRedirects(response, f"/t/alpha/contacts/lists/{created.pk}/import/")
        self.assertEqual(created.created_by, self.alice)
        response = self.client.post(f"/t/alpha/contacts/lists/{created.pk}/edit/", {"name": "Opt-ins 2024"})
        self.assertRedirects(response, f"/t/alpha/contacts/lists/{created.pk}/")

    def test_list_page_shows_findings_imports_and_paged_contacts(self):
        for n in range(60):
            add_contact(self.contact_list, f"06990000{n:02d}")
        self.login(self.alice)
        response = self.client.get(self.base)
        self.assertContains(response, "Column with special-category data")
        self.assertContains(response, "Numbers on the do-not-call list")
        self.assertContains(response, "Erase this column from the contacts")
        self.assertContains(response, "l.csv")
        self.assertContains(response, "Page 1 of 2")
        self.assertContains(self.client.get(self.base, {"page": "2"}), "+33699000059")
        self.assertEqual(self.client.get(self.base, {"page": "x'"}).status_code, 200)

    def test_fix_through_the_page(self):
        self.login(self.alice)
        response = self.client.post(f"{self.base}findings/{self.finding.pk}/fix/")
        self.assertRedirects(response, self.base)
        self.finding.refresh_from_db()
        self.assertEqual((self.finding.status, self.finding.resolved_by), (F.FIXED, self.alice))
        response = self.client.post(f"{self.base}findings/{self.finding.pk}/fix/")
        self.assertContains(response, "already fixed", status_code=400)

    def test_upload_map_import_and_follow_the_progress(self):
        self.login(self.alice)
        response = self.client.post(f"{self.base}import/", {"file": SimpleUploadedFile("x.pdf", b"%PDF-1.4 x")})
        self.assertContains(response, "neither a CSV file", status_code=400)
        self.assertContains(self.client.post(f"{self.base}import/", {}), "errorlist", status_code=400)
        text = "Prénom;Nom;Téléphone;Ville\nAnn;Lee;0633333333;Lyon\nBo;Ek;12;Paris\nCy;Do;0644444444;\n"
        response = self.client.post(f"{self.base}import/", {"file": SimpleUploadedFile("n.csv", text.encode())})
        contact_import = ContactImport.objects.get(file_name="n.csv")
        mapping_url = f"/t/alpha/contacts/imports/{contact_import.pk}/mapping/"
        self.assertRedirects(response, mapping_url)
        page = self.client.get(mapping_url)
        self.assertContains(page, '<option value="phone" selected>', html=False)
        self.assertContains(page, "0633333333")  # the first values help the mapping
        response = self.client.post(mapping_url, {"column_0": "name", "column_1": "name", "column_2": "custom",
                                                  "column_3": "custom"})
        self.assertContains(response, "exactly one column holding the phone number", status_code=400)
        self.assertContains(self.client.post(mapping_url, {"column_0": "nonsense"}), "errorlist", status_code=400)
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(mapping_url, {"column_0": "name", "column_1": "name", "column_2": "phone",
                                                      "column_3": "custom"})
        detail_url = f"/t/alpha/contacts/imports/{contact_import.pk}/"
        self.assertRedirects(response, detail_url)
        status = self.client.get(f"{detail_url}status.json").json()
        self.assertEqual((status["status"], status["percent"], status["total"]), ("needs_decision", 20, 3))
        self.assertEqual(status["counts"], {"imported": 0, "duplicates": 0, "invalid": 1})
        self.assertEqual(status["errors"], [{"row": 3, "column": "Téléphone",
                                             "message": "This is not a valid phone number."}])
        page = self.client.get(detail_url)
        self.assertContains(page, "Import the 2 valid rows")
        self.assertContains(page, "<td>3</td><td>Téléphone</td>", html=True)
        self.assertContains(self.client.get(f"{detail_url}errors/"), "Téléphone")
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(f"{detail_url}import-valid-rows/")
        self.assertRedirects(response, detail_url)
        status = self.client.get(f"{detail_url}status.json").json()
        self.assertEqual((status["status"], status["percent"], status["processed"]), ("completed", 100, 3))
        self.assertEqual(status["counts"], {"imported": 2, "duplicates": 0, "invalid": 1})
        response = self.client.post(f"{detail_url}import-valid-rows/")
        self.assertContains(response, "not waiting for a decision", status_code=400)
        self.assertContains(self.client.post(f"{detail_url}cancel/"), "already ended", status_code=400)
        self.assertRedirects(self.client.get(mapping_url), detail_url)

    def test_cancel_through_the_page(self):
        self.login(self.alice)
        response = self.client.post(f"{self.import_base}cancel/")
        self.assertRedirects(response, self.import_base)
        self.contact_import.refresh_from_db()
        self.assertEqual(self.contact_import.status, ContactImport.Status.CANCELED)

    def test_pages_render_in_french(self):
        self.login(self.alice)
        for url in self.reads()[:3] + [f"{self.base}import/", f"{self.import_base}mapping/"]:
            with self.subTest(url):
                response = self.client.get(url, HTTP_ACCEPT_LANGUAGE="fr")
                self.assertEqual(response.status_code, 200)


class AdminTests(ListTestCase):
    def test_staff_see_lists_imports_and_findings_read_only_and_never_the_upload(self):
        from tenants.services import user_create

        add_contact(self.contact_list, "0611111111", IBAN="x")
        contact_list_check_risks(contact_list=self.contact_list)
        contact_import = imports.import_upload(contact_list=self.contact_list,
                                                uploaded_file=SimpleUploadedFile("a.csv", b"phone\n0611111111\n"))
        finding = RiskFinding.objects.get()
        staff = user_create(email="staff@callkom.example", password="x" * 12, is_staff=True)
        staff.is_superuser = True
        staff.save()
        self.client.force_login(staff)
        for url in ("/admin/campaigns/contactlist/", f"/admin/campaigns/contactlist/{self.contact_list.pk}/change/",
                    "/admin/campaigns/contactimport/", f"/admin/campaigns/contactimport/{contact_import.pk}/change/",
                    "/admin/campaigns/riskfinding/", f"/admin/campaigns/riskfinding/{finding.pk}/change/"):
            with self.subTest(url):
                response = self.client.get(url)
                self.assertEqual(response.status_code, 200)
                self.assertNotContains(response, contact_import.path)
        self.assertEqual(self.client.get("/admin/campaigns/riskfinding/add/").status_code, 403)
