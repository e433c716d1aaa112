"""API: contacts."""

urlpatterns = []
