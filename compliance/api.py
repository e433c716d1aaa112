"""The compliance app's part of the partner API (/api/v1/): rights requests (controller side), the AI request log."""

from . import api_audit, api_rights

urlpatterns = [*api_rights.urlpatterns, *api_audit.urlpatterns]
