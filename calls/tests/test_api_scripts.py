"""Partner API: scripts (read with calls:read; write with scripts:write)."""

from auditlog.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext

from calls import services
from calls.models import Script
from tenants.models import ApiScope
from tenants.testing import ApiTestCase

PATH = "/api/v1/scripts/"
SCRIPT = {
    "name": "Kitchen appointment", "language": "en",
    "greeting": "Hello, I am a virtual assistant, an artificial intelligence. I call about your kitchen.",
    "goal": "Offer a showroom appointment.",
    "steps": [{"slot": "name", "question": "May I have your name?"},
              {"slot": "appointment", "question": "When are you available?"}],
}


class ScriptApiTests(ApiTestCase):
    def setUp(self):
        super().setUp()
        self.read = self.key(self.alpha, "calls:read")
        self.write = self.key(self.alpha, "calls:read", "scripts:write")

    def demo(self, tenant=None):
        tenant = tenant or self.alpha
        with (self.in_alpha() if tenant == self.alpha else self.in_beta()):
            return services.demo_scripts_ensure(tenant=tenant)

    def lacking(self, *scopes):
        return self.key(self.alpha, *[scope for scope in ApiScope.values if scope not in scopes])

    def fields(self, response) -> set:
        return {error["field"] for error in self.assert_problem(response, 400)["errors"]}

    def test_create_with_defaults_then_read_it(self):
        response = self.api("POST", PATH, self.write, {**SCRIPT, "transfer_after_misunderstandings": 2,
                                                       "steps": [{**SCRIPT["steps"][0], "extra": "dropped"}]})
        self.assertEqual(response.status_code, 201, response.content)
        body = response.json()
        self.assertEqual({key: body[key] for key in ("voice", "instructions", "closing", "allowed_tools", "steps",
                                                     "max_duration_s", "silence_timeout_s", "transfer_on_request",
                                                     "transfer_after_misunderstandings")},
                         {"voice": "", "instructions": "", "closing": "", "allowed_tools": ["transfer", "end_call"],
                          "steps": [{"slot": "name", "question": "May I have your name?"}], "max_duration_s": 600,
                          "silence_timeout_s": 8, "transfer_on_request": True, "transfer_after_misunderstandings": 2})
        self.assertEqual(self.api("GET", f"{PATH}{body['id']}/", self.read).json(), body)
        with self.in_alpha():
            script = Script.objects.get()
            self.assertEqual((script.tenant_id, script.transfer_after_misunderstandings), (self.alpha.pk, 2))
            self.assertTrue(LogEntry.objects.get_for_object(script).exists())  # audited

    def test_the_services_rules_are_400s_naming_the_field(self):
        self.demo()
        cases = [
            ({"greeting": "Hello, this is Ann from Demo Cuisines."}, "greeting"),
            ({"name": "Kitchen appointment"}, "name"),
            ({"steps": [{"slot": "shoe_size", "question": "Which?"}]}, "steps.0.slot"),
            ({"steps": [{"slot": "name", "question": ""}]}, "steps.0.question"),
            ({"steps": "name"}, "steps"),
            ({"allowed_tools": ["launch_missiles"]}, "allowed_tools.0"),
            ({"max_duration_s": 10}, "max_duration_s"),
            ({"silence_timeout_s": 61}, "silence_timeout_s"),
            ({"language": "de"}, "language"),
            ({"transfer_after_misunderstandings": -1}, "transfer_after_misunderstandings"),
        ]
        for change, field in cases:
            data = {**SCRIPT, "name": "Other", **change}
            self.assertEqual(self.fields(self.api("POST", PATH, self.write, data)), {field}, change)
        self.assertEqual(self.fields(self.api("POST", PATH, self.write, {})), {"name", "greeting", "goal"})
        with self.in_alpha():
            self.assertEqual(Script.objects.count(), 2)

    def test_patch_and_put_revalidate_the_whole_script(self):
        script = self.demo()[1]
        path = f"{PATH}{script.pk}/"
        body = self.api("PATCH", path, self.write, {"max_duration_s": 900, "allowed_tools": ["end_call"]}).json()
        self.assertEqual((body["max_duration_s"], body["allowed_tools"], body["name"]),
                         (900, ["end_call"], "Kitchen appointment"))
        self.assertEqual(self.fields(self.api("PATCH", path, self.write, {"greeting": "Hi, Ann here."})),
                         {"greeting"})
        self.assertEqual(self.fields(self.api("PATCH", path, self.write, {"name": "Prise de rendez-vous cuisine"})),
                         {"name"})
        self.assertEqual(self.api("PATCH", path, self.write, {"name": "Kitchen appointment"}).status_code, 200)
        self.assertEqual(self.fields(self.api("PATCH", path, self.write, {"steps": [{"question": "Name?"}]})),
                         {"steps.0.slot"})
        body = self.api("PUT", path, self.write, SCRIPT).json()
        self.assertEqual((body["max_duration_s"], body["allowed_tools"], body["closing"], len(body["steps"])),
                         (600, ["transfer", "end_call"], "", 2))
        self.assertEqual(self.fields(self.api("PUT", path, self.write, {"name": "Only a name"})), {"greeting", "goal"})
        with self.in_alpha():
            script.refresh_from_db()
            self.assertEqual((script.max_duration_s, script.closing), (600, ""))

    def test_no_delete(self):
        script = self.demo()[0]
        self.assert_problem(self.api("DELETE", f"{PATH}{script.pk}/", self.write), 405)

    def test_the_list_is_by_name_and_pages_in_a_constant_number_of_queries(self):
        with self.in_alpha():
            for index in range(12):
                services.script_create(tenant=self.alpha, **{**SCRIPT, "name": f"Script {index:02d}"})
        self.demo(self.beta)
        self.api("GET", PATH, self.read)  # the key's first use records its time
        counts = []
        for size in (2, 12):
            with CaptureQueriesContext(connection) as queries:
                response = self.api("GET", PATH, self.read, {"page_size": size})
            self.assertEqual(len(response.json()["results"]), size)
            counts.append(len(queries))
        self.assertEqual(counts[0], counts[1])
        first = self.api("GET", PATH, self.read, {"page_size": 5}).json()
        second = self.client.get(first["next"], HTTP_AUTHORIZATION=f"Api-Key {self.read}").json()
        self.assertEqual([item["name"] for item in first["results"] + second["results"]],
                         [f"Script {index:02d}" for index in range(10)])

    def test_isolation_and_scopes_of_every_endpoint(self):
        script = self.demo()[0]
        path = f"{PATH}{script.pk}/"
        self.assert_isolated("GET", path, ["calls:read"])
        self.assert_isolated("PATCH", path, ["scripts:write"], {"max_duration_s": 900})
        self.assert_isolated("PUT", path, ["scripts:write"], {**SCRIPT, "name": "Replaced"})
        for method, data, scopes in (("GET", None, ["calls:read"]), ("POST", SCRIPT, ["scripts:write"])):
            body = self.assert_problem(self.api(method, PATH, self.lacking(*scopes), data), 403)
            self.assertEqual(body["missing_scopes"], scopes)
        self.assertEqual(self.api("GET", PATH, self.key(self.beta, "calls:read")).json()["results"], [])
        with self.in_alpha():
            script.refresh_from_db()
            self.assertEqual((script.max_duration_s, script.name), (600, "Prise de rendez-vous cuisine"))
            self.assertEqual(Script.objects.count(), 2)
