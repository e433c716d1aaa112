from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from calls.api import urlpatterns as calls_api_urlpatterns
from calls.urls import portal_urlpatterns as calls_portal_urlpatterns
from calls.webhooks import livekit_webhook
from campaigns.api import urlpatterns as campaigns_api_urlpatterns
from campaigns.urls import portal_urlpatterns as campaigns_portal_urlpatterns
from compliance.api import urlpatterns as compliance_api_urlpatterns
from compliance.urls import portal_urlpatterns as compliance_portal_urlpatterns
from compliance.urls import public_urlpatterns as compliance_public_urlpatterns
from subprocessors.api import urlpatterns as subprocessors_api_urlpatterns
from subprocessors.urls import portal_urlpatterns as subprocessors_portal_urlpatterns
from subprocessors.urls import public_urlpatterns as subprocessors_public_urlpatterns
from tenants import api as tenants_api
from tenants import views as tenant_views
from tenants.urls import portal_urlpatterns
from webhooks.api import urlpatterns as webhooks_api_urlpatterns
from webhooks.urls import portal_urlpatterns as webhooks_portal_urlpatterns

from . import views

api_v1 = [
    *tenants_api.urlpatterns,
    *campaigns_api_urlpatterns,  # first: its contacts/imports/ comes before the calls app's contacts/<id>/
    *calls_api_urlpatterns,
    *compliance_api_urlpatterns,
    *webhooks_api_urlpatterns,
    *subprocessors_api_urlpatterns,
]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("livekit/webhook/", livekit_webhook, name="livekit-webhook"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("t/", tenant_views.portal_home, name="portal-home"),
    path("t/<slug:tenant_slug>/", include(portal_urlpatterns + calls_portal_urlpatterns + campaigns_portal_urlpatterns
                                         + webhooks_portal_urlpatterns + compliance_portal_urlpatterns
                                         + subprocessors_portal_urlpatterns)),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/problems/", tenants_api.problem_types, name="api-problems"),
    path("api/problems/<slug:slug>/", tenants_api.problem_types, name="api-problem"),
    path("admin/", admin.site.urls),
    *compliance_public_urlpatterns,
    *subprocessors_public_urlpatterns,
]

handler404 = "callkom.views.page_not_found"
handler500 = "callkom.views.server_error"
