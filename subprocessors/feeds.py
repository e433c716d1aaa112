"""Atom feed of the register: one entry per published version and one per announced (or applied) change notice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.urls import reverse
from django.utils import feedgenerator
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _

from .models import ChangeNotice, RegisterVersion

MAX_ENTRIES = 50
TAG_DATE = "2025"  # the date part of the entries' tag: URIs (RFC 4151); never change it, ids must stay stable


class AtomWithContent(feedgenerator.Atom1Feed):
    """Atom 1.0 with an HTML ``content`` element per entry (Django writes only ``summary``)."""

    def add_item_elements(self, handler, item):
        super().add_item_elements(handler, item)
        if item.get("content"):
            handler.addQuickElement("content", item["content"], {"type": "html"})


@dataclass
class Entry:
    guid: str
    title: str
    summary: str
    content: str
    link: str
    published: datetime
    updated: datetime


def _absolute(name: str, *args) -> str:
    return settings.CALLKOM_PUBLIC_URL + reverse(name, args=args)


def _tag(specific: str) -> str:
    host = urlsplit(settings.CALLKOM_PUBLIC_URL).hostname or "callkom.invalid"
    return f"tag:{host},{TAG_DATE}:{specific}"


def _names(rows: list[dict]) -> str:
    return ", ".join(row.get("name") or row.get("slug", "") for row in rows)


def version_entry(version: RegisterVersion) -> Entry:
    diff = version.diff or {}
    sections = [(_("Added"), diff.get("added") or []), (_("Removed"), diff.get("removed") or []),
                (_("Changed"), diff.get("changed") or [])]
    items = [(label, _names(rows)) for label, rows in sections if rows]
    content = format_html("<p>{}</p>", version.note) if version.note else ""
    if items:
        content += format_html("<ul>{}</ul>", format_html_join("", "<li>{}: {}</li>", items))
    else:
        content += format_html("<p>{}</p>", _("No entry added, removed or changed."))
    counts = {"added": len(sections[0][1]), "removed": len(sections[1][1]), "changed": len(sections[2][1])}
    summary = _("%(added)d added, %(removed)d removed, %(changed)d changed.") % counts
    return Entry(guid=_absolute("subprocessors-version", version.number),
                 title=_("Subprocessor list version %(number)d") % {"number": version.number},
                 summary=summary, content=content, link=_absolute("subprocessors-version", version.number),
                 published=version.published_at, updated=version.published_at)


def notice_entry(notice: ChangeNotice) -> Entry:
    values = {"kind": notice.get_kind_display(), "name": notice.subprocessor.name}
    if notice.status == ChangeNotice.Status.APPLIED:
        title = _("%(kind)s: %(name)s (in effect)") % values
    elif notice.status == ChangeNotice.Status.WITHDRAWN:
        title = _("%(kind)s: %(name)s (withdrawn)") % values
    else:
        title = _("%(kind)s: %(name)s") % values
    effective = _("Effective date: %(date)s") % {"date": notice.effective_date.isoformat()}
    content = format_html("<p>{}</p><p>{}</p>", notice.localised("summary"), effective)
    if notice.replaces_id:
        content += format_html("<p>{}</p>", _("Replaces: %(name)s") % {"name": notice.replaces.name})
    version = notice.versions.order_by("number").first() if notice.status == ChangeNotice.Status.APPLIED else None
    link = (_absolute("subprocessors-version", version.number) if version
            else _absolute("subprocessors") + f"#notice-{notice.pk}")
    published = notice.announced_at or notice.created_at
    updated = notice.withdrawn_at or notice.applied_at or published
    return Entry(guid=_tag(f"subprocessors/notice/{notice.pk}"), title=title, summary=effective, content=content,
                 link=link, published=published, updated=max(updated, published))


def feed_entries() -> list[Entry]:
    """The newest entries first, at most MAX_ENTRIES."""
    versions = RegisterVersion.objects.order_by("-published_at", "-number")[:MAX_ENTRIES]
    notices = (ChangeNotice.objects.filter(announced_at__isnull=False,
                                           status__in=[ChangeNotice.Status.ANNOUNCED, ChangeNotice.Status.APPLIED,
                                                       ChangeNotice.Status.WITHDRAWN])
               .select_related("subprocessor", "replaces").order_by("-announced_at", "-pk")[:MAX_ENTRIES])
    entries = [version_entry(version) for version in versions] + [notice_entry(notice) for notice in notices]
    entries.sort(key=lambda entry: (entry.updated, entry.guid), reverse=True)
    return entries[:MAX_ENTRIES]


class RegisterFeed(Feed):
    feed_type = AtomWithContent
    author_name = "CALLKOM"

    def title(self):
        return _("CALLKOM subprocessors")

    def subtitle(self):
        return _("Changes to the list of providers that may process customer data for CALLKOM.")

    def link(self):
        return _absolute("subprocessors")

    def feed_url(self):
        return _absolute("subprocessors-feed")

    def feed_guid(self):
        return _absolute("subprocessors-feed")

    def author_link(self):
        return settings.CALLKOM_PUBLIC_URL + "/"

    def items(self):
        return feed_entries()

    def item_title(self, item: Entry):
        return item.title

    def item_description(self, item: Entry):
        return item.summary

    def item_link(self, item: Entry):
        return item.link

    def item_guid(self, item: Entry):
        return item.guid

    def item_pubdate(self, item: Entry):
        return item.published

    def item_updateddate(self, item: Entry):
        return item.updated

    def item_extra_kwargs(self, item: Entry):
        return {"content": item.content}
