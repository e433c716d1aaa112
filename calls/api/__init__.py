"""The calls app's part of the partner API (/api/v1/): calls, contacts and lists, do-not-call, scripts, campaigns,
usage. One module per resource; each declares its ``urlpatterns``."""

from . import calls, campaigns, contacts, scripts, usage

urlpatterns = [*calls.urlpatterns, *contacts.urlpatterns, *scripts.urlpatterns, *campaigns.urlpatterns,
               *usage.urlpatterns]
