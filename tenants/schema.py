"""OpenAPI: the API key scheme, and operations that document their scopes, Idempotency-Key and error answers."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter

from .api_support import PROBLEM_JSON, ProblemSerializer
from .authentication import required_scopes


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "tenants.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "A tenant API key: `Authorization: Api-Key <key>`. Keys are created in the portal "
                               "(API keys) or with `manage.py create_api_key`; each carries scopes."}


class ApiSchema(AutoSchema):
    """Every operation documents its scopes and its error answers (problem details)."""

    def get_description(self):
        description = super().get_description() or ""
        scopes = self._scopes()
        if scopes:
            description = (description + "\n\n" if description else "") + "Scopes: " + ", ".join(
                f"`{scope}`" for scope in scopes) + "."
        return description

    def _scopes(self) -> list[str]:
        return required_scopes(self.view, self.method.upper())

    def get_override_parameters(self):
        parameters = super().get_override_parameters()
        if getattr(getattr(self.view, getattr(self.view, "action", "") or "", None), "idempotent", False):
            parameters = [*parameters, OpenApiParameter(
                "Idempotency-Key", str, OpenApiParameter.HEADER, required=False,
                description="Any unique string (e.g. a UUID): a retry with the same key and body replays the first "
                            "answer for 24 hours instead of starting again.")]
        return parameters

    def _get_response_bodies(self, direction="response"):
        bodies = super()._get_response_bodies(direction)
        codes = ["401", "429"]
        if self._scopes():
            codes.append("403")
        if self.method in ("POST", "PUT", "PATCH") or (self.method == "GET" and self._is_list_view()):
            codes.append("400")  # invalid input, or for a list an invalid filter or cursor
        if self.path.rstrip("/").endswith("}") or "{" in self.path:
            codes.append("404")
        if not getattr(self.view, "authentication_classes", True):
            codes = [code for code in codes if code not in ("401", "403")]
        for code in codes:
            bodies.setdefault(code, self._get_response_for_code(ProblemSerializer, code, media_types=[PROBLEM_JSON]))
        return bodies



class ApiSchemaGenerator(SchemaGenerator):
    """Builds the schema with the views' querysets reachable: they are only inspected (model, fields), never run,
    and tenant-owned managers refuse to build a queryset outside a scope."""

    def get_schema(self, request=None, public=False):
        from .scope import all_tenants_scope

        with all_tenants_scope("OpenAPI schema generation (no query runs)"):
            return super().get_schema(request=request, public=public)
