"""DRF authentication by tenant API key: ``Authorization: Api-Key <key>``."""

from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions, permissions

from .scope import activate
from .services import ApiKeyError, api_key_authenticate


class ApiKeyPrincipal:
    """What request.user is for an API call: the key, acting for its tenant."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False

    def __init__(self, api_key):
        self.api_key = api_key
        self.tenant = api_key.tenant
        self.pk = None

    def __str__(self):
        return f"api-key:{self.api_key.prefix}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Api-Key"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        keyword, _sep, raw = header.partition(" ")
        if keyword != self.keyword:
            return None
        if not raw.strip():
            raise exceptions.AuthenticationFailed(_("The Api-Key header holds no key."))
        try:
            api_key = api_key_authenticate(raw)
        except ApiKeyError as error:
            raise exceptions.AuthenticationFailed(str(error)) from None
        activate(api_key.tenant)
        request._request.tenant = api_key.tenant
        return ApiKeyPrincipal(api_key), api_key

    def authenticate_header(self, request):
        return self.keyword


class MissingScope(exceptions.PermissionDenied):
    def __init__(self, missing: list[str]):
        super().__init__(_("This API key lacks the scope this endpoint needs: %(scopes)s.")
                         % {"scopes": ", ".join(missing)})
        self.missing_scopes = missing


def required_scopes(view, method: str) -> list[str]:
    """The scopes a view needs (all of them): ``required_scopes`` by viewset action first, else by HTTP method."""
    table = getattr(view, "required_scopes", {}) or {}
    action = getattr(view, "action", None)
    if action and action in table:
        return list(table[action])
    return list(table.get(method, ()))


class HasTenantApiKey(permissions.BasePermission):
    """Require an API key holding every scope the view names for this request (403 naming the missing ones)."""

    def has_permission(self, request, view):
        if not isinstance(request.user, ApiKeyPrincipal):
            raise exceptions.NotAuthenticated(_("Send an API key: Authorization: Api-Key <key>."))
        missing = sorted(set(required_scopes(view, request.method)) - set(request.auth.scopes))
        if missing:
            raise MissingScope(missing)
        return True
