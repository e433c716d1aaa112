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


def problem_types(request, slug=None):
    """The documentation of the API's problem types: the page each error's ``type`` links to."""
    from django.http import Http404
    from django.shortcuts import render

    from .api_support import PROBLEM_TYPES

    if slug is not None and slug not in PROBLEM_TYPES:
        raise Http404
    types = [{"slug": key, "title": title, "description": description}
             for key, (title, description) in PROBLEM_TYPES.items()]
    return render(request, "tenants/api_problems.html", {"types": types, "current": slug})


urlpatterns = [
    path("me/", me, name="api-me"),
]
