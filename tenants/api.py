from django.urls import path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.response import Response


@extend_schema(
    summary="Who am I",
    responses=inline_serializer(
        "Me",
        {
            "tenant": serializers.CharField(),
            "key": serializers.CharField(),
            "scopes": serializers.ListField(child=serializers.CharField()),
        },
    ),
)
@api_view(["GET"])
def me(request):
    """Return the tenant and scopes of the API key in use."""
    key = request.auth
    return Response({"tenant": key.tenant.slug, "key": key.prefix, "scopes": key.scopes})


urlpatterns = [
    path("me/", me, name="api-me"),
]
