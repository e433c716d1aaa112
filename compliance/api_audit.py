"""API: api_audit."""

urlpatterns = []
