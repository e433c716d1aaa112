"""WebSocket routes and worker channels of every app, in one place for the ASGI application."""

from channels.auth import AuthMiddlewareStack
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from calls.bridge import LiveKitBridgeConsumer
from calls.consumers import LiveCallConsumer, MediaStreamConsumer
from tenants.ws import TenantTokenMiddleware

websocket_urlpatterns = [
    # Audio: a short-lived token bound to this path opens the call's tenant scope (not the session cookie alone).
    path("ws/calls/<uuid:call_id>/media/", TenantTokenMiddleware(MediaStreamConsumer.as_asgi())),
    # Watching and steering: the logged-in member's session, so only from our own pages (Origin checked, against
    # cross-site WebSocket hijacking); membership of the call's tenant is checked. Media gateways that send no
    # Origin use the token-bound route above.
    path("ws/calls/<uuid:call_id>/live/",
         AllowedHostsOriginValidator(AuthMiddlewareStack(LiveCallConsumer.as_asgi()))),
]
channel_routes = {"livekit-bridge": LiveKitBridgeConsumer.as_asgi()}
