"""WebSocket routes and worker channels of every app, in one place for the ASGI application."""

websocket_urlpatterns = []
channel_routes = {}
