"""Publish version 1 of the AI policy and of the DPA template, from the texts in compliance/policy/."""

from pathlib import Path

from django.db import migrations
from django.utils import timezone

POLICY_DIR = Path(__file__).resolve().parent.parent / "policy"

DOCUMENTS = {
    "AiPolicyVersion": {
        "file": "ai-policy-v1",
        "title": "CALLKOM AI Policy",
        "title_fr": "Politique IA de CALLKOM",
    },
    "DpaVersion": {
        "file": "dpa-v1",
        "title": "Data Processing Agreement (GDPR Art. 28)",
        "title_fr": "Accord de sous-traitance (article 28 du RGPD)",
    },
}


def _read(name: str) -> str:
    return (POLICY_DIR / name).read_text(encoding="utf-8").strip()


def publish_version_one(apps, schema_editor):
    now = timezone.now()
    for model_name, document in DOCUMENTS.items():
        model = apps.get_model("compliance", model_name)
        if model.objects.filter(number=1).exists():
            continue
        model.objects.create(
            number=1, title=document["title"], title_fr=document["title_fr"],
            body=_read(f"{document['file']}.en.txt"), body_fr=_read(f"{document['file']}.fr.txt"),
            changes="First published version.", changes_fr="Première version publiée.",
            created_at=now, published_at=now,
        )


def unpublish_version_one(apps, schema_editor):
    """Remove the versions this migration created, unless a customer has accepted the DPA already."""
    apps.get_model("compliance", "AiPolicyVersion").objects.filter(number=1).delete()
    dpa = apps.get_model("compliance", "DpaVersion")
    dpa.objects.filter(number=1, acceptances__isnull=True).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("compliance", "0006_dpa_ai_policy"),
    ]

    operations = [
        migrations.RunPython(publish_version_one, unpublish_version_one),
    ]
