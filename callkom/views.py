from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views import defaults
from django.views.decorators.cache import never_cache

from .health import run_checks


@never_cache
def healthz(request):
    report = run_checks()
    return JsonResponse(report, status=200 if report["ok"] else 503)


def home(request):
    return render(request, "home.html")


def _api_problem(request, status: int, problem_type: str, title: str, detail: str):
    from tenants.api_support import PROBLEM_JSON, problem_body

    body = problem_body(status_code=status, problem_type=problem_type, title=title, detail=detail,
                        instance=request.get_full_path())
    return JsonResponse(body, status=status, content_type=PROBLEM_JSON)


def page_not_found(request, exception=None):
    """404: problem details under /api/, the site's page elsewhere."""
    if request.path.startswith("/api/"):
        return _api_problem(request, 404, "not-found", _("Not found."), _("No API endpoint at this address."))
    return defaults.page_not_found(request, exception)


def server_error(request):
    """500: problem details under /api/ (nothing about the cause), the site's page elsewhere."""
    if request.path.startswith("/api/"):
        return _api_problem(request, 500, "server-error", _("Server error."),
                            _("Something went wrong on our side; it has been logged. Try again later."))
    return defaults.server_error(request)
