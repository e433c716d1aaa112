from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from .health import run_checks


@never_cache
def healthz(request):
    report = run_checks()
    return JsonResponse(report, status=200 if report["ok"] else 503)


def home(request):
    return render(request, "home.html")
