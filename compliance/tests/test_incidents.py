import datetime
import uuid
from unittest import mock

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from compliance import incidents
from compliance.incidents import TRANSITIONS, Triage
from compliance.models import Incident, IncidentCandidate, IncidentImpact
from compliance.services import incident_candidate_record
from tenants.models import StaffAccess
from tenants.roles import Role
from tenants.scope import all_tenants_scope, tenant_scope
from tenants.services import membership_add, user_create
from tenants.testing import PASSWORD, TwoTenantTestCase
from webhooks.models import WebhookDelivery
from webhooks.services import endpoint_create

S = Incident.Status
CALL_A1, CALL_A2, CALL_B = (str(uuid.uuid4()) for _i in range(3))
PERSONAL = ("Jean Martin", "+33612345678", "jean.martin@example.org")

pytestmark = pytest.mark.clock  # the 72-hour breach clock runs from now; detection may not be in the future


def paris_morning(days_ago: int) -> datetime.datetime:
    """10:00 in Paris ``days_ago`` days before today: a time the staff forms can read back on any day (a time
    taken from the clock can fall in the hour repeated when summer time ends, which a form cannot resolve)."""
    return timezone.make_aware(datetime.datetime.combine(timezone.localdate() - datetime.timedelta(days=days_ago),
                                                         datetime.time(10)))


class IncidentTestCase(TwoTenantTestCase):
    """Alpha and Beta as customers, CALLKOM staff, and dana, an administrator of Alpha (she reads the audit but does
    not handle privacy)."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.staff = user_create(email="staff@callkom.example", password=PASSWORD, is_staff=True)
        cls.staff.is_superuser = True
        cls.staff.save()
        cls.dana = user_create(email="dana@alpha.example", password=PASSWORD)
        membership_add(tenant=cls.alpha, user=cls.dana, role=Role.ADMIN)

    def open(self, **overrides) -> Incident:
        fields = {"title": "Agent insulted callers", "category": Incident.Category.OFFENSIVE_REPLY,
                  "severity": Incident.Severity.HIGH, "actor": self.staff,
                  "description": f"Caller {PERSONAL[0]} ({PERSONAL[1]}) was insulted."}
        return incidents.incident_open(**{**fields, **overrides})

    def candidate(self, tenant, call_id, reason="blocked_term") -> IncidentCandidate:
        with tenant_scope(tenant):
            return incident_candidate_record(tenant=tenant, reason=reason, call_id=call_id,
                                             excerpt=f"You idiot, {PERSONAL[0]}")

    def touched(self, **overrides) -> Incident:
        """An incident touching two of Alpha's calls and one of Beta's, nobody told yet."""
        incident = self.open(**overrides)
        incidents.impact_add(incident=incident, tenant=self.alpha, call_ids=[CALL_A1, CALL_A2],
                             notice=f"Your caller {PERSONAL[0]} heard an insult.")
        incidents.impact_add(incident=incident, tenant=self.beta, call_ids=[CALL_B])
        return incident

    def notify(self, incident) -> int:
        with self.captureOnCommitCallbacks(execute=True):
            return incidents.impacts_notify(incident=incident)

    def impact(self, incident, tenant) -> IncidentImpact:
        with tenant_scope(tenant):
            return IncidentImpact.objects.get(incident=incident)

    def refreshed(self, incident) -> Incident:
        return Incident.objects.get(pk=incident.pk)


class WorkflowTests(IncidentTestCase):
    def test_an_incident_opens_with_an_unguessable_reference(self):
        first, second = self.open(), self.open()
        self.assertRegex(first.reference, rf"^INC-{timezone.localdate().year}-[2-9A-Z]{{8}}$")
        self.assertNotEqual(first.reference, second.reference)
        self.assertEqual((first.status, first.created_by), (S.OPEN, self.staff))

    def test_opening_is_validated(self):
        with self.assertRaises(ValidationError) as raised:
            self.open(title=" ", detected_at=timezone.now() + datetime.timedelta(hours=1))
        self.assertIn("detected_at", raised.exception.message_dict)
        with self.assertRaises(ValidationError) as raised:
            self.open(title=" ")
        self.assertIn("title", raised.exception.message_dict)
        with self.assertRaises(ValidationError):
            self.open(category="nonsense")
        self.assertFalse(Incident.objects.exists())

    def test_the_whole_way_to_closed_and_back_from_resolved(self):
        incident = self.open()
        for target in (S.INVESTIGATING, S.CONTAINED, S.RESOLVED, S.INVESTIGATING, S.CONTAINED, S.RESOLVED):
            incident = incidents.incident_transition(incident=incident, to=target)
        incident = incidents.incident_transition(incident=incident, to=S.CLOSED,
                                                 corrective_actions="Blocked term list extended.",
                                                 closure_note="Provider regression; fixed by the filter.")
        incident = self.refreshed(incident)
        self.assertEqual(incident.status, S.CLOSED)
        self.assertIsNotNone(incident.closed_at)
        self.assertEqual(incident.corrective_actions, "Blocked term list extended.")
        self.assertEqual(incidents.allowed_transitions(incident), [])

    def test_illegal_transitions_are_refused(self):
        incident = self.open()
        for target in (S.CONTAINED, S.RESOLVED, S.CLOSED, S.OPEN, "nonsense"):
            with self.assertRaises(ValidationError) as raised:
                incidents.incident_transition(incident=incident, to=target)
            self.assertEqual(raised.exception.code, "illegal_transition")
        self.assertEqual(self.refreshed(incident).status, S.OPEN)
        self.assertEqual(TRANSITIONS[S.CLOSED], frozenset())
        self.assertEqual(incidents.allowed_transitions(incident), [S.INVESTIGATING])

    def test_closing_needs_corrective_actions_and_a_closure_note(self):
        incident = self.open()
        for target in (S.INVESTIGATING, S.CONTAINED, S.RESOLVED):
            incident = incidents.incident_transition(incident=incident, to=target)
        with self.assertRaises(ValidationError) as raised:
            incidents.incident_transition(incident=incident, to=S.CLOSED)
        self.assertEqual(set(raised.exception.message_dict), {"corrective_actions", "closure_note"})
        with self.assertRaises(ValidationError) as raised:
            incidents.incident_transition(incident=incident, to=S.CLOSED, corrective_actions="Fixed.")
        self.assertEqual(set(raised.exception.message_dict), {"closure_note"})
        incident = self.refreshed(incident)
        self.assertEqual((incident.status, incident.corrective_actions), (S.RESOLVED, ""))

    def test_a_closed_incident_no_longer_changes(self):
        incident = self.open()
        for target in (S.INVESTIGATING, S.CONTAINED, S.RESOLVED):
            incident = incidents.incident_transition(incident=incident, to=target)
        incidents.incident_transition(incident=incident, to=S.CLOSED, corrective_actions="x", closure_note="y")
        for attempt in (lambda: incidents.breach_declare(incident=incident),
                        lambda: incidents.impact_add(incident=incident, tenant=self.alpha, call_ids=[CALL_A1])):
            with self.assertRaises(ValidationError):
                attempt()

    def test_a_breach_cannot_close_before_every_customer_is_told(self):
        incident = self.touched()
        incidents.breach_declare(incident=incident)
        for target in (S.INVESTIGATING, S.CONTAINED, S.RESOLVED):
            incident = incidents.incident_transition(incident=incident, to=target)
        with self.assertRaises(ValidationError) as raised:
            incidents.incident_transition(incident=incident, to=S.CLOSED, corrective_actions="x", closure_note="y")
        self.assertIn("every customer", str(raised.exception))
        self.notify(incident)
        incidents.incident_transition(incident=incident, to=S.CLOSED, corrective_actions="x", closure_note="y")
        self.assertEqual(self.refreshed(incident).status, S.CLOSED)

    def test_changes_are_audited_without_the_encrypted_texts(self):
        from auditlog.models import LogEntry

        incident = self.open()
        incidents.incident_transition(incident=incident, to=S.INVESTIGATING)
        entries = LogEntry.objects.get_for_object(incident)
        self.assertEqual(entries.count(), 2)
        self.assertIn("status", entries.first().changes_dict)
        for entry in entries:
            self.assertNotIn("description", entry.changes_dict)
            self.assertNotIn(PERSONAL[0], str(entry.changes))


class TriageTests(IncidentTestCase):
    def test_escalation_into_a_new_incident_counts_each_tenant_with_its_calls(self):
        candidates = [self.candidate(self.alpha, CALL_A1), self.candidate(self.alpha, CALL_A2),
                      self.candidate(self.alpha, CALL_A1), self.candidate(self.beta, CALL_B, "other_call_content")]
        incident = incidents.candidate_triage(candidates=candidates, decision=Triage.ESCALATE, actor=self.staff,
                                              title="Insults", category="offensive_reply", severity="high")
        self.assertEqual(incident.detected_at, min(candidate.detected_at for candidate in candidates))
        self.assertEqual(sorted(self.impact(incident, self.alpha).call_ids), sorted([CALL_A1, CALL_A2]))
        self.assertEqual(self.impact(incident, self.beta).call_ids, [CALL_B])
        with all_tenants_scope("test"):
            rows = IncidentCandidate.objects.all()
            self.assertEqual({(row.status, row.incident_id) for row in rows}, {("escalated", incident.pk)})
            self.assertEqual(incident.candidates.count(), 4)

    def test_escalation_into_an_existing_incident_adds_calls_once(self):
        incident = self.touched()
        later = self.candidate(self.alpha, CALL_A1)
        other = self.candidate(self.alpha, str(uuid.uuid4()))
        self.assertEqual(incidents.candidate_triage(candidates=[later, other], decision=Triage.ESCALATE,
                                                    actor=self.staff, incident=incident), incident)
        self.assertEqual(self.impact(incident, self.alpha).call_ids, [CALL_A1, CALL_A2, str(other.call_id)])

    def test_dismissal_and_what_cannot_be_undone(self):
        kept, dropped = self.candidate(self.alpha, CALL_A1), self.candidate(self.alpha, CALL_A2)
        incidents.candidate_triage(candidates=[dropped], decision=Triage.DISMISS, actor=self.staff)
        with self.in_alpha():
            self.assertEqual(IncidentCandidate.objects.get(pk=dropped.pk).status, "dismissed")
        incident = incidents.candidate_triage(candidates=[kept, dropped], decision=Triage.ESCALATE, actor=self.staff,
                                              title="t", category="offensive_reply", severity="low")
        with self.assertRaises(ValidationError):
            incidents.candidate_triage(candidates=[kept], decision=Triage.DISMISS, actor=self.staff)
        with self.assertRaises(ValidationError):
            incidents.candidate_triage(candidates=[kept], decision=Triage.ESCALATE, actor=self.staff,
                                       incident=self.open())
        self.assertEqual(self.impact(incident, self.alpha).call_ids, [CALL_A1, CALL_A2])

    def test_the_reason_suggests_a_category(self):
        candidates = [self.candidate(self.alpha, CALL_A1, "other_call_content"),
                      self.candidate(self.alpha, CALL_A2, "other_call_content"),
                      self.candidate(self.beta, CALL_B, "blocked_term")]
        self.assertEqual(incidents.suggested_category(candidates), "cross_call_disclosure")
        self.assertEqual(incidents.suggested_category([self.candidate(self.beta, CALL_B, "unexplained")]), "")

    def test_call_ids_are_checked(self):
        with self.assertRaises(ValidationError) as raised:
            incidents.impact_add(incident=self.open(), tenant=self.alpha, call_ids=["not-a-call"])
        self.assertIn("call_ids", raised.exception.message_dict)


class BreachClockTests(IncidentTestCase):
    def test_the_deadline_is_72_hours_after_awareness(self):
        incident = self.touched(detected_at=timezone.now() - datetime.timedelta(hours=5))
        self.assertIsNone(incidents.breach_deadline(incident))
        aware = timezone.now() - datetime.timedelta(hours=2)
        incident = incidents.breach_declare(incident=incident, aware_at=aware)
        self.assertTrue(incident.personal_data_breach)
        self.assertEqual(incidents.breach_deadline(incident), aware + datetime.timedelta(hours=72))
        with self.assertRaises(ValidationError):
            incidents.breach_declare(incident=incident)

    def test_awareness_cannot_be_in_the_future_or_before_detection(self):
        incident = self.open(detected_at=timezone.now() - datetime.timedelta(hours=1))
        for aware in (timezone.now() + datetime.timedelta(minutes=5), timezone.now() - datetime.timedelta(hours=2)):
            with self.assertRaises(ValidationError) as raised:
                incidents.breach_declare(incident=incident, aware_at=aware)
            self.assertIn("aware_at", raised.exception.message_dict)
        self.assertFalse(self.refreshed(incident).personal_data_breach)

    def test_overdue_when_72_hours_pass_before_every_customer_is_told(self):
        incident = self.touched()
        incident = incidents.breach_declare(incident=incident)
        deadline = incidents.breach_deadline(incident)
        self.assertFalse(incidents.breach_overdue(incident, now=deadline - datetime.timedelta(minutes=1)))
        self.assertTrue(incidents.breach_overdue(incident, now=deadline + datetime.timedelta(minutes=1)))
        self.notify(incident)
        self.assertFalse(incidents.breach_overdue(incident, now=deadline + datetime.timedelta(minutes=1)))

    def test_a_breach_nobody_was_found_for_is_overdue_too(self):
        incident = incidents.breach_declare(incident=self.open())
        later = incidents.breach_deadline(incident) + datetime.timedelta(seconds=1)
        self.assertTrue(incidents.breach_overdue(incident, now=later))

    def test_declaring_a_breach_tells_the_customers_again(self):
        incident = self.touched()
        self.notify(incident)
        incidents.impact_acknowledge(impact=self.impact(incident, self.alpha), actor=self.alice)
        mail.outbox.clear()
        incidents.breach_declare(incident=incident)
        alpha = self.impact(incident, self.alpha)
        self.assertEqual((alpha.notified_at, alpha.acknowledged_at), (None, None))
        self.assertEqual(self.notify(incident), 2)
        # Each customer reads it in its own language (the DPO address of a French tenant gets French).
        subjects = [message.subject.lower() for message in mail.outbox]
        self.assertTrue(all("breach" in subject or "violation" in subject for subject in subjects), subjects)


class NotificationTests(IncidentTestCase):
    def test_each_customer_is_told_once(self):
        incident = self.touched()
        self.assertEqual(self.notify(incident), 2)
        self.assertEqual(sorted(address for message in mail.outbox for address in message.to),
                         ["charlie@beta.example", "dpo@alpha.example"])
        self.assertEqual(self.notify(incident), 0)
        self.assertEqual(len(mail.outbox), 2)
        self.assertIsNotNone(self.impact(incident, self.beta).notified_at)

    def test_a_changed_notice_or_more_calls_tell_that_customer_again(self):
        incident = self.touched()
        self.notify(incident)
        mail.outbox.clear()
        incidents.impact_add(incident=incident, tenant=self.alpha, notice=f"Your caller {PERSONAL[0]} heard an insult.")
        incidents.impact_add(incident=incident, tenant=self.beta, call_ids=[CALL_B])
        self.assertEqual(self.notify(incident), 0)  # nothing new
        incidents.impact_add(incident=incident, tenant=self.alpha, notice="Corrected notice.")
        self.assertEqual(self.notify(incident), 1)
        self.assertEqual(mail.outbox[0].to, ["dpo@alpha.example"])
        incidents.impact_add(incident=incident, tenant=self.beta, call_ids=[str(uuid.uuid4())])
        self.assertEqual(self.notify(incident), 1)
        self.assertEqual(mail.outbox[1].to, ["charlie@beta.example"])

    def test_the_e_mail_holds_no_personal_data_but_a_link_to_the_notice(self):
        incident = self.touched()
        self.candidate(self.alpha, CALL_A1)
        incidents.breach_declare(incident=incident)
        self.notify(incident)
        alpha = self.impact(incident, self.alpha)
        [message] = [message for message in mail.outbox if message.to == ["dpo@alpha.example"]]
        text = message.subject + message.body
        for secret in (*PERSONAL, CALL_A1, CALL_A2, CALL_B, "insult", incident.title):
            self.assertNotIn(secret, text)
        self.assertIn(incident.reference, message.subject)
        self.assertIn(f"/t/alpha/privacy/incidents/{alpha.pk}/", message.body)
        self.assertIn("72", message.body)

    def test_without_a_dpo_the_owners_are_told(self):
        incident = self.touched()
        self.notify(incident)
        self.assertTrue(any(message.to == ["charlie@beta.example"] for message in mail.outbox))

    def test_a_subscribed_endpoint_receives_the_webhook(self):
        with self.in_alpha(), self.settings(WEBHOOKS_ALLOW_INSECURE=True, WEBHOOKS_ALLOW_PRIVATE=True):
            endpoint_create(tenant=self.alpha, url="http://127.0.0.1:9/hook", events=["incident.notified"])
        incident = self.touched()
        with mock.patch("webhooks.tasks.webhook_deliver.delay"):
            self.notify(incident)
        with self.in_alpha():
            [delivery] = WebhookDelivery.objects.all()
        self.assertEqual(delivery.event, "incident.notified")
        for expected in (incident.reference, CALL_A1, CALL_A2, "/t/alpha/privacy/incidents/"):
            self.assertIn(expected, delivery.payload)
        for unexpected in (*PERSONAL, CALL_B):
            self.assertNotIn(unexpected, delivery.payload)
        with self.in_beta():
            self.assertFalse(WebhookDelivery.objects.exists())

    def test_only_a_member_who_handles_privacy_acknowledges(self):
        incident = self.touched()
        self.notify(incident)
        impact = self.impact(incident, self.alpha)
        for outsider in (self.bob, self.dana, self.charlie):
            with self.assertRaises(PermissionDenied):
                incidents.impact_acknowledge(impact=impact, actor=outsider)
        first = incidents.impact_acknowledge(impact=impact, actor=self.alice)
        again = incidents.impact_acknowledge(impact=impact, actor=self.alice)
        self.assertEqual((first.acknowledged_by, again.acknowledged_at), (self.alice, first.acknowledged_at))


class PortalTests(IncidentTestCase):
    def setUp(self):
        super().setUp()
        self.incident = self.touched()
        self.notify(self.incident)
        self.alpha_impact = self.impact(self.incident, self.alpha)
        self.beta_impact = self.impact(self.incident, self.beta)

    def urls(self, slug, impact):
        return {"list": reverse("incident-notices", args=[slug]),
                "detail": reverse("incident-notice-detail", args=[slug, impact.pk]),
                "acknowledge": reverse("incident-notice-acknowledge", args=[slug, impact.pk])}

    def test_the_notice_shows_the_tenants_own_calls_only(self):
        self.login(self.alice)
        for name in ("list", "detail"):
            page = self.client.get(self.urls("alpha", self.alpha_impact)[name])
            self.assertContains(page, self.incident.reference)
            self.assertContains(page, "Offensive reply")
            self.assertContains(page, "Your caller Jean Martin heard an insult.")
            for call_id in (CALL_A1, CALL_A2):
                self.assertContains(page, reverse("call-detail", args=["alpha", call_id]))
            self.assertNotContains(page, CALL_B)
            self.assertNotContains(page, self.incident.title)
            self.assertNotContains(page, "was insulted")  # the description stays with CALLKOM
            self.assertContains(page, "Acknowledge this notice")

    def test_the_breach_deadline_is_shown(self):
        incidents.breach_declare(incident=self.incident)
        self.notify(self.incident)
        self.login(self.alice)
        page = self.client.get(self.urls("alpha", self.alpha_impact)["detail"])
        self.assertContains(page, "72-hour deadline")
        self.assertContains(page, "Personal-data breach")

    def test_a_notice_not_sent_yet_is_not_shown(self):
        other = self.open(title="Draft")
        incidents.impact_add(incident=other, tenant=self.alpha, call_ids=[CALL_A1])
        draft = self.impact(other, self.alpha)
        self.login(self.alice)
        self.assertNotContains(self.client.get(self.urls("alpha", draft)["list"]), other.reference)
        self.assertEqual(self.client.get(self.urls("alpha", draft)["detail"]).status_code, 404)

    def test_another_tenants_user_gets_404(self):
        self.login(self.charlie)
        for name, url in self.urls("alpha", self.alpha_impact).items():
            self.assertEqual(self.client.get(url).status_code, 404, name)
            self.assertEqual(self.client.post(url).status_code, 404, name)
        for name in ("detail", "acknowledge"):
            url = self.urls("beta", self.alpha_impact)[name]
            method = self.client.get if name == "detail" else self.client.post
            self.assertEqual(method(url).status_code, 404, name)
        page = self.client.get(self.urls("beta", self.beta_impact)["list"])
        self.assertContains(page, CALL_B)
        for call_id in (CALL_A1, CALL_A2):
            self.assertNotContains(page, call_id)
        self.assertIsNone(self.impact(self.incident, self.alpha).acknowledged_at)

    def test_permissions(self):
        self.login(self.bob)  # viewer
        for name, url in self.urls("alpha", self.alpha_impact).items():
            method = self.client.post if name == "acknowledge" else self.client.get
            self.assertEqual(method(url).status_code, 403, name)
        self.login(self.dana)  # administrator: reads the audit, does not handle privacy
        page = self.client.get(self.urls("alpha", self.alpha_impact)["detail"])
        self.assertContains(page, self.incident.reference)
        self.assertNotContains(page, "Acknowledge this notice")
        self.assertEqual(self.client.post(self.urls("alpha", self.alpha_impact)["acknowledge"]).status_code, 403)
        self.assertIsNone(self.impact(self.incident, self.alpha).acknowledged_at)

    def test_the_banner_shows_until_acknowledged(self):
        self.login(self.alice)
        page = self.client.get("/t/alpha/")
        self.assertContains(page, 'id="incident-banner"')
        self.assertContains(page, self.incident.reference)
        self.assertContains(self.client.get("/t/alpha/settings/"), 'id="incident-banner"')
        response = self.client.post(self.urls("alpha", self.alpha_impact)["acknowledge"])
        self.assertRedirects(response, self.urls("alpha", self.alpha_impact)["detail"])
        self.assertEqual(self.impact(self.incident, self.alpha).acknowledged_by, self.alice)
        self.assertNotContains(self.client.get("/t/alpha/"), 'id="incident-banner"')
        self.assertContains(self.client.get(self.urls("alpha", self.alpha_impact)["list"]), "Acknowledged on")

    def test_the_banner_is_for_the_affected_tenant_only(self):
        other = self.open(title="Alpha only")
        incidents.impact_add(incident=other, tenant=self.alpha, call_ids=[CALL_A1])
        self.notify(other)
        incidents.impact_acknowledge(impact=self.beta_impact, actor=self.charlie)
        self.login(self.charlie)
        page = self.client.get("/t/beta/")
        self.assertNotContains(page, 'id="incident-banner"')
        self.assertNotContains(page, other.reference)
        self.login(self.bob)  # a viewer cannot act on notices: no banner leading to a refusal
        self.assertNotContains(self.client.get("/t/alpha/"), 'id="incident-banner"')

    def test_the_banner_costs_one_query(self):
        from django.test import RequestFactory

        from compliance.context_processors import incident_notices
        from tenants.selectors import membership_for

        request = RequestFactory().get("/t/alpha/")
        request.tenant, request.membership = self.alpha, membership_for(self.alice, self.alpha)
        pending = incident_notices(request)["incident_notices_pending"]
        with self.assertNumQueries(1):
            self.assertEqual([impact.incident.reference for impact in pending], [self.incident.reference])
            self.assertTrue(pending[0].incident.personal_data_breach is False)

    def test_the_dashboard_links_to_the_notices(self):
        self.login(self.alice)
        self.assertContains(self.client.get("/t/alpha/"), self.urls("alpha", self.alpha_impact)["list"])


class AdminTests(IncidentTestCase):
    def setUp(self):
        super().setUp()
        self.client.force_login(self.staff)

    def url(self, incident, name, *args):
        return reverse(f"admin:compliance_incident_{name}", args=[incident.pk, *args])

    def test_staff_open_an_incident_through_the_service(self):
        data = {"title": "Wrong opening hours", "category": "wrong_information", "severity": "low",
                "detected_at_0": timezone.localdate().isoformat(), "detected_at_1": "00:00:00", "description": "x"}
        response = self.client.post(reverse("admin:compliance_incident_add"), data)
        self.assertEqual(response.status_code, 302, response.content.decode()[:2000])
        incident = Incident.objects.get()
        self.assertTrue(incident.reference.startswith("INC-"))
        self.assertEqual(incident.created_by, self.staff)
        future = {**data, "detected_at_0": (timezone.localdate() + datetime.timedelta(days=2)).isoformat()}
        self.assertContains(self.client.post(reverse("admin:compliance_incident_add"), future), "future")

    def test_staff_correct_the_facts_in_the_form(self):
        incident = self.touched(detected_at=paris_morning(days_ago=1))
        detected = timezone.localtime(incident.detected_at)
        impacts = [self.impact(incident, tenant) for tenant in (self.alpha, self.beta)]
        data = {"title": "Insults by the agent", "category": "offensive_reply", "severity": "critical",
                "detected_at_0": detected.date().isoformat(), "detected_at_1": detected.strftime("%H:%M:%S"),
                "description": "Updated.", "corrective_actions": "Prompt fixed.",
                "impacts-TOTAL_FORMS": "2", "impacts-INITIAL_FORMS": "2",
                "candidates-TOTAL_FORMS": "0", "candidates-INITIAL_FORMS": "0",
                **{f"impacts-{index}-id": impact.pk for index, impact in enumerate(impacts)},
                **{f"impacts-{index}-incident": incident.pk for index in range(2)}}
        response = self.client.post(self.url(incident, "change"), data)
        self.assertEqual(response.status_code, 302, response.content.decode()[:3000])
        incident = self.refreshed(incident)
        self.assertEqual((incident.title, incident.severity, incident.corrective_actions, incident.status),
                         ("Insults by the agent", "critical", "Prompt fixed.", S.OPEN))

    def test_one_button_per_allowed_transition(self):
        incident = self.touched()
        page = self.client.get(self.url(incident, "change")).content.decode()
        base = self.url(incident, "change").removesuffix("change/")
        self.assertIn(f'href="{base}transition/investigating/"', page)
        for status in (S.CONTAINED, S.RESOLVED, S.CLOSED, S.OPEN):
            self.assertNotIn(f"transition/{status}/", page)
        for action in ("breach/", "notify/", "impacts/add/"):
            self.assertIn(f'href="{base}{action}"', page)
        self.assertEqual(set(StaffAccess.objects.values_list("tenant__slug", flat=True)), {"alpha", "beta"})

    def test_the_buttons_drive_the_workflow(self):
        incident = self.open()
        for target in (S.INVESTIGATING, S.CONTAINED, S.RESOLVED):
            self.assertRedirects(self.client.post(self.url(incident, "transition", target)),
                                 self.url(incident, "change"))
        close = self.url(incident, "transition", S.CLOSED)
        self.assertContains(self.client.post(close, {"corrective_actions": "Fixed."}), "id_closure_note_error")
        self.assertEqual(self.refreshed(incident).status, S.RESOLVED)
        self.assertRedirects(self.client.post(close, {"corrective_actions": "Fixed.", "closure_note": "Done."}),
                             self.url(incident, "change"))
        incident = self.refreshed(incident)
        self.assertEqual((incident.status, incident.closure_note), (S.CLOSED, "Done."))
        page = self.client.get(self.url(incident, "change")).content.decode()
        self.assertNotIn("transition/", page)
        self.assertNotIn('name="_save"', page)

    def test_an_illegal_transition_url_changes_nothing(self):
        incident = self.open()
        for target in (S.CLOSED, "nonsense"):
            self.assertRedirects(self.client.post(self.url(incident, "transition", target)),
                                 self.url(incident, "change"))
        self.assertEqual(self.refreshed(incident).status, S.OPEN)
        self.assertEqual(self.client.get(reverse("admin:compliance_incident_transition",
                                                 args=[999999, S.INVESTIGATING])).status_code, 404)

    def test_breach_then_notify_buttons(self):
        incident = self.touched()
        aware = timezone.localtime(paris_morning(days_ago=4))  # more than 72 hours ago
        response = self.client.post(self.url(incident, "breach"), {"aware_at": aware.strftime("%Y-%m-%d %H:%M:%S")})
        self.assertContains(response, "before the incident was detected")
        Incident.objects.filter(pk=incident.pk).update(detected_at=aware - datetime.timedelta(hours=1))
        self.assertRedirects(self.client.post(self.url(incident, "breach"),
                                              {"aware_at": aware.strftime("%Y-%m-%d %H:%M:%S")}),
                             self.url(incident, "change"))
        page = self.client.get(self.url(incident, "change"))
        self.assertContains(page, 'id="breach-clock"')
        self.assertContains(page, "OVERDUE")
        self.assertContains(self.client.get(reverse("admin:compliance_incident_changelist")), "overdue")
        with self.captureOnCommitCallbacks(execute=True):
            self.assertRedirects(self.client.post(self.url(incident, "notify"), {}), self.url(incident, "change"))
        self.assertEqual(len(mail.outbox), 2)
        page = self.client.get(self.url(incident, "change")).content.decode()
        self.assertNotIn("OVERDUE", page)
        self.assertNotIn("notify/", page)

    def test_customers_and_notices_through_the_buttons(self):
        incident = self.open()
        response = self.client.post(self.url(incident, "impact_add"),
                                    {"tenant": self.alpha.pk, "call_ids": f"{CALL_A1}, {CALL_A2}\nnope"})
        self.assertContains(response, "is not a call id")
        self.client.post(self.url(incident, "impact_add"),
                         {"tenant": self.alpha.pk, "call_ids": f"{CALL_A1}, {CALL_A2}"})
        impact = self.impact(incident, self.alpha)
        self.assertEqual(impact.call_ids, [CALL_A1, CALL_A2])
        self.assertContains(self.client.get(self.url(incident, "change")), self.url(incident, "notice", impact.pk))
        self.assertRedirects(self.client.post(self.url(incident, "notice", impact.pk), {"notice": "We are sorry."}),
                             self.url(incident, "change"))
        self.assertEqual(self.impact(incident, self.alpha).notice, "We are sorry.")

    def test_candidate_actions(self):
        changelist = reverse("admin:compliance_incidentcandidate_changelist")
        alpha, beta = self.candidate(self.alpha, CALL_A1), self.candidate(self.beta, CALL_B)
        selected = {"_selected_action": [alpha.pk, beta.pk]}
        page = self.client.post(changelist, {**selected, "action": "escalate_to_new_incident"})
        self.assertContains(page, 'name="title"')
        self.assertContains(page, 'value="offensive_reply" selected')
        response = self.client.post(changelist, {**selected, "action": "escalate_to_new_incident", "apply": "1",
                                                 "title": "Insults", "category": "offensive_reply",
                                                 "severity": "high"})
        self.assertEqual(response.status_code, 302)
        incident = Incident.objects.get()
        self.assertEqual(self.impact(incident, self.beta).call_ids, [CALL_B])
        late = self.candidate(self.alpha, CALL_A2)
        response = self.client.post(changelist, {"_selected_action": [late.pk], "action": "add_to_incident",
                                                 "apply": "1", "incident": incident.pk})
        self.assertEqual(response.status_code, 302)
        self.assertEqual(self.impact(incident, self.alpha).call_ids, [CALL_A1, CALL_A2])
        noise = self.candidate(self.beta, None, "too_long")
        self.client.post(changelist, {"_selected_action": [noise.pk, alpha.pk], "action": "dismiss"})
        with all_tenants_scope("test"):
            self.assertEqual(IncidentCandidate.objects.get(pk=noise.pk).status, "new")  # refused as a whole
        self.client.post(changelist, {"_selected_action": [noise.pk], "action": "dismiss"})
        with all_tenants_scope("test"):
            self.assertEqual(IncidentCandidate.objects.get(pk=noise.pk).status, "dismissed")
        change = self.client.get(reverse("admin:compliance_incidentcandidate_change", args=[noise.pk]))
        self.assertNotContains(change, 'name="status"')

    def test_customers_cannot_reach_it(self):
        incident = self.open()
        self.client.force_login(self.alice)
        for url in (self.url(incident, "change"), self.url(incident, "notify")):
            self.assertNotEqual(self.client.get(url).status_code, 200)
