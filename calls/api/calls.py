"""API: calls."""

urlpatterns = []
