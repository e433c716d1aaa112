"""Portal pages of the calls app, mounted under /t/<tenant-slug>/ (see callkom/urls.py)."""

from django.urls import path

from . import simulator_views, views
from .campaign_views import (
    ACTIONS,
    campaign_action,
    campaign_create,
    campaign_detail,
    campaign_edit,
    campaign_list,
    campaign_skips,
)
from .dashboard_views import insights
from .report_views import call_reports_csv

portal_urlpatterns = [
    path("calls/try/", simulator_views.simulator, name="call-simulator"),
    path("calls/", views.call_list, name="call-list"),
    path("calls/live/", views.live_board, name="call-live"),
    path("calls/live.json", views.live_board_json, name="call-live-json"),
    path("calls/<uuid:call_id>/", views.call_detail, name="call-detail"),
    path("calls/<uuid:call_id>/recording.wav", views.call_recording, name="call-recording"),
    path("calls/try/start/", simulator_views.simulator_start, name="call-simulator-start"),
    path("calls/outbound/", views.call_outbound_start, name="call-outbound"),
    path("do-not-call/", views.do_not_call_list, name="do-not-call"),
    path("do-not-call/<int:entry_id>/remove/", views.do_not_call_delete, name="do-not-call-remove"),
    path("insights/", insights, name="insights"),
    path("calls/reports.csv", call_reports_csv, name="call-reports-csv"),
]

portal_urlpatterns += [  # campaigns (issue 5)
    path("campaigns/", campaign_list, name="campaign-list"),
    path("campaigns/new/", campaign_create, name="campaign-create"),
    path("campaigns/<int:campaign_id>/", campaign_detail, name="campaign-detail"),
    path("campaigns/<int:campaign_id>/edit/", campaign_edit, name="campaign-edit"),
    path("campaigns/<int:campaign_id>/skips/", campaign_skips, name="campaign-skips"),
    *(path(f"campaigns/<int:campaign_id>/{action}/", campaign_action, {"action": action},
           name=f"campaign-{action}") for action in ACTIONS),
]

from . import contact_views  # noqa: E402 - contact lists and imports (issue 5)

portal_urlpatterns += [
    path("contacts/lists/", contact_views.contact_lists, name="contact-lists"),
    path("contacts/lists/new/", contact_views.contact_list_create, name="contact-list-create"),
    path("contacts/lists/<int:list_id>/", contact_views.contact_list_detail, name="contact-list-detail"),
    path("contacts/lists/<int:list_id>/edit/", contact_views.contact_list_edit, name="contact-list-edit"),
    path("contacts/lists/<int:list_id>/check/", contact_views.contact_list_check, name="contact-list-check"),
    path("contacts/lists/<int:list_id>/findings/<int:finding_id>/fix/", contact_views.contact_list_finding_fix,
         name="contact-list-finding-fix"),
    path("contacts/lists/<int:list_id>/findings/<int:finding_id>/acknowledge/",
         contact_views.contact_list_finding_acknowledge, name="contact-list-finding-acknowledge"),
    path("contacts/lists/<int:list_id>/import/", contact_views.contact_import_upload, name="contact-import-upload"),
    path("contacts/imports/<uuid:import_id>/", contact_views.contact_import_detail, name="contact-import-detail"),
    path("contacts/imports/<uuid:import_id>/mapping/", contact_views.contact_import_mapping,
         name="contact-import-mapping"),
    path("contacts/imports/<uuid:import_id>/status.json", contact_views.contact_import_status,
         name="contact-import-status"),
    path("contacts/imports/<uuid:import_id>/errors/", contact_views.contact_import_errors,
         name="contact-import-errors"),
    path("contacts/imports/<uuid:import_id>/import-valid-rows/", contact_views.contact_import_valid_rows,
         name="contact-import-valid-rows"),
    path("contacts/imports/<uuid:import_id>/cancel/", contact_views.contact_import_cancel,
         name="contact-import-cancel"),
]

from . import evidence_views  # noqa: E402 - a call's evidence bundle (issue 6 §4)

portal_urlpatterns += [
    path("calls/<uuid:call_id>/evidence.json", evidence_views.call_evidence_json, name="call-evidence"),
    path("calls/<uuid:call_id>/evidence.pdf", evidence_views.call_evidence_pdf, name="call-evidence-pdf"),
]
