"""The published list: snapshots of the register's public fields, their diffs, and which version is in force.

A version is published whenever what the public sees changes (seeding, a staff edit, a change notice taking
effect). It is immutable: the snapshot is copied out of the rows, so later edits of the register never alter it.
The snapshot's shape is the ``subprocessors`` array of ``/subprocessors.json`` (``SCHEMA_VERSION``); a change of
that shape is a new schema version, never an edit of this one.
"""

from __future__ import annotations

import hashlib
import json

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from .models import ChangeNotice, RegisterVersion, Subprocessor

SCHEMA_VERSION = 1

# Public fields, in the order they appear in each entry of the JSON list.
PUBLIC_FIELDS = (
    "slug", "name", "role", "legal_entity", "services", "services_fr", "purpose", "purpose_fr", "data_categories",
    "processing_region", "country", "processing_locations", "transfer_mechanism", "supplementary_measures",
    "supplementary_measures_fr", "no_training_offered", "no_training_enabled", "zero_retention_offered",
    "zero_retention_enabled", "dpa_url", "certifications", "contact", "effective_from",
)


def listed_queryset():
    """The rows on the public list: every subprocessor in service or announced as active (not planned, not retired)."""
    return Subprocessor.objects.filter(status=Subprocessor.Status.ACTIVE).order_by("role", "name", "slug")


def entry(subprocessor: Subprocessor) -> dict:
    row = {}
    for name in PUBLIC_FIELDS:
        value = getattr(subprocessor, name)
        row[name] = value.isoformat() if hasattr(value, "isoformat") else value
    row["in_eu"] = subprocessor.in_eu
    return row


def ordered(rows: list[dict]) -> list[dict]:
    """Snapshot entries with their keys in the published order (PostgreSQL's jsonb does not keep key order)."""
    order = {name: index for index, name in enumerate((*PUBLIC_FIELDS, "in_eu"))}
    return [dict(sorted(row.items(), key=lambda item: order.get(item[0], len(order)))) for row in rows]


def snapshot() -> list[dict]:
    return [entry(subprocessor) for subprocessor in listed_queryset()]


def digest(rows: list[dict]) -> str:
    return hashlib.sha256(json.dumps(rows, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def diff(before: list[dict], after: list[dict]) -> dict:
    """What changed between two snapshots: entries added and removed (slug and name) and fields changed."""
    old = {row["slug"]: row for row in before}
    new = {row["slug"]: row for row in after}
    changed = []
    for slug in sorted(old.keys() & new.keys()):
        fields = {name: [old[slug].get(name), new[slug].get(name)]
                  for name in PUBLIC_FIELDS if old[slug].get(name) != new[slug].get(name)}
        if fields:
            changed.append({"slug": slug, "name": new[slug]["name"], "fields": fields})
    return {
        "added": [{"slug": slug, "name": new[slug]["name"]} for slug in sorted(new.keys() - old.keys())],
        "removed": [{"slug": slug, "name": old[slug]["name"]} for slug in sorted(old.keys() - new.keys())],
        "changed": changed,
    }


def current_version() -> RegisterVersion | None:
    return RegisterVersion.objects.order_by("-number").first()


def version_in_force(at=None) -> RegisterVersion | None:
    """The version published last at ``at`` (now by default)."""
    return RegisterVersion.objects.filter(published_at__lte=at or timezone.now()).order_by("-number").first()


@transaction.atomic
def register_publish(*, note: str = "", notice: ChangeNotice | None = None) -> RegisterVersion | None:
    """Publish the list as it stands if it differs from the last version; return the new version or None.

    The table is locked through its latest row so two publishers never take the same number."""
    latest = RegisterVersion.objects.select_for_update().order_by("-number").first()
    rows = snapshot()
    if latest is not None and latest.digest == digest(rows):
        return None
    number = (RegisterVersion.objects.aggregate(n=Max("number"))["n"] or 0) + 1
    version = RegisterVersion(number=number, snapshot=rows, diff=diff(latest.snapshot if latest else [], rows),
                              digest=digest(rows), notice=notice, note=note[:200])
    version.save(force_insert=True)
    return version
