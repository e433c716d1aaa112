"""The AI request log through the API: every logged field but the payload, filters, newest first, isolation."""

import datetime
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from compliance.models import AIInvocation
from compliance.services import ai_invocation_append
from tenants.api_support import problem_type_url
from tenants.scope import tenant_scope
from tenants.testing import ApiTestCase

T0 = datetime.datetime(2025, 3, 4, 9, 0, tzinfo=datetime.UTC)
CALL = uuid.UUID("6f1c1c52-4c8e-4a57-9d53-2d0d3b0f5a10")

pytestmark = pytest.mark.clock  # the log is filtered by dates; the key's use is counted per minute


def append(tenant, **fields):
    values = {"provider": "mistral", "role": "llm", "model": "mistral-small-latest", "region": "eu",
              "started_at": T0, "duration_ms": 600, "outcome": "ok", "request_sha256": "a" * 64,
              "request_bytes": 2000, "response_sha256": "b" * 64, "response_bytes": 300, "call_id": CALL, **fields}
    with tenant_scope(tenant):
        return ai_invocation_append(tenant=tenant, **values)


class AIInvocationApiTests(ApiTestCase):
    def setUp(self):
        super().setUp()
        self.audit = self.key(self.alpha, "audit:read")

    def listed(self, **params):
        response = self.api("GET", "/api/v1/ai-invocations/", self.audit, params)
        self.assertEqual(response.status_code, 200, response.content)
        return response.json()

    def test_a_row_gives_every_logged_field_but_the_payload(self):
        row = append(self.alpha, prompt_tokens=702, completion_tokens=64, minimised_fields=["notes", "email"],
                     redactions=1, no_training=True, register_version="2025-02-17",
                     payload='{"messages": "Jeanne Martin, 4111..."}')
        response = self.api("GET", f"/api/v1/ai-invocations/{row.pk}/", self.audit)
        self.assertEqual(response.status_code, 200, response.content)
        body = response.json()
        self.assertEqual(body, {
            "id": row.pk, "call_id": str(CALL), "provider": "mistral", "role": "llm",
            "model": "mistral-small-latest", "region": "eu", "started_at": body["started_at"], "duration_ms": 600,
            "outcome": "ok", "error_class": "", "request": {"bytes": 2000, "sha256": "a" * 64},
            "response": {"bytes": 300, "sha256": "b" * 64}, "tokens": {"prompt": 702, "completion": 64},
            "minimised_fields": ["email", "notes"], "redactions": 1, "no_training": True,
            "register_version": "2025-02-17", "prev_hash": row.prev_hash, "row_hash": row.row_hash,
        })
        self.assertEqual(datetime.datetime.fromisoformat(body["started_at"]), T0)
        self.assertNotIn("Jeanne", response.content.decode())
        self.assertEqual(self.listed()["results"], [body])

    def test_newest_first_by_id_one_page_at_a_time(self):
        rows = [append(self.alpha, started_at=T0 - datetime.timedelta(minutes=index)) for index in range(5)]
        seen, url = [], "/api/v1/ai-invocations/?page_size=2"
        while url:
            body = self.api("GET", url, self.audit).json()
            seen += [row["id"] for row in body["results"]]
            url = body["next"]
        self.assertEqual(seen, sorted((row.pk for row in rows), reverse=True))

    def test_filters(self):
        other_call = uuid.uuid4()
        llm = append(self.alpha)
        tts = append(self.alpha, provider="elevenlabs", role="tts", call_id=other_call,
                     started_at=T0 + datetime.timedelta(hours=1))
        failed = append(self.alpha, outcome="timeout", error_class="TimeoutError", call_id=None,
                        started_at=T0 + datetime.timedelta(hours=2))
        append(self.beta)

        def ids(**params):
            return {row["id"] for row in self.listed(**params)["results"]}

        self.assertEqual(ids(), {llm.pk, tts.pk, failed.pk})
        self.assertEqual(ids(call=str(CALL)), {llm.pk})
        self.assertEqual(ids(call=str(other_call)), {tts.pk})
        self.assertEqual(ids(provider="elevenlabs"), {tts.pk})
        self.assertEqual(ids(role="llm"), {llm.pk, failed.pk})
        self.assertEqual(ids(outcome="timeout"), {failed.pk})
        self.assertEqual(ids(started_after="2025-03-04T10:00:00+00:00"), {tts.pk, failed.pk})
        self.assertEqual(ids(started_before="2025-03-04T10:00:00+00:00"), {llm.pk})
        self.assertEqual(ids(role="tts", outcome="ok", provider="mistral"), set())

    def test_bad_filters_are_400_problems_naming_the_parameter(self):
        for params, field in [({"call": "12"}, "call"), ({"role": "oracle"}, "role"), ({"outcome": "meh"}, "outcome"),
                              ({"started_after": "soon"}, "started_after"),
                              ({"started_before": "9999-12-31T23:59:59-12:00"}, "started_before"),
                              ({"provider": "p" * 61}, "provider"), ({"cursor": "nope"}, "cursor")]:
            body = self.assert_problem(self.api("GET", "/api/v1/ai-invocations/", self.audit, params), 400)
            self.assertEqual(body["type"], problem_type_url("validation-error"))
            self.assertIn(field, [error["field"] for error in body["errors"]], params)

    def test_isolation(self):
        row = append(self.alpha)
        self.assert_isolated("GET", f"/api/v1/ai-invocations/{row.pk}/", ["audit:read"])
        beta = self.key(self.beta, "audit:read")
        self.assertEqual(self.api("GET", "/api/v1/ai-invocations/", beta).json()["results"], [])
        body = self.assert_problem(self.api("GET", "/api/v1/ai-invocations/", self.key(self.alpha, "calls:read")),
                                   403)
        self.assertEqual(body["missing_scopes"], ["audit:read"])
        self.assert_problem(self.api("GET", "/api/v1/ai-invocations/abc/", self.audit), 404)
        self.assert_problem(self.api("GET", f"/api/v1/ai-invocations/{row.pk + 1000}/", self.audit), 404)

    def test_a_page_costs_the_same_queries_whatever_its_size(self):
        self.listed()  # the key's first use of the minute records it

        def count():
            with CaptureQueriesContext(connection) as queries:
                rows = self.listed(provider="mistral")["results"]
            return len(rows), len(queries)

        for _ in range(2):
            append(self.alpha)
        rows_2, queries_2 = count()
        for _ in range(10):
            append(self.alpha)
        rows_12, queries_12 = count()
        self.assertEqual((rows_2, rows_12), (2, 12))
        self.assertEqual(queries_2, queries_12)

    def test_the_log_module_does_not_import_calls(self):
        import ast
        from pathlib import Path

        import compliance.api_audit as module

        tree = ast.parse(Path(module.__file__).read_text())
        imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
        imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
        self.assertFalse([name for name in imported if name == "calls" or name.startswith("calls.")])
        with tenant_scope(self.alpha):
            self.assertEqual(AIInvocation.objects.count(), 0)
