import pytest

from calls import services
from calls.models import Call, DoNotCall, DoNotCallSource
from tenants.testing import TwoTenantTestCase
from voice.extract import DECLINED, OBJECTED, REFUSED, detect_refusal


@pytest.mark.parametrize(("line", "kind"), [
    ("Non, ça ne m'intéresse pas.", REFUSED),
    ("Ca m'intéresse pas du tout", REFUSED),
    ("Je ne suis pas intéressée, merci.", REFUSED),
    ("Pas intéressé.", REFUSED),
    ("Aucun intérêt pour moi.", REFUSED),
    ("I'm not interested.", REFUSED),
    ("We are not buying, sorry", REFUSED),
    ("Ne m'appelez plus jamais !", OBJECTED),
    ("Rayez-moi de votre fichier.", OBJECTED),
    ("Retirez mon numéro de vos listes", OBJECTED),
    ("Je suis inscrit sur Bloctel.", OBJECTED),
    ("Arrêtez de m'appeler.", OBJECTED),
    ("Je ne veux plus être appelé.", OBJECTED),
    ("Please stop calling me.", OBJECTED),
    ("Don't call me again", OBJECTED),
    ("Remove me from your list.", OBJECTED),
    ("Put me on your do-not-call list", OBJECTED),
    ("Pas intéressé, et ne me rappelez plus.", OBJECTED),  # an objection says more than a refusal
    ("Non merci.", DECLINED),
    ("No thanks, bye.", DECLINED),
    ("No, thank you.", DECLINED),
    ("Oui, c'est intéressant, je veux bien un rendez-vous.", ""),
    ("Je n'ai pas d'intérêt particulier pour le bleu, plutôt le vert.", ""),
    ("Ce serait intéressant de passer mardi.", ""),
    ("Call me again tomorrow please.", ""),
    ("Interesting, tell me more.", ""),
    ("Monsieur Dupontpas, intéressé par une cuisine", ""),
])
def test_refusals_and_objections_are_found_in_french_and_english(line, kind):
    assert detect_refusal([line]) == kind


def test_only_the_given_lines_count_and_empty_ones_are_ignored():
    assert detect_refusal([]) == ""
    assert detect_refusal(["", None, "Bonjour"]) == ""
    assert detect_refusal(["Bonjour", "Non merci", "Et ne m'appelez plus"]) == OBJECTED


class OutcomeTests(TwoTenantTestCase):
    def setUp(self):
        with self.in_alpha():
            self.script = services.demo_scripts_ensure(tenant=self.alpha)[0]
            self.contact = services.contact_create(tenant=self.alpha, phone="0612345678")

    def outcome(self, *caller_lines, report=None, contact=True):
        with self.in_alpha():
            call = services.call_create(tenant=self.alpha, script=self.script, direction=Call.Direction.OUTBOUND,
                                        contact=self.contact if contact else None)
            call = services.call_transition(call=call, to=Call.Status.IN_PROGRESS)
            call = services.call_transition(call=call, to=Call.Status.COMPLETED)
            services.call_record_conversation(
                call=call, transcript=[{"speaker": "agent", "text": "Bonjour, je suis un assistant virtuel."}]
                + [{"speaker": "caller", "text": line} for line in caller_lines],
                turn_metrics=[], interruptions=0, providers_used=[])
            services.call_report_save(call=call, report=report or {}, summary="", source="local")
            return Call.objects.get(pk=call.pk).outcome

    def test_a_refusal_is_the_outcome_and_an_objection_lists_the_number(self):
        self.assertEqual(self.outcome("Ça ne m'intéresse pas."), Call.Outcome.REFUSED)
        with self.in_alpha():
            self.assertFalse(DoNotCall.objects.exists())
        self.assertEqual(self.outcome("Ne m'appelez plus."), Call.Outcome.REFUSED)
        with self.in_alpha():
            entry = DoNotCall.objects.get()
        self.assertEqual((entry.phone, entry.source), ("+33612345678", DoNotCallSource.OBJECTION))

    def test_a_bare_no_thanks_only_counts_when_nothing_else_came_of_the_call(self):
        self.assertEqual(self.outcome("Non merci."), Call.Outcome.REFUSED)
        self.assertEqual(self.outcome("Je cherche une cuisine.", "Non merci, au revoir.",
                                      report={"need": "une cuisine"}), Call.Outcome.INFORMATION)
        self.assertEqual(self.outcome("Pas intéressé par l'offre.", report={"need": "une cuisine"}),
                         Call.Outcome.REFUSED)
        self.assertEqual(self.outcome("Mardi 14h. Non merci, rien d'autre.",
                                      report={"appointment": "2031-03-10T14:00:00+01:00"}),
                         Call.Outcome.APPOINTMENT)

    def test_an_objection_without_a_contact_changes_no_list(self):
        self.assertEqual(self.outcome("Stop calling me.", contact=False), Call.Outcome.REFUSED)
        with self.in_alpha():
            self.assertFalse(DoNotCall.objects.exists())
