from django.urls import path

from . import views

# Public pages, mounted at the root: the rights-request form is part of the public contract (/privacy/requests/new/).
public_urlpatterns = [
    path("privacy/requests/new/", views.rights_request_new, name="rights-request-new"),
    path("privacy/requests/<str:reference>/verify/", views.rights_request_verify, name="rights-request-verify"),
    path("privacy/requests/<str:reference>/resend/", views.rights_request_resend, name="rights-request-resend"),
    path("privacy/requests/<str:reference>/", views.rights_request_received, name="rights-request-received"),
    path("privacy/downloads/<str:token>/", views.privacy_download, name="privacy-download"),
]

# Portal pages, mounted under /t/<slug>/.
portal_urlpatterns = [
    path("privacy/requests/", views.privacy_inbox, name="privacy-inbox"),
    path("privacy/requests/<uuid:routed_id>/", views.privacy_request_detail, name="privacy-request-detail"),
    path("privacy/requests/<uuid:routed_id>/decide/", views.privacy_request_decide, name="privacy-request-decide"),
    path("privacy/requests/<uuid:routed_id>/extend/", views.privacy_request_extend, name="privacy-request-extend"),
    path("privacy/requests/<uuid:routed_id>/comment/", views.privacy_request_comment,
         name="privacy-request-comment"),
    path("privacy/requests/<uuid:routed_id>/fulfil/", views.privacy_request_fulfil, name="privacy-request-fulfil"),
]

from . import record_views  # noqa: E402 - the record of processing, GDPR Art. 30(2) (issue 6 §4)

portal_urlpatterns += [
    path("privacy/record/", record_views.processing_record_page, name="processing-record"),
    path("privacy/record.csv", record_views.processing_record_csv, name="processing-record-csv"),
    path("privacy/record.pdf", record_views.processing_record_pdf, name="processing-record-pdf"),
]

from . import incident_views  # noqa: E402 - AI incident notices (issue 6 §3)

portal_urlpatterns += [
    path("privacy/incidents/", incident_views.incident_notices, name="incident-notices"),
    path("privacy/incidents/<int:impact_id>/", incident_views.incident_notice_detail, name="incident-notice-detail"),
    path("privacy/incidents/<int:impact_id>/acknowledge/", incident_views.incident_notice_acknowledge,
         name="incident-notice-acknowledge"),
]

from . import retention_views  # noqa: E402 - retention runs and periods (issue 6 §2)

portal_urlpatterns += [
    path("privacy/retention/", retention_views.retention_runs, name="retention-runs"),
]

from . import dpa_views, policy_views  # noqa: E402 - the DPA and the AI policy (issue 7 §5)

public_urlpatterns += [
    path("ai-policy/", policy_views.policy_page, name="ai-policy"),
    path("ai-policy/versions/", policy_views.policy_versions, name="ai-policy-versions"),
    path("ai-policy/versions/<int:number>/", policy_views.policy_version, name="ai-policy-version"),
]

portal_urlpatterns += [
    path("privacy/dpa/", dpa_views.dpa_page, name="tenant-dpa"),
    path("privacy/dpa/accept/", dpa_views.dpa_accept, name="tenant-dpa-accept"),
    path("privacy/dpa/<int:number>.pdf", dpa_views.dpa_pdf, name="tenant-dpa-pdf"),
]
