"""The API's shared behaviour: problem details, scopes, throttling with headers, Idempotency-Key, schema and docs."""

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.urls import include, path
from rest_framework import serializers, viewsets
from rest_framework.response import Response

from tenants.api_support import PROBLEM_JSON, idempotent
from tenants.models import IdempotencyRecord
from tenants.scope import tenant_scope
from tenants.services import api_key_create
from tenants.testing import TwoTenantTestCase

RUNS = []


class EchoSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=10)
    count = serializers.IntegerField(min_value=0)


class EchoViewSet(viewsets.ViewSet):
    required_scopes = {"list": ["calls:read"], "create": ["calls:write"]}

    def list(self, request):
        return Response({"tenant": request.auth.tenant.slug})

    @idempotent
    def create(self, request):
        serializer = EchoSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        RUNS.append(serializer.validated_data["name"])
        return Response({"run": len(RUNS), **serializer.validated_data}, status=201)


echo_list = EchoViewSet.as_view({"get": "list", "post": "create"})
urlpatterns = [path("api/v1/echo/", echo_list), path("", include("callkom.urls"))]
handler404 = "callkom.views.page_not_found"


@override_settings(ROOT_URLCONF=__name__, API_RATE_LIMIT="1000/min")
class ApiSupportTests(TwoTenantTestCase):
    def setUp(self):
        super().setUp()
        cache.clear()
        RUNS.clear()
        self.read_key = api_key_create(tenant=self.alpha, name="read", scopes=["calls:read"])[1]
        self.write_key = api_key_create(tenant=self.alpha, name="write", scopes=["calls:read", "calls:write"])[1]
        self.beta_key = api_key_create(tenant=self.beta, name="beta", scopes=["calls:write"])[1]

    def call(self, method, key, data=None, **headers):
        if key:
            headers["HTTP_AUTHORIZATION"] = f"Api-Key {key}"
        return getattr(self.client, method)("/api/v1/echo/", data, content_type="application/json", **headers)

    def assert_problem(self, response, status, problem_type):
        self.assertEqual(response.status_code, status, response.content)
        self.assertEqual(response["Content-Type"], PROBLEM_JSON)
        body = response.json()
        self.assertEqual(body["status"], status)
        self.assertTrue(body["type"].endswith(f"/api/problems/{problem_type}/"), body["type"])
        self.assertTrue(body["title"] and body["detail"])
        self.assertEqual(body["instance"], "/api/v1/echo/")
        return body

    def test_no_key_a_bad_key_and_a_wrong_scheme_are_401_problems(self):
        self.assert_problem(self.call("get", None), 401, "unauthenticated")
        body = self.assert_problem(self.call("get", "ck_nope_nope"), 401, "unauthenticated")
        self.assertIn("Invalid API key", body["detail"])
        self.assert_problem(self.client.get("/api/v1/echo/", HTTP_AUTHORIZATION="Bearer x"), 401, "unauthenticated")

    def test_a_missing_scope_is_a_403_naming_it(self):
        self.assertEqual(self.call("get", self.read_key).status_code, 200)
        body = self.assert_problem(self.call("post", self.read_key, {"name": "a", "count": 1}), 403, "missing-scope")
        self.assertEqual(body["missing_scopes"], ["calls:write"])
        self.assertEqual(RUNS, [])

    def test_invalid_input_lists_each_field(self):
        body = self.assert_problem(self.call("post", self.write_key, {"name": "x" * 11}), 400, "validation-error")
        fields = {item["field"]: item for item in body["errors"]}
        self.assertEqual(set(fields), {"name", "count"})
        self.assertEqual(fields["count"]["code"], "required")
        response = self.client.post("/api/v1/echo/", "{not json", content_type="application/json",
                                    HTTP_AUTHORIZATION=f"Api-Key {self.write_key}")
        self.assert_problem(response, 400, "malformed-request")

    def test_unknown_api_paths_and_methods_are_problems(self):
        response = self.client.get("/api/v1/nothing-here/")
        self.assertEqual((response.status_code, response["Content-Type"]), (404, PROBLEM_JSON))
        self.assertEqual(response.json()["instance"], "/api/v1/nothing-here/")
        self.assert_problem(self.call("delete", self.write_key), 405, "method-not-allowed")

    @pytest.mark.clock  # the budget is per minute
    @override_settings(API_RATE_LIMIT="3/min")
    def test_each_key_has_its_budget_and_every_answer_says_what_is_left(self):
        remaining = []
        for _ in range(3):
            response = self.call("get", self.read_key)
            self.assertEqual(response.status_code, 200)
            self.assertEqual(response["RateLimit-Limit"], "3")
            remaining.append(response["RateLimit-Remaining"])
        self.assertEqual(remaining, ["2", "1", "0"])
        refused = self.call("get", self.read_key)
        body = self.assert_problem(refused, 429, "rate-limited")
        self.assertGreater(int(refused["Retry-After"]), 0)
        self.assertEqual((refused["RateLimit-Remaining"], body["retry_after"] > 0), ("0", True))
        self.assertLessEqual(int(refused["RateLimit-Reset"]), 60)
        self.assertEqual(self.call("get", self.write_key).status_code, 200)  # another key: its own budget

    @pytest.mark.clock  # an answer is replayed for 24 hours
    def test_a_retry_with_the_same_idempotency_key_replays_the_first_answer(self):
        first = self.call("post", self.write_key, {"name": "a", "count": 1}, HTTP_IDEMPOTENCY_KEY="k-1")
        again = self.call("post", self.write_key, {"count": 1, "name": "a"}, HTTP_IDEMPOTENCY_KEY="k-1")
        self.assertEqual((first.status_code, again.status_code), (201, 201))
        self.assertEqual(first.json(), again.json())
        self.assertEqual(again["Idempotent-Replayed"], "true")
        self.assertEqual(RUNS, ["a"])
        other = self.call("post", self.write_key, {"name": "b", "count": 1}, HTTP_IDEMPOTENCY_KEY="k-2")
        self.assertEqual((other.json()["run"], RUNS), (2, ["a", "b"]))

    @pytest.mark.clock  # a key is remembered for 24 hours
    def test_the_same_key_with_another_body_is_refused_and_keys_are_per_tenant(self):
        self.call("post", self.write_key, {"name": "a", "count": 1}, HTTP_IDEMPOTENCY_KEY="k")
        self.assert_problem(self.call("post", self.write_key, {"name": "a", "count": 2}, HTTP_IDEMPOTENCY_KEY="k"),
                            422, "idempotency-key-reused")
        beta = self.call("post", self.beta_key, {"name": "z", "count": 1}, HTTP_IDEMPOTENCY_KEY="k")
        self.assertEqual((beta.status_code, RUNS), (201, ["a", "z"]))

    @pytest.mark.clock  # a key is remembered for 24 hours
    def test_a_request_still_running_is_a_conflict_and_a_refused_one_can_be_retried(self):
        with tenant_scope(self.alpha):
            IdempotencyRecord.objects.create(tenant=self.alpha, key="busy", fingerprint="0" * 64, method="POST",
                                             path="/api/v1/echo/")
        busy = self.call("post", self.write_key, {"name": "a", "count": 1}, HTTP_IDEMPOTENCY_KEY="busy")
        self.assertEqual(busy.status_code, 422)  # another fingerprint
        bad = self.call("post", self.write_key, {"name": "a"}, HTTP_IDEMPOTENCY_KEY="retry")
        self.assertEqual(bad.status_code, 400)
        fixed = self.call("post", self.write_key, {"name": "a", "count": 3}, HTTP_IDEMPOTENCY_KEY="retry")
        self.assertEqual((fixed.status_code, RUNS), (201, ["a"]))  # a refusal is not remembered: fix and retry
        self.assertEqual(self.call("post", self.write_key, {"name": "a", "count": 3},
                                   HTTP_IDEMPOTENCY_KEY="retry")["Idempotent-Replayed"], "true")
        self.assert_problem(self.call("post", self.write_key, {"name": "a", "count": 1},
                                      HTTP_IDEMPOTENCY_KEY="x" * 256), 400, "validation-error")


class SchemaTests(TwoTenantTestCase):
    def test_the_schema_documents_the_key_the_scopes_and_the_error_shapes(self):
        response = self.client.get("/api/schema/?format=json")
        self.assertEqual(response.status_code, 200)
        schema = response.json()
        self.assertEqual(schema["openapi"][:2], "3.")
        self.assertEqual(schema["components"]["securitySchemes"]["ApiKey"]["in"], "header")
        self.assertIn("Problem", schema["components"]["schemas"])
        me = schema["paths"]["/api/v1/me/"]["get"]
        self.assertIn("application/problem+json", me["responses"]["401"]["content"])

    def test_the_docs_page_is_served_without_any_cdn(self):
        response = self.client.get("/api/docs/")
        self.assertEqual(response.status_code, 200)
        self.assertNotIn(b"cdn.jsdelivr", response.content)
        self.assertIn(b"/api/schema/", response.content)


class ProblemTypeTests(TwoTenantTestCase):
    def test_every_problem_type_links_to_its_documentation(self):
        from tenants.api_support import PROBLEM_TYPES

        body = self.client.get("/api/v1/me/").json()
        self.assertTrue(body["type"].endswith("/api/problems/unauthenticated/"))
        page = self.client.get("/api/problems/unauthenticated/")
        self.assertContains(page, "Api-Key &lt;key&gt;")
        for slug in PROBLEM_TYPES:
            self.assertContains(page, f'id="{slug}"')
        self.assertEqual(self.client.get("/api/problems/no-such-thing/").status_code, 404)


class CursorTests(TwoTenantTestCase):
    def test_a_cursor_that_cannot_be_read_is_a_400_naming_it(self):
        from tenants.services import api_key_create

        key = api_key_create(tenant=self.alpha, name="k", scopes=["audit:read"])[1]
        response = self.client.get("/api/v1/ai-invocations/", {"cursor": "not-a-cursor"},
                                   HTTP_AUTHORIZATION=f"Api-Key {key}")
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json()["errors"][0]["field"], "cursor")


@pytest.mark.clock  # records are purged 24 hours after they were made
class IdempotencyPurgeTests(TwoTenantTestCase):
    def test_answers_past_their_24_hours_are_forgotten_and_the_rest_kept(self):
        import datetime

        from django.utils import timezone

        from tenants.tasks import idempotency_purge

        now = timezone.now()
        for tenant, key, age in ((self.alpha, "old", 25), (self.beta, "old", 30), (self.alpha, "fresh", 23)):
            with tenant_scope(tenant):
                IdempotencyRecord.objects.create(tenant=tenant, key=key, fingerprint="0" * 64, method="POST",
                                                 path="/api/v1/calls/", created_at=now - datetime.timedelta(hours=age))
        self.assertEqual(idempotency_purge.delay().get(), 2)
        with tenant_scope(self.alpha):
            self.assertEqual(list(IdempotencyRecord.objects.values_list("key", flat=True)), ["fresh"])
        with tenant_scope(self.beta):
            self.assertFalse(IdempotencyRecord.objects.exists())


class IdempotencyAdminTests(TwoTenantTestCase):
    def test_staff_see_the_record_but_not_the_stored_answer(self):
        from tenants.services import user_create

        staff = user_create(email="ops@callkom.example", password="x-very-long-password", is_staff=True)
        staff.is_superuser = True
        staff.save()
        with tenant_scope(self.alpha):
            record = IdempotencyRecord.objects.create(tenant=self.alpha, key="k-1", fingerprint="0" * 64,
                                                      method="POST", path="/api/v1/calls/", status_code=201,
                                                      response_body={"contact": {"name": "Jean Secret"}})
        self.client.force_login(staff)
        page = self.client.get(f"/admin/tenants/idempotencyrecord/{record.pk}/change/")
        self.assertContains(page, "k-1")
        self.assertNotContains(page, "Jean Secret")
        self.assertEqual(self.client.get("/admin/tenants/idempotencyrecord/add/").status_code, 403)
