"""The subprocessors part of the partner API (/api/v1/subprocessors/): the published list, public (no key needed).

The answer is the ``/subprocessors.json`` document (schema version 1, ``subprocessors.public_views``) itself: the
version in force, its entries, the changes from the previous version and the changes announced, so that a client
reads one shape wherever it fetches the list. Anonymous callers are throttled per address.
"""

from __future__ import annotations

from django.urls import path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from . import register
from .models import ChangeNotice, DataCategory, Subprocessor
from .public_views import announced_notices, register_document


class SubprocessorEntrySerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    role = serializers.ChoiceField(choices=Subprocessor.Role.choices)
    legal_entity = serializers.CharField()
    services = serializers.CharField()
    services_fr = serializers.CharField()
    purpose = serializers.CharField()
    purpose_fr = serializers.CharField()
    data_categories = serializers.ListField(child=serializers.ChoiceField(choices=DataCategory.choices))
    processing_region = serializers.CharField(help_text=_("eu, us, … or local (CALLKOM's own servers in the EU)."))
    country = serializers.CharField(help_text=_("ISO 3166-1 alpha-2 code."))
    processing_locations = serializers.ListField(child=serializers.CharField())
    transfer_mechanism = serializers.ChoiceField(choices=Subprocessor.Transfer.choices)
    supplementary_measures = serializers.CharField()
    supplementary_measures_fr = serializers.CharField()
    no_training_offered = serializers.BooleanField()
    no_training_enabled = serializers.BooleanField()
    zero_retention_offered = serializers.BooleanField()
    zero_retention_enabled = serializers.BooleanField()
    dpa_url = serializers.CharField(help_text=_("The provider's data processing agreement; empty for CALLKOM itself."))
    certifications = serializers.ListField(child=serializers.CharField())
    contact = serializers.CharField()
    effective_from = serializers.DateField(allow_null=True)
    in_eu = serializers.BooleanField(help_text=_("Whether processing_region is in the EU (eu or local)."))


class EntryNameSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()


class ChangedEntrySerializer(EntryNameSerializer):
    fields = serializers.DictField(child=serializers.ListField(min_length=2, max_length=2),
                                   help_text=_("field name -> [value before, value after]"))


class RegisterChangesSerializer(serializers.Serializer):
    added = EntryNameSerializer(many=True)
    removed = EntryNameSerializer(many=True)
    changed = ChangedEntrySerializer(many=True)


class AnnouncedChangeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=ChangeNotice.Kind.choices)
    subprocessor = serializers.CharField(help_text=_("slug"))
    name = serializers.CharField()
    replaces = serializers.CharField(allow_null=True, help_text=_("slug of the outgoing subprocessor"))
    summary = serializers.CharField()
    summary_fr = serializers.CharField()
    effective_date = serializers.DateField()
    announced_at = serializers.DateTimeField(allow_null=True)


class RegisterLinksSerializer(serializers.Serializer):
    html = serializers.URLField()
    feed = serializers.URLField()
    archive = serializers.URLField()


class SubprocessorRegisterSerializer(serializers.Serializer):
    """The ``/subprocessors.json`` document, schema version 1."""

    schema_version = serializers.ChoiceField(choices=[(register.SCHEMA_VERSION, register.SCHEMA_VERSION)])
    version = serializers.IntegerField(allow_null=True, help_text=_("null only before the first publication."))
    published_at = serializers.DateTimeField(allow_null=True)
    digest = serializers.CharField(allow_null=True,
                                   help_text=_("SHA-256 of the canonical JSON of the subprocessors array."))
    previous_version = serializers.IntegerField(allow_null=True)
    changes = RegisterChangesSerializer(help_text=_("What this version changed from the previous one."))
    subprocessors = SubprocessorEntrySerializer(many=True)
    announced_changes = AnnouncedChangeSerializer(
        many=True, help_text=_("Changes announced and not yet in force: customers may object to them."))
    links = RegisterLinksSerializer()


EXAMPLE = {
    "schema_version": 1, "version": 4, "published_at": "2026-10-01T08:00:00+00:00", "digest": "9f2c" + "0" * 60,
    "previous_version": 3, "changes": {"added": [], "removed": [], "changed": []},
    "subprocessors": [{
        "slug": "mistral", "name": "Mistral AI", "role": "llm", "legal_entity": "Mistral AI SAS",
        "services": "Language model", "services_fr": "Modèle de langage", "purpose": "Understands the caller.",
        "purpose_fr": "Comprend l'appelant.", "data_categories": ["transcripts", "agent_replies"],
        "processing_region": "eu", "country": "FR", "processing_locations": ["France"], "transfer_mechanism": "eu",
        "supplementary_measures": "", "supplementary_measures_fr": "", "no_training_offered": True,
        "no_training_enabled": True, "zero_retention_offered": True, "zero_retention_enabled": True,
        "dpa_url": "https://mistral.ai/terms", "certifications": ["ISO 27001"], "contact": "privacy@mistral.ai",
        "effective_from": "2026-01-01", "in_eu": True}],
    "announced_changes": [],
    "links": {"html": "https://callkom.io/subprocessors/", "feed": "https://callkom.io/subprocessors/feed/",
              "archive": "https://callkom.io/subprocessors/versions/"},
}


class SubprocessorRegisterView(APIView):
    """One document, not a collection: an APIView (a viewset's ``list`` would be documented as an array)."""

    authentication_classes = []
    permission_classes = [AllowAny]
    required_scopes = {}

    @extend_schema(
        summary="The subprocessor list", auth=[], responses={200: SubprocessorRegisterSerializer},
        description="The list of subprocessors in force (the same document as `/subprocessors.json`): public, no key "
                    "needed; throttled per address.",
        examples=[OpenApiExample("The published list", value=EXAMPLE, response_only=True)])
    def get(self, request):
        return Response(register_document(register.current_version(), notices=announced_notices()))


urlpatterns = [path("subprocessors/", SubprocessorRegisterView.as_view(), name="api-subprocessors")]
