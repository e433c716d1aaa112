"""The public AI policy (/ai-policy/): the version in force, the list of versions, and each archived version.

Public pages, no log-in. The text is shown in the visitor's language when the version has it (version 1 has a full
French text), escaped and cut into headings and paragraphs (``policies.text_blocks``). Drafts do not exist here.
"""

from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_safe

from . import policies


def _render(request, version):
    current = policies.ai_policy_current()
    return render(request, "compliance/policy/page.html", {
        "version": version,
        "title": version.localised("title"),
        "changes": version.localised("changes"),
        "current": current,
        "archived": version.pk != current.pk,
        "blocks": policies.text_blocks(version.localised("body")),
    })


@require_safe
def policy_page(request):
    version = policies.ai_policy_current()
    if version is None:
        raise Http404("No AI policy is published yet.")
    return _render(request, version)


@require_safe
def policy_versions(request):
    rows = [(version, version.localised("title"), version.localised("changes"))
            for version in policies.ai_policy_versions()]
    return render(request, "compliance/policy/versions.html", {"rows": rows})


@require_safe
def policy_version(request, number):
    version = policies.ai_policy_version(number)
    if version is None:
        raise Http404("No such version.")
    return _render(request, version)
