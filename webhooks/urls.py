"""Portal pages of the webhooks app, mounted under /t/<tenant-slug>/ (see callkom/urls.py)."""

from django.urls import path

from . import views

portal_urlpatterns = [
    path("webhooks/", views.endpoint_list, name="webhook-list"),
    path("webhooks/failed/", views.dead_letters, name="webhook-dead-letters"),
    path("webhooks/emails/", views.email_list, name="webhook-emails"),
    path("webhooks/emails/<int:notification_id>/", views.email_edit, name="webhook-email-edit"),
    path("webhooks/emails/<int:notification_id>/delete/", views.email_delete, name="webhook-email-delete"),
    path("webhooks/deliveries/<uuid:delivery_id>/", views.delivery_detail, name="webhook-delivery"),
    path("webhooks/deliveries/<uuid:delivery_id>/redeliver/", views.delivery_redeliver, name="webhook-redeliver"),
    path("webhooks/<int:endpoint_id>/", views.endpoint_detail, name="webhook-detail"),
    path("webhooks/<int:endpoint_id>/edit/", views.endpoint_edit, name="webhook-edit"),
    path("webhooks/<int:endpoint_id>/delete/", views.endpoint_delete, name="webhook-delete"),
    path("webhooks/<int:endpoint_id>/rotate-secret/", views.endpoint_rotate_secret, name="webhook-rotate"),
    path("webhooks/<int:endpoint_id>/ping/", views.endpoint_ping, name="webhook-ping"),
]
