"""Writes of the subprocessors app: the register, change notices and objections, subscriptions."""

from __future__ import annotations

from django.db import transaction

from .models import Subprocessor
from .register import register_publish

_AUDIO = ["call_audio"]
_TEXT = ["transcripts", "agent_replies", "contact_details", "reports"]
_NO_TRANSFER = "Processing on CALLKOM's own servers in the EU; nothing leaves them."
_NO_TRANSFER_FR = "Traitement sur les serveurs de CALLKOM dans l’UE ; rien n’en sort."
_GOOGLE_MEASURES = ("EU regional endpoint (europe-west1); data encrypted in transit and at rest; data logging off; "
                    "no use for training; SCCs with Google LLC for any remote support access.")
_GOOGLE_MEASURES_FR = ("Point d’accès régional UE (europe-west1) ; données chiffrées en transit et au repos ; "
                       "journalisation des données désactivée ; aucune utilisation pour l’entraînement ; CCT avec "
                       "Google LLC pour tout accès de support à distance.")

# The register as seeded on a new installation: the vendors the pipeline can call, CALLKOM's local engines, and the
# infrastructure the platform runs on.
DEFAULT_REGISTER = [
    dict(slug="google-stt", name="Google Cloud Speech-to-Text", role="stt", legal_entity="Google Cloud EMEA Ltd",
         processing_region="eu", country="IE", transfer_mechanism="scc", no_training_offered=True,
         no_training_enabled=True, zero_retention_offered=False,
         services="Streaming speech recognition of the caller's voice.",
         services_fr="Reconnaissance vocale en continu de la voix de l’appelant.",
         purpose="Turn what the caller says into text so the agent can answer.",
         purpose_fr="Transformer ce que dit l’appelant en texte pour que l’agent puisse répondre.",
         data_categories=_AUDIO, processing_locations=["Belgium (europe-west1)"],
         supplementary_measures=_GOOGLE_MEASURES, supplementary_measures_fr=_GOOGLE_MEASURES_FR,
         dpa_url="https://cloud.google.com/terms/data-processing-addendum",
         certifications=["ISO/IEC 27001", "ISO/IEC 27017", "ISO/IEC 27018", "SOC 2"],
         contact="https://support.google.com/cloud/contact/dpo"),
    dict(slug="google-tts", name="Google Cloud Text-to-Speech", role="tts", legal_entity="Google Cloud EMEA Ltd",
         processing_region="eu", country="IE", transfer_mechanism="scc", no_training_offered=True,
         no_training_enabled=True,
         services="Speech synthesis of the agent's replies.",
         services_fr="Synthèse vocale des réponses de l’agent.",
         purpose="Speak the agent's replies to the caller.",
         purpose_fr="Prononcer les réponses de l’agent à l’appelant.",
         data_categories=["agent_replies"], processing_locations=["Belgium (europe-west1)"],
         supplementary_measures=_GOOGLE_MEASURES, supplementary_measures_fr=_GOOGLE_MEASURES_FR,
         dpa_url="https://cloud.google.com/terms/data-processing-addendum",
         certifications=["ISO/IEC 27001", "ISO/IEC 27017", "ISO/IEC 27018", "SOC 2"],
         contact="https://support.google.com/cloud/contact/dpo"),
    dict(slug="mistral", name="Mistral AI", role="llm", legal_entity="Mistral AI SAS", processing_region="eu",
         country="FR", transfer_mechanism="eu", no_training_offered=True, no_training_enabled=True,
         zero_retention_offered=True, zero_retention_enabled=True,
         services="Language model: the agent's replies, call summaries and reports.",
         services_fr="Modèle de langage : réponses de l’agent, résumés et comptes rendus d’appel.",
         purpose="Understand the caller and answer along the customer's script; summarise the call afterwards.",
         purpose_fr="Comprendre l’appelant et répondre selon le script du client ; résumer l’appel ensuite.",
         data_categories=_TEXT, processing_locations=["France", "Sweden"],
         supplementary_measures="Zero data retention and no training switched on; fields the customer excludes "
                                "and card or IBAN numbers are removed before sending.",
         supplementary_measures_fr="Zéro conservation et non-entraînement activés ; les champs exclus par le "
                                   "client et les numéros de carte ou d’IBAN sont retirés avant l’envoi.",
         dpa_url="https://legal.mistral.ai/terms/data-processing-addendum", certifications=["ISO/IEC 27001", "SOC 2"],
         contact="privacy@mistral.ai"),
    dict(slug="local-pocketsphinx", name="CALLKOM local speech recognition (PocketSphinx)", role="stt",
         legal_entity="CALLKOM", processing_region="local", country="FR", transfer_mechanism="eu",
         no_training_offered=True, no_training_enabled=True, zero_retention_offered=True,
         zero_retention_enabled=True,
         services="Speech recognition on CALLKOM's servers, the fallback when the vendor is unavailable.",
         services_fr="Reconnaissance vocale sur les serveurs de CALLKOM, en secours quand le fournisseur est "
                     "indisponible.",
         purpose="Keep calls running without sending audio to a third party.",
         purpose_fr="Poursuivre les appels sans envoyer l’audio à un tiers.",
         data_categories=_AUDIO, processing_locations=["France"],
         supplementary_measures=_NO_TRANSFER, supplementary_measures_fr=_NO_TRANSFER_FR),
    dict(slug="local-espeak", name="CALLKOM local voice (eSpeak NG)", role="tts", legal_entity="CALLKOM",
         processing_region="local", country="FR", transfer_mechanism="eu", no_training_offered=True,
         no_training_enabled=True, zero_retention_offered=True, zero_retention_enabled=True,
         services="Speech synthesis on CALLKOM's servers, the fallback voice.",
         services_fr="Synthèse vocale sur les serveurs de CALLKOM, la voix de secours.",
         purpose="Keep calls running without sending text to a third party.",
         purpose_fr="Poursuivre les appels sans envoyer de texte à un tiers.",
         data_categories=["agent_replies"], processing_locations=["France"],
         supplementary_measures=_NO_TRANSFER, supplementary_measures_fr=_NO_TRANSFER_FR),
    dict(slug="local-scripted", name="CALLKOM scripted dialogue engine", role="llm", legal_entity="CALLKOM",
         processing_region="local", country="FR", transfer_mechanism="eu", no_training_offered=True,
         no_training_enabled=True, zero_retention_offered=True, zero_retention_enabled=True,
         services="A dialogue engine that follows the script's steps, the fallback when no model is reachable.",
         services_fr="Un moteur de dialogue qui suit les étapes du script, en secours quand aucun modèle n’est "
                     "joignable.",
         purpose="Keep calls running without sending text to a third party.",
         purpose_fr="Poursuivre les appels sans envoyer de texte à un tiers.",
         data_categories=_TEXT, processing_locations=["France"],
         supplementary_measures=_NO_TRANSFER, supplementary_measures_fr=_NO_TRANSFER_FR),
    dict(slug="ovhcloud", name="OVHcloud", role="hosting", legal_entity="OVH SAS", processing_region="eu",
         country="FR", transfer_mechanism="eu",
         services="Servers, databases and backups of the platform.",
         services_fr="Serveurs, bases de données et sauvegardes de la plateforme.",
         purpose="Host the portal, the call pipeline and all stored data.",
         purpose_fr="Héberger le portail, la chaîne d’appel et toutes les données conservées.",
         data_categories=["call_audio", "transcripts", "agent_replies", "contact_details", "call_metadata",
                          "reports", "account_data", "technical_logs"],
         processing_locations=["France (Gravelines, Roubaix)"],
         supplementary_measures="Personal data and call content encrypted at rest with CALLKOM's keys.",
         supplementary_measures_fr="Données personnelles et contenu des appels chiffrés au repos avec les clés de "
                                   "CALLKOM.",
         dpa_url="https://us.ovhcloud.com/legal/data-processing-agreement/",
         certifications=["ISO/IEC 27001", "HDS", "SecNumCloud (selected services)"], contact="dpo@ovhcloud.com"),
    dict(slug="ovhcloud-redis", name="OVHcloud Managed Databases for Redis", role="queue", legal_entity="OVH SAS",
         processing_region="eu", country="FR", transfer_mechanism="eu",
         services="Message queue and real-time channels between the platform's processes.",
         services_fr="File de messages et canaux temps réel entre les processus de la plateforme.",
         purpose="Carry tasks and live call events; nothing is kept there.",
         purpose_fr="Transporter les tâches et les événements d’appel en direct ; rien n’y est conservé.",
         data_categories=["call_metadata", "technical_logs"], processing_locations=["France (Gravelines)"],
         supplementary_measures="Task messages carry identifiers, not call content; TLS between processes.",
         supplementary_measures_fr="Les messages de tâche portent des identifiants, pas le contenu des appels ; "
                                   "TLS entre les processus.",
         dpa_url="https://us.ovhcloud.com/legal/data-processing-agreement/", certifications=["ISO/IEC 27001"],
         contact="dpo@ovhcloud.com"),
    dict(slug="livekit", name="LiveKit Cloud", role="telephony", legal_entity="LiveKit, Inc.", processing_region="eu",
         country="US", transfer_mechanism="scc",
         services="Real-time media rooms and SIP telephony that carry the call.",
         services_fr="Salles média temps réel et téléphonie SIP qui portent l’appel.",
         purpose="Connect the caller to the agent and, on request, to a person of the customer.",
         purpose_fr="Relier l’appelant à l’agent et, sur demande, à une personne du client.",
         data_categories=["call_audio", "call_metadata"], processing_locations=["Germany (Frankfurt)"],
         supplementary_measures="EU media region pinned; media encrypted in transit (SRTP/DTLS); no recording on "
                                "LiveKit's side; SCCs for remote support from the US.",
         supplementary_measures_fr="Région média UE imposée ; média chiffré en transit (SRTP/DTLS) ; aucun "
                                   "enregistrement chez LiveKit ; CCT pour le support à distance depuis les "
                                   "États-Unis.",
         dpa_url="https://livekit.io/legal/dpa", certifications=["SOC 2"], contact="privacy@livekit.io"),
]


@transaction.atomic
def subprocessor_seed_defaults() -> list[Subprocessor]:
    """Create the default register rows that do not exist yet and fill descriptive fields left blank (what staff
    set is kept), then publish the list if it changed. Return the rows created."""
    created = []
    for row in DEFAULT_REGISTER:
        subprocessor = Subprocessor.objects.filter(slug=row["slug"]).first()
        if subprocessor is None:
            subprocessor = Subprocessor(status=Subprocessor.Status.ACTIVE, **row)
            created.append(subprocessor)
        else:
            for name, value in row.items():
                if getattr(subprocessor, name) in ("", [], None):
                    setattr(subprocessor, name, value)
        subprocessor.full_clean()
        subprocessor.save()
    register_publish(note="Default register")
    return created


@transaction.atomic
def subprocessor_set_disabled(*, subprocessor: Subprocessor, disabled: bool, reason: str) -> Subprocessor:
    subprocessor.temporarily_disabled = disabled
    subprocessor.disabled_reason = reason
    subprocessor.save(update_fields=["temporarily_disabled", "disabled_reason"])
    return subprocessor
