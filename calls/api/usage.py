"""API: usage."""

urlpatterns = []
