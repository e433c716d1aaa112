"""/api/v1/subprocessors/: public (no key), the /subprocessors.json document, throttled per address, documented
without any security requirement."""

import datetime

import pytest
from django.core.cache import cache
from django.test import TestCase, override_settings
from django.urls import include, path
from django.utils import timezone

from subprocessors import api, register
from subprocessors.models import ChangeNotice, Subprocessor
from subprocessors.services import subprocessor_seed_defaults
from subprocessors.tests.test_public import validate
from tenants.api_support import PROBLEM_JSON
from tenants.schema import ApiSchemaGenerator
from tenants.services import api_key_create, tenant_create, user_create

URL = "/api/v1/subprocessors/"


class SubprocessorApiTests(TestCase):
    def setUp(self):
        cache.clear()
        self.addCleanup(cache.clear)

    def test_before_any_publication_the_document_is_empty(self):
        response = self.client.get(URL)
        self.assertEqual(response.status_code, 200, response.content)
        body = response.json()
        validate(body)
        self.assertEqual((body["version"], body["subprocessors"], body["announced_changes"]), (None, [], []))

    @pytest.mark.clock  # the change announced takes effect 30 days from today
    def test_the_published_list_with_announced_changes_as_in_subprocessors_json(self):
        subprocessor_seed_defaults()
        version = register.current_version()
        ChangeNotice.objects.create(
            kind=ChangeNotice.Kind.CHANGE, subprocessor=Subprocessor.objects.get(slug="mistral"),
            summary="Moves to a new data centre.", status=ChangeNotice.Status.ANNOUNCED, announced_at=timezone.now(),
            effective_date=timezone.localdate() + datetime.timedelta(days=30))
        response = self.client.get(URL)
        self.assertEqual(response.status_code, 200, response.content)
        body = response.json()
        validate(body)
        self.assertEqual((body["version"], body["digest"]), (version.number, version.digest))
        self.assertEqual(body["subprocessors"], version.snapshot)
        self.assertEqual([notice["subprocessor"] for notice in body["announced_changes"]], ["mistral"])
        self.assertEqual(body, self.client.get("/subprocessors.json").json())

    def test_no_key_is_needed_and_a_key_changes_nothing(self):
        owner = user_create(email="owner@alpha.example", password="x" * 12)
        tenant = tenant_create(name="Alpha", slug="alpha", legal_name="Alpha SAS", owner=owner)
        key = api_key_create(tenant=tenant, name="k", scopes=["calls:read"])[1]
        anonymous = self.client.get(URL)
        with_key = self.client.get(URL, HTTP_AUTHORIZATION=f"Api-Key {key}")
        with_bad_key = self.client.get(URL, HTTP_AUTHORIZATION="Api-Key ck_nope_nope")
        self.assertEqual([anonymous.status_code, with_key.status_code, with_bad_key.status_code], [200, 200, 200])
        self.assertEqual(anonymous.json(), with_key.json())

    def test_only_get(self):
        response = self.client.post(URL, {}, content_type="application/json")
        self.assertEqual((response.status_code, response["Content-Type"]), (405, PROBLEM_JSON))

    @pytest.mark.clock  # the budget is per minute
    @override_settings(API_RATE_LIMIT="2/min")
    def test_throttled_per_address_with_the_rate_limit_headers(self):
        answers = [self.client.get(URL, REMOTE_ADDR="198.51.100.7") for _ in range(3)]
        self.assertEqual([answer.status_code for answer in answers], [200, 200, 429])
        self.assertEqual([answer["RateLimit-Remaining"] for answer in answers], ["1", "0", "0"])
        self.assertEqual(answers[2]["Content-Type"], PROBLEM_JSON)
        self.assertGreater(int(answers[2]["Retry-After"]), 0)
        self.assertEqual(self.client.get(URL, REMOTE_ADDR="198.51.100.8").status_code, 200)  # another address

    def test_the_schema_documents_it_without_security_or_auth_errors(self):
        generator = ApiSchemaGenerator(patterns=[path("api/v1/", include(api.urlpatterns))])
        schema = generator.get_schema(request=None, public=True)
        operation = schema["paths"][URL]["get"]
        self.assertNotIn("security", operation)
        self.assertNotIn("security", schema)
        self.assertEqual(set(operation["responses"]), {"200", "429"})
        document = operation["responses"]["200"]["content"]["application/json"]["schema"]
        self.assertEqual(document, {"$ref": "#/components/schemas/SubprocessorRegister"})
        properties = schema["components"]["schemas"]["SubprocessorRegister"]["properties"]
        self.assertEqual(list(properties), ["schema_version", "version", "published_at", "digest", "previous_version",
                                            "changes", "subprocessors", "announced_changes", "links"])
