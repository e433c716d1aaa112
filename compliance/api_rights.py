"""API: api_rights."""

urlpatterns = []
