"""WebSocket tenant scope: a short-lived signed token bound to one path opens the scope of its tenant.

The portal page that opens a socket asks for ``ws_token(tenant=…, path=…)``; the socket URL carries it as
``?token=…``. A connection without a valid token is accepted only to be closed with code 4403 (the
application's "forbidden"; servers may not send 1008 themselves), so browsers see why instead of a bare handshake
failure.
"""

from urllib.parse import parse_qs

from django.core import signing

from .models import Tenant
from .scope import tenant_scope

SALT = "callkom.ws"
DEFAULT_TTL_SECONDS = 300
POLICY_VIOLATION = 4403  # servers may send only 1000 and 3000-4999; 4403 mirrors HTTP 403


def ws_token(*, tenant, path: str, user=None) -> str:
    return signing.dumps({"t": tenant.pk, "p": path, "u": getattr(user, "pk", None)}, salt=SALT, compress=True)


def ws_token_payload(token: str, *, path: str, max_age: int = DEFAULT_TTL_SECONDS):
    """Return the payload if the token is valid for this path, else None."""
    try:
        payload = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.BadSignature:
        return None
    if payload.get("p") != path:
        return None
    return payload


class TenantTokenMiddleware:
    def __init__(self, inner, max_age: int = DEFAULT_TTL_SECONDS):
        self.inner = inner
        self.max_age = max_age

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.inner(scope, receive, send)
        token = parse_qs(scope.get("query_string", b"").decode()).get("token", [""])[0]
        payload = ws_token_payload(token, path=scope["path"], max_age=self.max_age)
        tenant = await self._tenant(payload)
        if tenant is None:
            return await self._refuse(receive, send)
        scope = dict(scope, tenant=tenant, ws_token=payload)
        with tenant_scope(tenant):
            return await self.inner(scope, receive, send)

    async def _tenant(self, payload):
        if payload is None:
            return None
        tenant = await Tenant.objects.filter(pk=payload["t"]).afirst()
        return tenant if tenant is not None and tenant.is_active else None

    async def _refuse(self, receive, send):
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": POLICY_VIOLATION, "reason": "invalid or expired token"})
            # Stay until the closing handshake ends: a server that sees the application end first may drop the
            # connection before the close frame leaves, and the client then reads 1006 instead of 4403.
            while message["type"] != "websocket.disconnect":
                message = await receive()
