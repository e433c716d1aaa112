"""The public AI policy: /ai-policy/ in English and French, the list of versions, archived versions, drafts 404."""

import pytest
from django.test import TestCase
from django.urls import reverse

from compliance import policies

pytestmark = pytest.mark.clock  # the pages show the day each version was published


def french(client):
    client.cookies["django_language"] = "fr"
    return client


class AiPolicyPageTests(TestCase):
    def test_the_policy_in_force_in_english(self):
        response = self.client.get("/ai-policy/")
        self.assertEqual(response.status_code, 200)
        self.assertTemplateUsed(response, "base.html")
        self.assertContains(response, "<h1>CALLKOM AI Policy</h1>", html=True)
        self.assertContains(response, "Version 1, published on")
        self.assertContains(response, "First published version.")
        self.assertContains(response, reverse("ai-policy-versions"))
        self.assertContains(response, "<h3>Call Initiation</h3>", html=True)
        self.assertContains(response, "CALLKOM does not reuse call data for prospecting")
        self.assertNotContains(response, "Politique")

    def test_the_policy_in_french(self):
        response = french(self.client).get("/ai-policy/")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "<h1>Politique IA de CALLKOM</h1>", html=True)
        self.assertContains(response, "Première version publiée.")
        self.assertContains(response, "<h3>Déclenchement de l’appel</h3>", html=True)
        self.assertContains(response, "sous-traitants ultérieurs")
        self.assertNotContains(response, "CALLKOM does not reuse call data")

    def test_the_text_is_escaped(self):
        draft = policies.ai_policy_draft_create(title="AI <b>Policy</b>", body="<script>alert(1)</script> & more.")
        policies.ai_policy_publish(version=draft, actor=None)
        response = self.client.get("/ai-policy/")
        self.assertNotContains(response, "<script>alert(1)</script>")
        self.assertContains(response, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more.")
        self.assertNotContains(response, "<b>Policy</b>")

    def test_a_new_version_replaces_the_page_and_the_old_one_is_archived(self):
        draft = policies.ai_policy_draft_create(title="AI Policy", body="Version two text.",
                                                changes="A new purpose: call quality scoring.",
                                                substantial="new_purpose")
        policies.ai_policy_publish(version=draft, actor=None)
        page = self.client.get("/ai-policy/")
        self.assertContains(page, "Version two text.")
        self.assertContains(page, "A new purpose: call quality scoring.")
        self.assertContains(page, "New purpose")
        self.assertNotContains(page, 'id="archived"')
        archived = self.client.get(reverse("ai-policy-version", args=[1]))
        self.assertEqual(archived.status_code, 200)
        self.assertContains(archived, 'id="archived"')
        self.assertContains(archived, "The policy in force is version 2.")
        self.assertContains(archived, "Call Initiation")
        self.assertNotContains(self.client.get(reverse("ai-policy-version", args=[2])), 'id="archived"')

    def test_versions_are_listed_newest_first(self):
        policies.ai_policy_publish(version=policies.ai_policy_draft_create(title="AI Policy", body="Two."),
                                   actor=None)
        response = self.client.get("/ai-policy/versions/")
        self.assertEqual(response.status_code, 200)
        content = response.content.decode()
        two, one = (content.index(reverse("ai-policy-version", args=[n])) for n in (2, 1))
        self.assertLess(two, one)

    def test_drafts_and_unknown_versions_are_404(self):
        draft = policies.ai_policy_draft_create(title="AI Policy", body="Not yet public.")
        self.assertEqual(self.client.get(reverse("ai-policy-version", args=[draft.number])).status_code, 404)
        self.assertEqual(self.client.get(reverse("ai-policy-version", args=[42])).status_code, 404)
        self.assertNotContains(self.client.get("/ai-policy/"), "Not yet public.")
        self.assertNotContains(self.client.get("/ai-policy/versions/"),
                               reverse("ai-policy-version", args=[draft.number]))
