"""Portal pages of the campaigns app, mounted under /t/<tenant-slug>/ (see callkom/urls.py)."""

from django.urls import path

from .views import campaigns, imports, lists

portal_urlpatterns = [
    path("campaigns/", campaigns.campaign_list, name="campaign-list"),
    path("campaigns/new/", campaigns.campaign_create, name="campaign-create"),
    path("campaigns/<int:campaign_id>/", campaigns.campaign_detail, name="campaign-detail"),
    path("campaigns/<int:campaign_id>/edit/", campaigns.campaign_edit, name="campaign-edit"),
    path("campaigns/<int:campaign_id>/skips/", campaigns.campaign_skips, name="campaign-skips"),
    *(path(f"campaigns/<int:campaign_id>/{action}/", campaigns.campaign_action, {"action": action},
           name=f"campaign-{action}") for action in campaigns.ACTIONS),
    # Contact lists and their imports
    path("contacts/lists/", lists.contact_lists, name="contact-lists"),
    path("contacts/lists/new/", lists.contact_list_create, name="contact-list-create"),
    path("contacts/lists/<int:list_id>/", lists.contact_list_detail, name="contact-list-detail"),
    path("contacts/lists/<int:list_id>/edit/", lists.contact_list_edit, name="contact-list-edit"),
    path("contacts/lists/<int:list_id>/check/", lists.contact_list_check, name="contact-list-check"),
    path("contacts/lists/<int:list_id>/findings/<int:finding_id>/fix/", lists.contact_list_finding_fix,
         name="contact-list-finding-fix"),
    path("contacts/lists/<int:list_id>/findings/<int:finding_id>/acknowledge/",
         lists.contact_list_finding_acknowledge, name="contact-list-finding-acknowledge"),
    path("contacts/lists/<int:list_id>/import/", imports.contact_import_upload, name="contact-import-upload"),
    path("contacts/imports/<uuid:import_id>/", imports.contact_import_detail, name="contact-import-detail"),
    path("contacts/imports/<uuid:import_id>/mapping/", imports.contact_import_mapping,
         name="contact-import-mapping"),
    path("contacts/imports/<uuid:import_id>/status.json", imports.contact_import_status,
         name="contact-import-status"),
    path("contacts/imports/<uuid:import_id>/errors/", imports.contact_import_errors,
         name="contact-import-errors"),
    path("contacts/imports/<uuid:import_id>/import-valid-rows/", imports.contact_import_valid_rows,
         name="contact-import-valid-rows"),
    path("contacts/imports/<uuid:import_id>/cancel/", imports.contact_import_cancel,
         name="contact-import-cancel"),
]

