from django.db import transaction

from .models import Subprocessor

# The register as seeded on a new installation: the vendors the pipeline can call and CALLKOM's local engines.
DEFAULT_REGISTER = [
    dict(slug="google-stt", name="Google Cloud Speech-to-Text", role="stt", legal_entity="Google Cloud EMEA Ltd",
         processing_region="eu", country="IE", transfer_mechanism="scc", no_training_offered=True,
         no_training_enabled=True, zero_retention_offered=False),
    dict(slug="google-tts", name="Google Cloud Text-to-Speech", role="tts", legal_entity="Google Cloud EMEA Ltd",
         processing_region="eu", country="IE", transfer_mechanism="scc", no_training_offered=True,
         no_training_enabled=True),
    dict(slug="mistral", name="Mistral AI", role="llm", legal_entity="Mistral AI SAS", processing_region="eu",
         country="FR", transfer_mechanism="eu", no_training_offered=True, no_training_enabled=True,
         zero_retention_offered=True, zero_retention_enabled=True),
    dict(slug="local-pocketsphinx", name="CALLKOM local speech recognition (PocketSphinx)", role="stt",
         legal_entity="CALLKOM", processing_region="local", country="FR", transfer_mechanism="eu",
         no_training_offered=True, no_training_enabled=True, zero_retention_offered=True,
         zero_retention_enabled=True),
    dict(slug="local-espeak", name="CALLKOM local voice (eSpeak NG)", role="tts", legal_entity="CALLKOM",
         processing_region="local", country="FR", transfer_mechanism="eu", no_training_offered=True,
         no_training_enabled=True, zero_retention_offered=True, zero_retention_enabled=True),
    dict(slug="local-scripted", name="CALLKOM scripted dialogue engine", role="llm", legal_entity="CALLKOM",
         processing_region="local", country="FR", transfer_mechanism="eu", no_training_offered=True,
         no_training_enabled=True, zero_retention_offered=True, zero_retention_enabled=True),
]


@transaction.atomic
def subprocessor_seed_defaults() -> list[Subprocessor]:
    """Create the default register rows that do not exist yet (existing rows are left as staff set them)."""
    created = []
    for row in DEFAULT_REGISTER:
        if not Subprocessor.objects.filter(slug=row["slug"]).exists():
            subprocessor = Subprocessor(status=Subprocessor.Status.ACTIVE, **row)
            subprocessor.full_clean()
            subprocessor.save()
            created.append(subprocessor)
    return created


@transaction.atomic
def subprocessor_set_disabled(*, subprocessor: Subprocessor, disabled: bool, reason: str) -> Subprocessor:
    subprocessor.temporarily_disabled = disabled
    subprocessor.disabled_reason = reason
    subprocessor.save(update_fields=["temporarily_disabled", "disabled_reason"])
    return subprocessor
