"""ASGI entry point (daphne): HTTP through Django, WebSockets through Channels, background worker channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "callkom.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ChannelNameRouter, ProtocolTypeRouter, URLRouter  # noqa: E402

from callkom.routing import channel_routes, websocket_urlpatterns  # noqa: E402
from voice.runtime import freeze_startup_heap  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter(websocket_urlpatterns),
        "channel": ChannelNameRouter(channel_routes),
    }
)

# Live audio runs in this process: keep full garbage collections off the start-up heap (see the function).
freeze_startup_heap()
