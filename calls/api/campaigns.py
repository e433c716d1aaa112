"""API: campaigns."""

urlpatterns = []
