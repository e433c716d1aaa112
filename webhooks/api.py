"""The webhooks part of the partner API (/api/v1/)."""

urlpatterns = []
