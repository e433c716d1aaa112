"""Portal pages of the calls app, mounted under /t/<tenant-slug>/ (see callkom/urls.py)."""

from django.urls import path

from . import simulator_views, views
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

from . import evidence_views  # noqa: E402 - a call's evidence bundle (issue 6 §4)

portal_urlpatterns += [
    path("calls/<uuid:call_id>/evidence.json", evidence_views.call_evidence_json, name="call-evidence"),
    path("calls/<uuid:call_id>/evidence.pdf", evidence_views.call_evidence_pdf, name="call-evidence-pdf"),
]
