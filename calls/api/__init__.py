"""The calls app's part of the partner API (/api/v1/): calls, contacts, do-not-call, scripts, usage. One module
per resource; each declares its ``urlpatterns``."""

from . import calls, contacts, scripts, usage

urlpatterns = [*calls.urlpatterns, *contacts.urlpatterns, *scripts.urlpatterns, *usage.urlpatterns]
