"""The public register: the page, /subprocessors.json and its schema, the archive of versions, the Atom feed."""

import datetime
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.test import TestCase
from django.utils import timezone

from subprocessors import register
from subprocessors.feeds import MAX_ENTRIES
from subprocessors.models import ChangeNotice, DataCategory, RegisterVersion, Subprocessor
from subprocessors.services import subprocessor_seed_defaults

SCHEMA = json.loads((Path(register.__file__).parent / "schema" / "subprocessors-v1.schema.json").read_text())
ATOM = "{http://www.w3.org/2005/Atom}"
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
BASE = settings.CALLKOM_PUBLIC_URL

# The contract of /subprocessors.json, written out literally: changing it is a new schema version.
TOP_LEVEL_KEYS = ["schema_version", "version", "published_at", "digest", "previous_version", "changes",
                  "subprocessors", "announced_changes", "links"]
ENTRY_KEYS = ["slug", "name", "role", "legal_entity", "services", "services_fr", "purpose", "purpose_fr",
              "data_categories", "processing_region", "country", "processing_locations", "transfer_mechanism",
              "supplementary_measures", "supplementary_measures_fr", "no_training_offered", "no_training_enabled",
              "zero_retention_offered", "zero_retention_enabled", "dpa_url", "certifications", "contact",
              "effective_from", "in_eu"]
NOTICE_KEYS = ["id", "kind", "subprocessor", "name", "replaces", "summary", "summary_fr", "effective_date",
               "announced_at"]
LINK_KEYS = ["html", "feed", "archive"]


def validate(document: dict) -> None:
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER).validate(
        document)


def without_csrf(content: bytes) -> bytes:
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", content)


@pytest.mark.clock  # announced changes take effect some days from today; the feed is ordered by time
class PublicRegisterTestCase(TestCase):
    def setUp(self):
        cache.clear()
        self.addCleanup(cache.clear)

    def seed(self) -> RegisterVersion:
        subprocessor_seed_defaults()
        return register.current_version()

    def announce(self, subprocessor, *, kind=ChangeNotice.Kind.CHANGE, days=30, replaces=None, **fields):
        values = {"summary": "Moves to a new data centre.", "summary_fr": "Déménage dans un nouveau centre.",
                  "status": ChangeNotice.Status.ANNOUNCED, "announced_at": timezone.now()}
        values.update(fields)
        return ChangeNotice.objects.create(kind=kind, subprocessor=subprocessor, replaces=replaces,
                                           effective_date=timezone.localdate() + datetime.timedelta(days=days),
                                           **values)


class RegisterPageTests(PublicRegisterTestCase):
    def test_without_any_published_version_the_page_and_the_json_still_answer(self):
        response = self.client.get("/subprocessors/")
        self.assertContains(response, "No version of the list has been published yet")
        self.assertContains(response, "No subprocessor is listed in this version.")
        document = self.client.get("/subprocessors.json").json()
        validate(document)
        self.assertEqual((document["version"], document["subprocessors"]), (None, []))
        self.assertContains(self.client.get("/subprocessors/versions/"), "No version of the list has been published")
        self.assertEqual(self.client.get("/subprocessors/feed/").status_code, 200)

    def test_the_list_is_grouped_by_role_in_pipeline_order_with_every_public_fact(self):
        version = self.seed()
        response = self.client.get("/subprocessors/")
        content = response.content.decode()
        headings = re.findall(r'<h2 id="role-(\w+)">', content)
        self.assertEqual(headings, ["stt", "llm", "tts", "hosting", "queue", "telephony"])
        positions = [content.index(f">{label}</h2>") for label in
                     ("Speech-to-text", "Language model", "Text-to-speech", "Hosting", "Message queue", "Telephony")]
        self.assertEqual(positions, sorted(positions))
        self.assertContains(response, f"Version {version.number}")
        for text in ("Google Cloud Speech-to-Text", "Google Cloud EMEA Ltd", "Belgium (europe-west1)",
                     "Standard Contractual Clauses", "ISO/IEC 27017", "Call audio",
                     "https://cloud.google.com/terms/data-processing-addendum", 'href="mailto:privacy@mistral.ai"',
                     "Turn what the caller says into text", "offered, switched on", "not offered"):
            self.assertContains(response, text)
        # LiveKit is processed in the EU although the company is American; nothing listed is outside the EU.
        self.assertNotContains(response, "outside the EU</span>")
        for link in ('href="/subprocessors.json"', 'href="/subprocessors/feed/"', 'href="/subprocessors/versions/"',
                     '<link rel="alternate" type="application/atom+xml"',
                     'action="/subprocessors/subscribe/"', 'name="email"', 'class="hp" aria-hidden="true"'):
            self.assertContains(response, link)

    def test_a_provider_outside_the_eu_is_marked(self):
        Subprocessor.objects.create(slug="acme", name="Acme Speech", role="stt", legal_entity="Acme Inc.",
                                    processing_region="us", country="US", transfer_mechanism="scc",
                                    status=Subprocessor.Status.ACTIVE)
        register.register_publish(note="Acme")
        response = self.client.get("/subprocessors/")
        self.assertContains(response, "outside the EU</span>", count=1)
        self.assertContains(response, "United States")

    def test_french_texts_are_shown_in_french_and_fall_back_to_english_when_missing(self):
        self.seed()
        Subprocessor.objects.filter(slug="ovhcloud").update(purpose_fr="")
        register.register_publish(note="no French purpose for OVHcloud")
        french = self.client.get("/subprocessors/", HTTP_ACCEPT_LANGUAGE="fr")
        self.assertContains(french, 'lang="fr"')
        self.assertContains(french, "Transformer ce que dit l’appelant en texte")
        self.assertNotContains(french, "Turn what the caller says into text")
        self.assertContains(french, "Host the portal, the call pipeline and all stored data.")
        english = self.client.get("/subprocessors/", HTTP_ACCEPT_LANGUAGE="en")
        self.assertContains(english, "Turn what the caller says into text")
        self.assertNotContains(english, "Transformer ce que dit")

    def test_announced_changes_are_public_drafts_and_withdrawn_ones_are_not(self):
        self.seed()
        mistral = Subprocessor.objects.get(slug="mistral")
        announced = self.announce(mistral, summary="Mistral adds a region in Germany.")
        self.announce(mistral, summary="A draft nobody may see.", status=ChangeNotice.Status.DRAFT, announced_at=None)
        self.announce(mistral, summary="A withdrawn change.", status=ChangeNotice.Status.WITHDRAWN)
        response = self.client.get("/subprocessors/")
        self.assertContains(response, f'id="notice-{announced.pk}"')
        self.assertContains(response, "Mistral adds a region in Germany.")
        self.assertNotContains(response, "A draft nobody may see.")
        self.assertNotContains(response, "A withdrawn change.")
        self.assertContains(self.client.get("/subprocessors/", HTTP_ACCEPT_LANGUAGE="fr"),
                            "Déménage dans un nouveau centre.")

    def test_no_announced_change_says_so(self):
        self.seed()
        self.assertContains(self.client.get("/subprocessors/"), "No change is announced at the moment.")

    def test_a_snapshot_with_an_unknown_role_or_missing_fields_still_renders(self):
        RegisterVersion(number=1, snapshot=[{"slug": "old", "name": "Old Fax Gateway", "role": "fax"}],
                        diff={"added": [{"slug": "old", "name": "Old Fax Gateway"}], "removed": [], "changed": []},
                        digest="0" * 64).save()
        for url in ("/subprocessors/", "/subprocessors/versions/1/"):
            response = self.client.get(url)
            self.assertContains(response, "Old Fax Gateway")
            self.assertContains(response, '<h2 id="role-fax">fax</h2>')
        self.assertContains(self.client.get("/subprocessors/versions/"), "Version 1")


class RegisterJsonTests(PublicRegisterTestCase):
    def test_the_live_document_validates_and_its_keys_are_pinned(self):
        version = self.seed()
        mistral = Subprocessor.objects.get(slug="mistral")
        self.announce(mistral, kind=ChangeNotice.Kind.REPLACEMENT, replaces=Subprocessor.objects.get(slug="livekit"))
        response = self.client.get("/subprocessors.json")
        self.assertEqual(response["Content-Type"], "application/json; charset=utf-8")
        document = response.json()
        validate(document)
        self.assertEqual(list(document), TOP_LEVEL_KEYS)
        self.assertEqual(list(document["links"]), LINK_KEYS)
        self.assertEqual(len(document["subprocessors"]), 9)
        for entry in document["subprocessors"]:
            self.assertEqual(list(entry), ENTRY_KEYS)
        self.assertEqual(ENTRY_KEYS, [*register.PUBLIC_FIELDS, "in_eu"])
        self.assertEqual(list(document["announced_changes"][0]), NOTICE_KEYS)
        self.assertEqual(document["announced_changes"][0]["subprocessor"], "mistral")
        self.assertEqual(document["announced_changes"][0]["replaces"], "livekit")
        self.assertEqual(document["announced_changes"][0]["summary_fr"], "Déménage dans un nouveau centre.")
        self.assertEqual((document["schema_version"], document["version"], document["digest"]),
                         (1, version.number, version.digest))
        self.assertEqual(document["digest"], register.digest(document["subprocessors"]))
        self.assertEqual(document["previous_version"], None)
        self.assertEqual(document["links"], {"html": f"{BASE}/subprocessors/", "feed": f"{BASE}/subprocessors/feed/",
                                             "archive": f"{BASE}/subprocessors/versions/"})
        self.assertEqual(datetime.datetime.fromisoformat(document["published_at"]), version.published_at)

    def test_the_document_is_language_neutral(self):
        self.seed()
        english = self.client.get("/subprocessors.json", HTTP_ACCEPT_LANGUAGE="en").content
        french = self.client.get("/subprocessors.json", HTTP_ACCEPT_LANGUAGE="fr").content
        self.assertEqual(english, french)

    def test_the_schema_rejects_a_renamed_dropped_or_added_field(self):
        self.seed()
        document = self.client.get("/subprocessors.json").json()
        broken = []
        renamed = json.loads(json.dumps(document))
        renamed["subprocessors"][0]["dpa"] = renamed["subprocessors"][0].pop("dpa_url")
        broken.append(renamed)
        dropped = json.loads(json.dumps(document))
        del dropped["subprocessors"][0]["in_eu"]
        broken.append(dropped)
        added = json.loads(json.dumps(document))
        added["generated_by"] = "someone"
        broken.append(added)
        wrong_type = json.loads(json.dumps(document))
        wrong_type["subprocessors"][0]["no_training_enabled"] = "yes"
        broken.append(wrong_type)
        for case in broken:
            with self.assertRaises(jsonschema.ValidationError):
                validate(case)

    def test_the_schema_enums_follow_the_model_choices(self):
        entry = SCHEMA["$defs"]["subprocessor"]["properties"]
        self.assertEqual(set(entry["role"]["enum"]), set(Subprocessor.Role.values))
        self.assertEqual(set(entry["transfer_mechanism"]["enum"]), set(Subprocessor.Transfer.values))
        self.assertEqual(set(entry["data_categories"]["items"]["enum"]), set(DataCategory.values))
        notice = SCHEMA["$defs"]["announced_change"]["properties"]
        self.assertEqual(set(notice["kind"]["enum"]), set(ChangeNotice.Kind.values))
        self.assertEqual(SCHEMA["properties"]["schema_version"]["const"], register.SCHEMA_VERSION)

    def test_caching_headers_cors_and_a_conditional_get(self):
        self.seed()
        response = self.client.get("/subprocessors.json")
        self.assertIn("public", response["Cache-Control"])
        self.assertIn("max-age=300", response["Cache-Control"])
        self.assertEqual(response["Access-Control-Allow-Origin"], "*")
        etag = response["ETag"]
        self.assertRegex(etag, r'^"[^"]+"$')
        again = self.client.get("/subprocessors.json", HTTP_IF_NONE_MATCH=etag)
        self.assertEqual(again.status_code, 304)
        self.assertEqual(again["Access-Control-Allow-Origin"], "*")
        self.assertEqual(again.content, b"")
        # A newly announced change is a new representation: the old ETag no longer matches.
        self.announce(Subprocessor.objects.get(slug="mistral"))
        changed = self.client.get("/subprocessors.json", HTTP_IF_NONE_MATCH=etag)
        self.assertEqual(changed.status_code, 200)
        self.assertNotEqual(changed["ETag"], etag)

    def test_an_archived_version_has_the_same_shape_without_announced_changes(self):
        self.seed()
        self.announce(Subprocessor.objects.get(slug="mistral"))
        Subprocessor.objects.filter(slug="mistral").update(processing_locations=["France"])
        second = register.register_publish(note="Mistral in France only")
        response = self.client.get("/subprocessors/versions/1.json")
        self.assertEqual(response["Access-Control-Allow-Origin"], "*")
        document = response.json()
        validate(document)
        self.assertEqual(list(document), TOP_LEVEL_KEYS)
        self.assertEqual((document["version"], document["announced_changes"]), (1, []))
        self.assertEqual(document["links"]["html"], f"{BASE}/subprocessors/versions/1/")
        latest = self.client.get(f"/subprocessors/versions/{second.number}.json").json()
        validate(latest)
        self.assertEqual(latest["previous_version"], 1)
        self.assertEqual(latest["changes"]["changed"],
                         [{"slug": "mistral", "name": "Mistral AI",
                           "fields": {"processing_locations": [["France", "Sweden"], ["France"]]}}])
        self.assertEqual(self.client.get("/subprocessors/versions/99.json").status_code, 404)
        self.assertEqual(self.client.get("/subprocessors/versions/99/").status_code, 404)


class ArchiveTests(PublicRegisterTestCase):
    def test_an_archived_version_never_changes_after_later_edits(self):
        self.seed()
        page_before = without_csrf(self.client.get("/subprocessors/versions/1/").content)
        json_before = self.client.get("/subprocessors/versions/1.json").content
        mistral = Subprocessor.objects.get(slug="mistral")
        mistral.name = "Mistral AI (renamed)"
        mistral.processing_locations = ["France"]
        mistral.save()
        Subprocessor.objects.filter(slug="livekit").update(status=Subprocessor.Status.RETIRED)
        second = register.register_publish(note="Renamed")
        self.assertEqual(second.number, 2)
        self.assertEqual(self.client.get("/subprocessors/versions/1.json").content, json_before)
        self.assertEqual(without_csrf(self.client.get("/subprocessors/versions/1/").content), page_before)
        self.assertContains(self.client.get("/subprocessors/"), "Mistral AI (renamed)")
        self.assertNotContains(self.client.get("/subprocessors/versions/1/"), "Mistral AI (renamed)")

    def test_a_published_version_refuses_to_be_saved_or_deleted(self):
        version = self.seed()
        version.note = "rewritten"
        with self.assertRaises(ValidationError):
            version.save()
        with self.assertRaises(ValidationError):
            version.delete()
        self.assertEqual(RegisterVersion.objects.get(pk=version.pk).note, "Default register")

    def test_the_archive_lists_every_version_with_its_counts_and_a_version_page_shows_its_diff(self):
        self.seed()
        Subprocessor.objects.filter(slug="mistral").update(processing_locations=["France"])
        Subprocessor.objects.filter(slug="livekit").update(status=Subprocessor.Status.RETIRED)
        register.register_publish(note="Second version")
        archive = self.client.get("/subprocessors/versions/")
        content = archive.content.decode()
        self.assertIn('href="/subprocessors/versions/1/"', content)
        self.assertIn('href="/subprocessors/versions/2/"', content)
        self.assertLess(content.index("Version 2"), content.index("Version 1"))
        rows = re.findall(r"<tr>\s*<th scope=\"row\">.*?</tr>", content, re.S)
        cells = [re.findall(r"<td>(.*?)</td>", row, re.S)[1:] for row in rows]
        self.assertEqual(cells, [["Second version", "0", "1", "1"], ["Default register", "9", "0", "0"]])
        page = self.client.get("/subprocessors/versions/2/")
        self.assertContains(page, "Subprocessor list, version 2")
        self.assertContains(page, "<del>France, Sweden</del>", html=False)
        self.assertContains(page, "<ins>France</ins>", html=False)
        self.assertContains(page, "Processing locations")
        self.assertContains(page, "LiveKit Cloud")  # removed, in the diff
        self.assertNotContains(page, 'id="sp-livekit"')  # and no longer in the list


class FeedTests(PublicRegisterTestCase):
    def feed(self):
        response = self.client.get("/subprocessors/feed/")
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response["Content-Type"].startswith("application/atom+xml"))
        return ET.fromstring(response.content)

    def test_the_feed_is_valid_atom_with_versions_and_notices_newest_first(self):
        self.seed()
        mistral = Subprocessor.objects.get(slug="mistral")
        notice = self.announce(mistral, summary="Mistral adds a region in Germany.", days=31,
                               announced_at=timezone.now() + datetime.timedelta(seconds=1))
        Subprocessor.objects.filter(slug="mistral").update(processing_locations=["France"])
        version = register.register_publish(note="Second")
        RegisterVersion.objects.filter(pk=version.pk).update(published_at=timezone.now()
                                                             + datetime.timedelta(seconds=2))
        root = self.feed()
        self.assertEqual(root.tag, f"{ATOM}feed")
        for name in ("id", "title", "updated"):
            self.assertTrue(root.findtext(f"{ATOM}{name}"), name)
        self.assertRegex(root.findtext(f"{ATOM}updated"), RFC3339)
        self_links = [link.get("href") for link in root.findall(f"{ATOM}link") if link.get("rel") == "self"]
        self.assertEqual(self_links, [f"{BASE}/subprocessors/feed/"])
        self.assertTrue(root.findtext(f"{ATOM}author/{ATOM}name"))
        entries = root.findall(f"{ATOM}entry")
        self.assertEqual(len(entries), 3)
        ids = []
        updated = []
        for entry in entries:
            ids.append(entry.findtext(f"{ATOM}id"))
            self.assertTrue(entry.findtext(f"{ATOM}title"))
            self.assertRegex(entry.findtext(f"{ATOM}updated"), RFC3339)
            updated.append(datetime.datetime.fromisoformat(entry.findtext(f"{ATOM}updated")))
            self.assertTrue(entry.find(f"{ATOM}link").get("href").startswith(BASE))
            self.assertTrue(ids[-1].startswith(("tag:", BASE)))
        self.assertEqual(len(ids), len(set(ids)))
        self.assertEqual(updated, sorted(updated, reverse=True))
        titles = [entry.findtext(f"{ATOM}title") for entry in entries]
        self.assertEqual(titles, ["Subprocessor list version 2", "Change: Mistral AI", "Subprocessor list version 1"])
        self.assertEqual(entries[0].find(f"{ATOM}link").get("href"), f"{BASE}/subprocessors/versions/2/")
        self.assertIn("Changed: Mistral AI", entries[0].findtext(f"{ATOM}content"))
        self.assertIn("Added: Google Cloud Speech-to-Text", entries[2].findtext(f"{ATOM}content"))
        notice_content = entries[1].findtext(f"{ATOM}content")
        self.assertIn("Mistral adds a region in Germany.", notice_content)
        self.assertIn(notice.effective_date.isoformat(), notice_content)
        self.assertEqual(entries[1].find(f"{ATOM}link").get("href"), f"{BASE}/subprocessors/#notice-{notice.pk}")

    def test_drafts_are_not_in_the_feed_and_it_holds_at_most_fifty_entries(self):
        self.seed()
        self.announce(Subprocessor.objects.get(slug="mistral"), summary="Draft", status=ChangeNotice.Status.DRAFT,
                      announced_at=None)
        self.assertEqual(len(self.feed().findall(f"{ATOM}entry")), 1)
        start = timezone.now()
        for number in range(2, 62):
            RegisterVersion(number=number, snapshot=[], diff={"added": [], "removed": [], "changed": []},
                            digest=f"{number:064d}", published_at=start + datetime.timedelta(minutes=number)).save()
        entries = self.feed().findall(f"{ATOM}entry")
        self.assertEqual(len(entries), MAX_ENTRIES)
        self.assertEqual(entries[0].findtext(f"{ATOM}title"), "Subprocessor list version 61")
        self.assertEqual(entries[-1].findtext(f"{ATOM}title"), "Subprocessor list version 12")

    def test_an_applied_notice_links_to_the_version_it_published(self):
        self.seed()
        mistral = Subprocessor.objects.get(slug="mistral")
        notice = self.announce(mistral, days=0)
        Subprocessor.objects.filter(slug="mistral").update(processing_locations=["France"])
        version = register.register_publish(note="Applied", notice=notice)
        ChangeNotice.objects.filter(pk=notice.pk).update(status=ChangeNotice.Status.APPLIED,
                                                         applied_at=timezone.now())
        entries = self.feed().findall(f"{ATOM}entry")
        applied = [entry for entry in entries if "(in effect)" in entry.findtext(f"{ATOM}title")]
        self.assertEqual(len(applied), 1)
        self.assertEqual(applied[0].find(f"{ATOM}link").get("href"),
                         f"{BASE}/subprocessors/versions/{version.number}/")


def test_the_schema_is_served_and_is_the_one_the_tests_validate_against(client):
    response = client.get("/subprocessors/schema/v1.json")
    assert response.status_code == 200 and response["Content-Type"] == "application/schema+json"
    served = json.loads(response.content)
    assert served == json.loads((settings.BASE_DIR / "subprocessors/schema/subprocessors-v1.schema.json").read_text())
    assert served["properties"]["schema_version"]
