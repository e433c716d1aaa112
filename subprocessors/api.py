"""The subprocessors part of the partner API (/api/v1/)."""

urlpatterns = []
