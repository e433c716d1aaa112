import datetime

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from compliance import rights
from compliance.models import RequestStatus, VerificationCode

from .rights_helpers import EMAIL, RightsTestCase, last_code

pytestmark = pytest.mark.clock  # a code expires ten minutes after it is sent; codes are limited per hour


class VerificationCodeTests(RightsTestCase):
    def test_submission_sends_a_six_digit_code_stored_only_as_a_hash(self):
        request, code = self.submit()
        self.assertEqual(request.status, RequestStatus.IDENTITY_UNVERIFIED)
        self.assertRegex(code, r"^\d{6}$")
        self.assertEqual(mail.outbox[-1].to, [EMAIL])
        stored = VerificationCode.objects.get(request=request)
        self.assertNotIn(code, stored.code_hash)
        self.assertEqual(stored.expires_at - stored.created_at, datetime.timedelta(minutes=10))
        with connection.cursor() as cursor:
            cursor.execute("SELECT requester_email, requester_name FROM compliance_rightsrequest")
            self.assertNotIn("jean", " ".join(cursor.fetchone()).lower())

    def test_right_code_verifies(self):
        request, code = self.submit()
        verified = rights.code_verify(request=request, code=code)
        self.assertEqual(verified.status, RequestStatus.VERIFIED)
        self.assertIsNotNone(verified.verified_at)

    def test_three_wrong_codes_kill_the_code_and_a_new_one_is_needed(self):
        request, code = self.submit()
        wrong = f"{(int(code) + 1) % 10**6:06d}"
        messages = []
        for _attempt in range(3):
            with self.assertRaises(ValidationError) as caught:
                rights.code_verify(request=request, code=wrong)
            messages.append(caught.exception.code)
        self.assertEqual(messages, ["wrong_code", "wrong_code", "code_dead"])
        with self.assertRaises(ValidationError) as caught:
            rights.code_verify(request=request, code=code)  # the right code, too late
        self.assertEqual(caught.exception.code, "no_code")
        self.assertIn("new code", caught.exception.messages[0])
        request.refresh_from_db()
        self.assertEqual(request.status, RequestStatus.IDENTITY_UNVERIFIED)
        with self.captureOnCommitCallbacks(execute=True):
            rights.code_send(request=request)
        self.assertEqual(rights.code_verify(request=request, code=last_code()).status, RequestStatus.VERIFIED)

    def test_wrong_attempts_are_counted_even_though_an_error_is_raised(self):
        request, code = self.submit()
        with self.assertRaises(ValidationError) as caught:
            rights.code_verify(request=request, code="000000" if code != "000000" else "111111")
        self.assertIn("2 attempts left", caught.exception.messages[0])
        self.assertEqual(VerificationCode.objects.get(request=request).attempts, 1)

    def test_expired_code_is_refused_and_a_new_code_works(self):
        request, code = self.submit()
        past = timezone.now() - datetime.timedelta(seconds=1)
        VerificationCode.objects.filter(request=request).update(expires_at=past)
        with self.assertRaises(ValidationError) as caught:
            rights.code_verify(request=request, code=code)
        self.assertEqual(caught.exception.code, "expired")
        with self.captureOnCommitCallbacks(execute=True):
            rights.code_send(request=request)
        self.assertEqual(rights.code_verify(request=request, code=last_code()).status, RequestStatus.VERIFIED)

    def test_a_new_code_replaces_the_previous_one(self):
        request, first = self.submit()
        with self.captureOnCommitCallbacks(execute=True):
            rights.code_send(request=request)
        second = last_code()
        if first != second:
            with self.assertRaises(ValidationError):
                rights.code_verify(request=request, code=first)
        self.assertEqual(rights.code_verify(request=request, code=second).status, RequestStatus.VERIFIED)

    def test_codes_per_hour_are_limited(self):
        request, _code = self.submit()
        for _i in range(rights.CODES_PER_HOUR - 1):
            rights.code_send(request=request)
        with self.assertRaises(ValidationError) as caught:
            rights.code_send(request=request)
        self.assertEqual(caught.exception.code, "too_many_codes")

    def test_verifying_again_is_harmless_and_a_verified_request_needs_no_code(self):
        request, code = self.submit()
        rights.code_verify(request=request, code=code)
        self.assertEqual(rights.code_verify(request=request, code="123456").status, RequestStatus.VERIFIED)
        with self.assertRaises(ValidationError):
            rights.code_send(request=request)

    def test_the_code_is_never_in_the_timeline(self):
        request, code = self.submit()
        notes = " ".join(request.events.values_list("note", flat=True))
        self.assertNotIn(code, notes)
