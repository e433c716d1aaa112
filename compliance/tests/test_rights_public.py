import re

import pytest
from django.core import mail
from django.urls import reverse

from compliance.models import RequestStatus, RightsRequest

from .rights_helpers import EMAIL, PHONE, RightsTestCase, last_code

NEW = "/privacy/requests/new/"

pytestmark = pytest.mark.clock  # verification codes expire; the reference names the year of receipt in Paris


def form_data(**overrides):
    data = {"requester_name": "Jean Martin", "requester_email": EMAIL, "requester_phone": "06 12 34 56 78",
            "company_named": "", "kind": "access", "details": "Called on Monday.", "website": ""}
    data.update(overrides)
    return data


class PublicFormTests(RightsTestCase):
    def post(self, ip="203.0.113.5", **overrides):
        with self.captureOnCommitCallbacks(execute=True):
            return self.client.post(NEW, form_data(**overrides), REMOTE_ADDR=ip)

    def test_the_form_is_public_in_english_and_french_with_a_hidden_honeypot(self):
        response = self.client.get(NEW)
        self.assertContains(response, "Exercise your data-protection rights")
        self.assertContains(response, 'class="hp" aria-hidden="true"')
        self.assertContains(response, 'name="website"')
        self.assertEqual(reverse("rights-request-new"), NEW)
        french = self.client.get(NEW, HTTP_ACCEPT_LANGUAGE="fr")
        self.assertContains(french, 'lang="fr"')
        self.assertContains(french, "Exercer vos droits sur vos données personnelles")

    def test_a_submission_records_the_request_in_the_language_used_and_asks_for_the_code(self):
        self.client.cookies["django_language"] = "fr"
        response = self.post()
        request = RightsRequest.objects.get()
        self.assertRedirects(response, f"/privacy/requests/{request.reference}/verify/")
        self.assertEqual((request.language, request.requester_phone, request.status), ("fr", PHONE,
                                                                                       RequestStatus.IDENTITY_UNVERIFIED))
        self.assertRegex(request.reference, r"^RR-\d{4}-[2-9A-HJ-NP-Z]{8}$")
        self.assertEqual(mail.outbox[-1].to, [EMAIL])

    def test_the_whole_path_through_the_pages(self):
        self.handler.hold(self.alpha, phone=PHONE)
        verify_url = self.post()["Location"]
        self.assertContains(self.client.get(verify_url), "6-digit code")
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(verify_url, {"code": last_code()})
        request = RightsRequest.objects.get()
        self.assertRedirects(response, f"/privacy/requests/{request.reference}/")
        page = self.client.get(response["Location"])
        self.assertContains(page, request.reference)
        self.assertContains(page, "What happens next")
        self.assertNotContains(page, "Alpha")
        self.assertEqual(request.status, RequestStatus.AWAITING_CONTROLLER)
        self.assertRedirects(self.client.get(verify_url), response["Location"])

    def test_the_pages_answer_the_same_whether_or_not_data_exists(self):
        self.handler.hold(self.alpha, phone=PHONE)
        pages = []
        for phone in ("06 12 34 56 78", "06 98 76 54 32"):
            verify_url = self.post(requester_phone=phone, requester_email=f"p{len(pages)}@example.org")["Location"]
            with self.captureOnCommitCallbacks(execute=True):
                response = self.client.post(verify_url, {"code": last_code()})
            reference = response["Location"].split("/")[-2]
            page = self.client.get(response["Location"])
            content = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page.content.decode())
            pages.append((response.status_code, page.status_code, content.replace(reference, "REF")))
        self.assertEqual(pages[0], pages[1])
        self.assertEqual({r.status for r in RightsRequest.objects.all()},
                         {RequestStatus.AWAITING_CONTROLLER, RequestStatus.VERIFIED})

    def test_wrong_codes_and_a_new_code_on_the_page(self):
        verify_url = self.post()["Location"]
        code = last_code()
        wrong = "000000" if code != "000000" else "111111"
        for expected in ("2 attempts left", "1 attempt left", "ask for a new code"):
            self.assertContains(self.client.post(verify_url, {"code": wrong}), expected, status_code=400)
        self.assertContains(self.client.post(verify_url, {"code": code}), "new code", status_code=400)
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(verify_url.replace("verify", "resend"), follow=True)
        self.assertContains(response, "A new code was sent")
        self.assertEqual(self.client.post(verify_url, {"code": last_code()}).status_code, 302)

    def test_honeypot_is_refused_and_creates_nothing(self):
        response = self.post(website="http://spam.example")
        self.assertContains(response, "could not be accepted", status_code=400)
        self.assertFalse(RightsRequest.objects.exists())
        self.assertEqual(mail.outbox, [])

    def test_submissions_per_client_are_limited(self):
        for n in range(5):
            self.assertEqual(self.post(requester_email=f"p{n}@example.org").status_code, 302)
        response = self.post(requester_email="p6@example.org")
        self.assertContains(response, "Too many requests", status_code=429)
        self.assertEqual(RightsRequest.objects.count(), 5)
        self.assertEqual(self.post(ip="198.51.100.7", requester_email="p7@example.org").status_code, 302)

    def test_submissions_per_e_mail_are_limited(self):
        for n in range(3):
            self.assertEqual(self.post(ip=f"198.51.100.{n}").status_code, 302)
        response = self.post(ip="198.51.100.9", requester_email=EMAIL.upper())
        self.assertEqual(response.status_code, 429)
        self.assertNotContains(response, EMAIL, status_code=429)
        self.assertEqual(RightsRequest.objects.count(), 3)

    def test_bad_input_is_a_clear_answer_never_a_500(self):
        cases = [
            form_data(requester_phone="not a number"),
            form_data(requester_phone=""),
            form_data(requester_email="nope"),
            form_data(kind="everything"),
            form_data(requester_name="x" * 5000),
            form_data(details="x" * 6000),
            {},
        ]
        for data in cases:
            response = self.client.post(NEW, data)
            self.assertEqual(response.status_code, 400, data)
        self.assertContains(self.client.post(NEW, form_data(requester_phone="12")), "phone number", status_code=400)
        self.assertFalse(RightsRequest.objects.exists())
        self.assertEqual(self.post(requester_phone="", about_callkom="on").status_code, 302)

    def test_unknown_references_and_bad_codes(self):
        self.assertEqual(self.client.get("/privacy/requests/RR-2026-NOPE/verify/").status_code, 404)
        self.assertEqual(self.client.get("/privacy/requests/%E2%9C%93/").status_code, 404)
        self.assertEqual(self.client.post("/privacy/requests/RR-2026-NOPE/resend/").status_code, 404)
        verify_url = self.post()["Location"]
        for code in ("", "12345", "abcdef", "１２３４５６", "1" * 30):
            self.assertEqual(self.client.post(verify_url, {"code": code}).status_code, 400, code)
        self.assertEqual(self.client.put(verify_url).status_code, 405)

    def test_code_tries_per_client_are_limited(self):
        verify_url = self.post()["Location"]
        for _i in range(30):
            self.client.post(verify_url, {"code": "12"})
        self.assertEqual(self.client.post(verify_url, {"code": "123456"}).status_code, 429)

    def test_an_unverified_request_has_no_received_page_and_a_canceled_one_is_gone(self):
        verify_url = self.post()["Location"]
        request = RightsRequest.objects.get()
        self.assertRedirects(self.client.get(f"/privacy/requests/{request.reference}/"), verify_url)
        RightsRequest.objects.update(status=RequestStatus.CANCELED)
        self.assertEqual(self.client.get(verify_url).status_code, 404)
