"""The campaigns app's part of the partner API (/api/v1/): campaigns, contact lists and bulk imports. One module
per resource; each declares its ``urlpatterns``."""

from . import campaigns, lists

urlpatterns = [*lists.urlpatterns, *campaigns.urlpatterns]
