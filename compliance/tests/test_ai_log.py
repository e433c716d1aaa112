import datetime
import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from compliance.models import AIInvocation
from compliance.selectors import ai_log_chain_verify
from compliance.services import ai_invocation_append
from tenants.testing import TwoTenantTestCase

pytestmark = pytest.mark.clock  # the rows are timestamped now, in several zones, and the chain hashes the times


def append(tenant, **overrides):
    fields = dict(tenant=tenant, provider="mistral", role="llm", model="mistral-small", region="eu",
                  started_at=timezone.now(), duration_ms=120, outcome="ok", request_sha256="a" * 64,
                  request_bytes=100, response_sha256="b" * 64, response_bytes=20, minimised_fields=["email"],
                  no_training=True, payload="exact request")
    fields.update(overrides)
    return ai_invocation_append(**fields)


class AILogChainTests(TwoTenantTestCase):
    def test_rows_chain_per_tenant(self):
        with self.in_alpha():
            first = append(self.alpha)
            second = append(self.alpha)
        with self.in_beta():
            other = append(self.beta)
        self.assertEqual(first.prev_hash, "0" * 64)
        self.assertEqual(second.prev_hash, first.row_hash)
        self.assertEqual(other.prev_hash, "0" * 64)
        with self.in_alpha():
            self.assertTrue(ai_log_chain_verify(self.alpha).ok)

    def test_an_edited_row_breaks_the_chain_at_that_row(self):
        with self.in_alpha():
            rows = [append(self.alpha) for _ in range(4)]
            AIInvocation.objects.filter(pk=rows[2].pk).update(provider="somewhere-else")
            report = ai_log_chain_verify(self.alpha)
        self.assertFalse(report.ok)
        self.assertEqual(report.broken_at, rows[2].pk)
        self.assertIn("content changed", report.reason)

    def test_a_removed_row_breaks_the_link(self):
        with self.in_alpha():
            rows = [append(self.alpha) for _ in range(3)]
            AIInvocation.objects.filter(pk=rows[1].pk).delete()
            report = ai_log_chain_verify(self.alpha)
        self.assertEqual(report.broken_at, rows[2].pk)

    def test_removing_the_last_rows_is_detected(self):
        with self.in_alpha():
            rows = [append(self.alpha) for _ in range(3)]
            AIInvocation.objects.filter(pk=rows[2].pk).delete()
            self.assertFalse(ai_log_chain_verify(self.alpha).ok)

    def test_deleting_a_payload_keeps_the_chain(self):
        with self.in_alpha():
            row = append(self.alpha)
            AIInvocation.objects.filter(pk=row.pk).update(payload="")
            self.assertTrue(ai_log_chain_verify(self.alpha).ok)

    def test_payload_is_encrypted_at_rest(self):
        with self.in_alpha():
            row = append(self.alpha, payload="Jean Martin veut un rendez-vous")
        with connection.cursor() as cursor:
            cursor.execute("SELECT payload FROM compliance_aiinvocation WHERE id = %s", [row.pk])
            self.assertNotIn("Jean", cursor.fetchone()[0])

    def test_times_in_other_zones_hash_the_same(self):
        paris = datetime.timezone(datetime.timedelta(hours=1))
        with self.in_alpha():
            append(self.alpha, started_at=timezone.now().astimezone(paris))
            self.assertTrue(ai_log_chain_verify(self.alpha).ok)

    def test_command_reports_the_first_broken_link(self):
        with self.in_alpha():
            rows = [append(self.alpha) for _ in range(3)]
            AIInvocation.objects.filter(pk=rows[1].pk).update(duration_ms=1)
        with self.in_beta():
            append(self.beta)
        out = io.StringIO()
        with pytest.raises(CommandError):
            call_command("verify_ai_log_chain", stdout=out)
        self.assertIn(f"alpha: chain BROKEN at row {rows[1].pk}", out.getvalue())
        self.assertIn("beta: 1 rows, chain intact", out.getvalue())
        out = io.StringIO()
        call_command("verify_ai_log_chain", "--tenant", "beta", stdout=out)
        self.assertIn("intact", out.getvalue())
