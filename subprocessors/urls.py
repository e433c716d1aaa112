"""URLs of the subprocessors app. The public ones are part of the public contract (DESIGN.md §6)."""

from django.urls import path

from . import portal_views, public_views
from .feeds import RegisterFeed

# Mounted at the root.
public_urlpatterns = [
    path("subprocessors/", public_views.register_page, name="subprocessors"),
    path("subprocessors.json", public_views.register_json, name="subprocessors-json"),
    path("subprocessors/schema/v1.json", public_views.register_schema, name="subprocessors-schema"),
    path("subprocessors/feed/", RegisterFeed(), name="subprocessors-feed"),
    path("subprocessors/versions/", public_views.version_archive, name="subprocessors-versions"),
    path("subprocessors/versions/<int:number>/", public_views.version_page, name="subprocessors-version"),
    path("subprocessors/versions/<int:number>.json", public_views.version_json, name="subprocessors-version-json"),
    path("subprocessors/subscribe/", public_views.subscribe, name="subprocessors-subscribe"),
    path("subprocessors/subscribe/<str:token>/", public_views.subscribe_confirm,
         name="subprocessors-subscribe-confirm"),
    path("subprocessors/unsubscribe/<str:token>/", public_views.unsubscribe, name="subprocessors-unsubscribe"),
]

# Mounted under /t/<slug>/.
portal_urlpatterns = [
    path("subprocessors/", portal_views.tenant_register, name="tenant-subprocessors"),
    path("subprocessors/notices/<int:notice_id>/", portal_views.notice_detail, name="tenant-notice-detail"),
    path("subprocessors/notices/<int:notice_id>/object/", portal_views.notice_object, name="tenant-notice-object"),
]
