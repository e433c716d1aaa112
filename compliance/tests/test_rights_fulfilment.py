"""Carrying out approved requests through the registry (here with the fake handler; the calls app's own handler
is tested end to end in calls/tests/test_privacy_handler.py), the download link, holds, portal and admin."""

import datetime
import io
import json
import re
import tempfile
import zipfile
from unittest import mock

import pytest
import time_machine
from auditlog.models import LogEntry
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from compliance import fulfilment, rights
from compliance.models import ErasureLog, EventKind, ExportFile, LegalHold, RequestStatus, RoutedRequest
from compliance.selectors import is_held
from compliance.tasks import exports_purge
from tenants.crypto import email_index, phone_index
from tenants.scope import all_tenants_scope

from .rights_helpers import EMAIL, PHONE, RightsTestCase, mails_to

S = RequestStatus
LINK = re.compile(r"https?://\S+/privacy/downloads/([^/\s]+)/")

pytestmark = pytest.mark.clock  # download links expire a week from now; holds and erasure logs are stamped now


class FulfilmentTestCase(RightsTestCase):
    """Alpha holds data about the person (through the fake handler); its copy of a request is approved by Alice."""

    def setUp(self):
        super().setUp()
        media = tempfile.TemporaryDirectory()
        self.addCleanup(media.cleanup)
        self.enterContext(override_settings(MEDIA_ROOT=media.name))
        self.handler.hold(self.alpha, phone=PHONE)

    def approved(self, kind="access", **overrides) -> RoutedRequest:
        routed = self.copies(self.verified(kind=kind, **overrides))["alpha"]
        with self.in_alpha(), self.captureOnCommitCallbacks(execute=True):
            return rights.decide(routed=routed, approve=True, reason="", actor=self.alice)

    def fulfil(self, routed, **kwargs) -> RoutedRequest:
        with self.in_alpha(), self.captureOnCommitCallbacks(execute=True):
            return fulfilment.request_fulfil(routed=routed, actor=self.alice, **kwargs)

    def detail_url(self, routed, slug="alpha"):
        return reverse("privacy-request-detail", args=[slug, routed.pk])

    def fulfil_url(self, routed, slug="alpha"):
        return reverse("privacy-request-fulfil", args=[slug, routed.pk])

    def events(self, routed, kind):
        with all_tenants_scope("test"):
            return list(routed.events.filter(kind=kind).values_list("note", flat=True))


class AccessTests(FulfilmentTestCase):
    def exported(self):
        routed = self.approved()
        mail.outbox.clear()
        routed = self.fulfil(routed)
        [link_mail] = [m for m in mails_to(EMAIL) if "ready to download" in m.subject]
        return routed, LINK.search(link_mail.body).group(1), link_mail

    def test_the_export_is_e_mailed_as_a_link_and_the_copy_completed(self):
        routed, token, link_mail = self.exported()
        self.assertEqual(routed.status, S.COMPLETED)
        self.assertGreaterEqual(len(token), 43)  # 32 random bytes
        self.assertIn("5 downloads", link_mail.body)
        self.assertTrue(any("carried out" in m.subject for m in mails_to(EMAIL)))
        with self.in_alpha():
            export = ExportFile.objects.get(routed=routed)
        self.assertNotIn(token, export.token_hash)
        self.assertEqual(export.token_hash, fulfilment.token_hash(token))
        raw = default_storage.open(export.path).read()
        self.assertNotIn(b"data.json", raw)  # encrypted at rest
        self.assertLessEqual(export.expires_at - timezone.now(), datetime.timedelta(days=7))
        with all_tenants_scope("test"):
            notes = " ".join(routed.events.values_list("note", flat=True))
        self.assertNotIn(token, notes)  # the link is in the requester's mailbox only
        self.assertTrue(self.events(routed, EventKind.FULFILMENT))

    def test_the_link_downloads_the_archive_the_page_counts_nothing(self):
        routed, token, _mail = self.exported()
        url = reverse("privacy-download", args=[token])
        page = self.client.get(url)
        self.assertContains(page, "Download your data")
        self.assertEqual(page["Referrer-Policy"], "no-referrer")
        response = self.client.post(url)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "application/zip")
        self.assertIn(routed.request.reference, response["Content-Disposition"])
        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
            data = json.loads(archive.read("data.json"))
            summary = archive.read("summary.html").decode()
        self.assertEqual(data["request"]["reference"], routed.request.reference)
        self.assertEqual(data["request"]["controller"], "Alpha SAS")
        self.assertEqual(data["data"]["fake"], {"rows": 1})
        self.assertIn(routed.request.reference, summary)
        with self.in_alpha():
            self.assertEqual(ExportFile.objects.get(routed=routed).download_count, 1)

    def test_the_summary_is_in_the_requesters_language(self):
        routed = self.approved(language="fr")
        self.fulfil(routed)
        [link_mail] = [m for m in mails_to(EMAIL) if LINK.search(m.body)]
        response = self.client.post(reverse("privacy-download", args=[LINK.search(link_mail.body).group(1)]))
        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
            summary = archive.read("summary.html").decode()
        self.assertIn('lang="fr"', summary)

    def test_a_failure_after_the_file_is_written_leaves_no_file(self):
        routed = self.approved()
        with mock.patch.object(rights, "letter", side_effect=RuntimeError("mail template broken")), \
                self.assertLogs("compliance.fulfilment", "ERROR"):
            routed = self.fulfil(routed)
        self.assertEqual(routed.status, S.ERROR)
        with self.in_alpha():
            self.assertFalse(ExportFile.objects.exists())
        self.assertEqual(default_storage.listdir(f"exports/{self.alpha.pk}")[1], [])

    def test_a_wrong_link_is_404_for_anyone(self):
        self.exported()
        for user in (None, self.charlie, self.alice):
            if user:
                self.login(user)
            for method in (self.client.get, self.client.post):
                response = method(reverse("privacy-download", args=["x" * 43]))
                self.assertContains(response, "not valid", status_code=404)

    def test_an_expired_link_is_410_and_its_file_is_deleted(self):
        routed, token, _mail = self.exported()
        with self.in_alpha():
            ExportFile.objects.filter(routed=routed).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
            path = ExportFile.objects.get(routed=routed).path
        url = reverse("privacy-download", args=[token])
        self.assertContains(self.client.get(url), "expired", status_code=410)
        with self.captureOnCommitCallbacks(execute=True):
            self.assertContains(self.client.post(url), "expired", status_code=410)
        self.assertFalse(default_storage.exists(path))
        with self.in_alpha():
            export = ExportFile.objects.get(routed=routed)
        self.assertIsNotNone(export.deleted_at)
        self.assertEqual(export.download_count, 0)

    def test_a_link_serves_five_downloads_then_410(self):
        routed, token, _mail = self.exported()
        url = reverse("privacy-download", args=[token])
        for _attempt in range(fulfilment.EXPORT_MAX_DOWNLOADS):
            with self.captureOnCommitCallbacks(execute=True):
                self.assertEqual(self.client.post(url).status_code, 200)
        self.assertContains(self.client.post(url), "5 times", status_code=410)
        self.assertContains(self.client.get(url), "5 times", status_code=410)
        with self.in_alpha():
            export = ExportFile.objects.get(routed=routed)
        self.assertFalse(default_storage.exists(export.path))
        self.assertEqual(export.download_count, fulfilment.EXPORT_MAX_DOWNLOADS)

    def test_expired_files_are_purged(self):
        routed, _token, _mail = self.exported()
        with self.in_alpha():
            export = ExportFile.objects.get(routed=routed)
        with self.captureOnCommitCallbacks(execute=True):
            self.assertEqual(exports_purge.delay().get(), 0)
            with time_machine.travel(export.expires_at, tick=False):  # the daily purge, a week later
                self.assertEqual(fulfilment.exports_purge(now=export.expires_at), 1)
        self.assertFalse(default_storage.exists(export.path))

    def test_the_controller_sees_the_link_status_not_the_link(self):
        routed, token, _mail = self.exported()
        self.login(self.alice)
        page = self.client.get(self.detail_url(routed))
        self.assertContains(page, "Download links sent to the requester")
        self.assertContains(page, "0 / 5")
        self.assertNotContains(page, token)


class ErasureTests(FulfilmentTestCase):
    def test_erasure_logs_each_store(self):
        routed = self.fulfil(self.approved("erasure"))
        self.assertEqual(routed.status, S.COMPLETED)
        with self.in_alpha():
            logged = dict(ErasureLog.objects.filter(routed=routed).values_list("store", "count"))
        self.assertEqual(logged["fake.rows"], 1)  # every store of every handler has its line, even at 0
        self.assertEqual(self.handler.rows, [])
        self.login(self.alice)
        page = self.client.get(self.detail_url(routed))
        self.assertContains(page, "Erasure, per data store")
        self.assertContains(page, "fake.rows")

    def test_a_failing_handler_undoes_everything_and_puts_the_copy_in_error(self):
        routed = self.approved("erasure")
        self.handler.fail = True
        mail.outbox.clear()
        with self.assertLogs("compliance.fulfilment", "ERROR"):
            routed = self.fulfil(routed)
        self.assertEqual(routed.status, S.ERROR)
        self.assertTrue(mails_to("privacy@callkom.io"))
        self.assertFalse(any("carried out" in m.subject for m in mails_to(EMAIL)))
        with self.in_alpha():
            self.assertFalse(ErasureLog.objects.exists())
        self.handler.fail = False
        self.assertEqual(self.fulfil(routed).status, S.COMPLETED)  # retried once the cause is fixed

    def test_a_legal_hold_blocks_erasure_until_released(self):
        routed = self.approved("erasure")
        with self.in_alpha():
            hold = LegalHold.objects.create(tenant=self.alpha, reason="litigation", phone_index=phone_index(PHONE))
        with self.assertRaisesMessage(ValidationError, "legal hold"):
            self.fulfil(routed)
        with self.in_alpha():
            self.assertEqual(RoutedRequest.objects.get(pk=routed.pk).status, S.APPROVED)
        self.login(self.alice)
        self.assertContains(self.client.post(self.fulfil_url(routed)), "legal hold", status_code=400)
        self.client.force_login(self.staff_user())
        response = self.client.post(reverse("admin:compliance_legalhold_changelist"),
                                    {"action": "release", "_selected_action": [hold.pk]})
        self.assertEqual(response.status_code, 302)
        with self.in_alpha():
            self.assertIsNotNone(LegalHold.objects.get(pk=hold.pk).released_by)
        self.assertEqual(self.fulfil(routed).status, S.COMPLETED)


class RefusalTests(FulfilmentTestCase):
    def test_only_an_approved_copy_can_be_carried_out(self):
        routed = self.copies(self.verified(kind="erasure"))["alpha"]
        with self.assertRaisesMessage(ValidationError, "approved"):
            self.fulfil(routed)
        self.login(self.alice)
        self.assertContains(self.client.post(self.fulfil_url(routed)), "Only an approved", status_code=400)
        with self.in_alpha():
            self.assertEqual(RoutedRequest.objects.get(pk=routed.pk).status, S.AWAITING_CONTROLLER)
        self.assertTrue(self.handler.rows)

    def test_another_tenants_copy_is_404_and_untouched(self):
        routed = self.approved("erasure")
        self.login(self.charlie)
        for url in (self.fulfil_url(routed), self.fulfil_url(routed, "beta")):
            self.assertEqual(self.client.post(url).status_code, 404)
        with self.in_beta(), self.assertRaises(RoutedRequest.DoesNotExist):
            fulfilment.request_fulfil(routed=routed, actor=self.charlie)
        self.login(self.bob)  # a viewer of Alpha
        self.assertEqual(self.client.post(self.fulfil_url(routed)).status_code, 403)
        with self.in_alpha():
            self.assertEqual(RoutedRequest.objects.get(pk=routed.pk).status, S.APPROVED)
        self.assertEqual(len(self.handler.rows), 1)

    def test_the_button_appears_once_approved(self):
        self.login(self.alice)
        routed = self.copies(self.verified(kind="objection"))["alpha"]
        self.assertNotContains(self.client.get(self.detail_url(routed)), "Carry out the request")
        with self.captureOnCommitCallbacks(execute=True):
            self.client.post(reverse("privacy-request-decide", args=["alpha", routed.pk]), {"decision": "approve"})
        page = self.client.get(self.detail_url(routed))
        self.assertContains(page, "Carry out the request")
        self.assertContains(page, "did not prove")  # found by the unverified phone number
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(self.fulfil_url(routed), follow=True)
        self.assertContains(response, "Done; the requester has been told.")
        self.assertNotContains(response, "Carry out the request")
        self.assertIn("fake.rows: 1", self.events(routed, EventKind.FULFILMENT)[0])


class RectificationTests(FulfilmentTestCase):
    def test_the_form_needs_a_valid_correction(self):
        routed = self.approved("rectification")
        self.login(self.alice)
        url = self.fulfil_url(routed)
        self.assertContains(self.client.post(url, {}), "at least one correction", status_code=400)
        self.assertContains(self.client.post(url, {"phone": "12"}), "errorlist", status_code=400)
        self.assertContains(self.client.post(url, {"email": "nope"}), "errorlist", status_code=400)
        with self.assertRaises(ValidationError):
            self.fulfil(routed, changes={"notes": "x"})
        with self.in_alpha():
            self.assertEqual(RoutedRequest.objects.get(pk=routed.pk).status, S.APPROVED)

    def test_corrections_are_audited_without_personal_values_in_the_audit_log(self):
        routed = self.approved("rectification")
        self.login(self.alice)
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(self.fulfil_url(routed), {"name": "Jean Dupont", "phone": "06 11 11 11 11"})
        self.assertEqual(response.status_code, 302)
        [note] = self.events(routed, EventKind.FULFILMENT)
        self.assertIn("Corrected fields: name, phone.", note)
        self.assertIn("+33611111111", note)
        everything = " ".join(str(entry.changes) for entry in LogEntry.objects.all())
        self.assertNotIn("Dupont", everything)
        self.assertNotIn("611111111", everything)


class RestrictionAndObjectionTests(FulfilmentTestCase):
    def test_a_restriction_places_a_hold_on_the_person(self):
        routed = self.fulfil(self.approved("restriction"))
        self.assertEqual(routed.status, S.COMPLETED)
        with self.in_alpha():
            hold = LegalHold.objects.get(routed=routed)
            self.assertTrue(is_held(self.alpha, phone_index=phone_index(PHONE)))
            self.assertTrue(is_held(self.alpha, email_index=email_index(EMAIL)))
            self.assertFalse(is_held(self.alpha, phone_index=phone_index("+33698765432")))
            self.assertFalse(is_held(self.alpha))
        with self.in_beta():
            self.assertFalse(is_held(self.beta, phone_index=phone_index(PHONE)))
        self.assertEqual(hold.reason, LegalHold.Reason.RESTRICTION)
        self.assertEqual(hold.created_by, self.alice)
        self.login(self.alice)
        self.assertContains(self.client.get(self.detail_url(routed)), "Legal holds")

    def test_staff_place_a_hold_by_number_and_only_its_index_is_kept(self):
        self.client.force_login(self.staff_user())
        response = self.client.post(reverse("admin:compliance_legalhold_add"), {
            "tenant": self.beta.pk, "reason": "incident", "phone": "06 12 34 56 78", "email": "", "note": "Case 12"})
        self.assertEqual(response.status_code, 302)
        with self.in_beta():
            hold = LegalHold.objects.get()
            self.assertTrue(is_held(self.beta, phone_index=phone_index(PHONE)))
        self.assertEqual((hold.phone_index, hold.email_index), (phone_index(PHONE), ""))
        self.assertNotIn(hold.phone_index, " ".join(str(e.changes) for e in LogEntry.objects.get_for_object(hold)))
        for url in (reverse("admin:compliance_legalhold_add"),
                    reverse("admin:compliance_legalhold_change", args=[hold.pk])):
            self.assertEqual(self.client.get(url).status_code, 200)
        self.assertContains(self.client.post(reverse("admin:compliance_legalhold_add"), {
            "tenant": self.beta.pk, "reason": "incident"}), "Give the phone number")


class StaffTests(FulfilmentTestCase):
    def test_staff_carry_out_an_approved_copy_and_see_its_logs(self):
        routed = self.approved("erasure")
        self.client.force_login(self.staff_user())
        change = reverse("admin:compliance_routedrequest_change", args=[routed.pk])
        url = reverse("admin:compliance_routedrequest_fulfil", args=[routed.pk])
        self.assertContains(self.client.get(change), url)
        with self.captureOnCommitCallbacks(execute=True):
            self.assertEqual(self.client.post(url, {}).status_code, 200)  # the confirmation is required
            self.assertRedirects(self.client.post(url, {"confirm": "on"}), change)
        self.assertContains(self.client.get(change), "fake.rows")
        for name in ("erasurelog", "exportfile", "legalhold"):
            self.assertEqual(self.client.get(reverse(f"admin:compliance_{name}_changelist")).status_code, 200)
        self.assertEqual(self.client.get(reverse("admin:compliance_erasurelog_add")).status_code, 403)

    def test_staff_see_a_failure_on_the_form(self):
        routed = self.approved("erasure")
        self.handler.fail = True
        self.client.force_login(self.staff_user())
        with self.assertLogs("compliance.fulfilment", "ERROR"):
            response = self.client.post(reverse("admin:compliance_routedrequest_fulfil", args=[routed.pk]),
                                        {"confirm": "on"})
        self.assertContains(response, "failed")


class OutlineTests(RightsTestCase):
    def test_nested_data_becomes_labelled_rows(self):
        rows = fulfilment.outline({"created_at": "today", "lists": ["a", "b"], "calls": [{"text": "hi"}],
                                   "empty": {}, "": None})
        self.assertEqual([(row["depth"], row["label"], row["text"]) for row in rows], [
            (0, "Created at", "today"), (0, "Lists", "a, b"), (0, "Calls", ""), (1, "1.", ""), (2, "Text", "hi"),
            (0, "Empty", "—"), (0, "—", "—"),
        ])
