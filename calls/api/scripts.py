"""API: scripts."""

urlpatterns = []
