"""Charts of the insights page, drawn server-side as inline SVG: no JavaScript, no library, nothing fetched.

The builders (``column_chart``, ``bar_chart``, ``grouped_bar_chart``, ``data_table``) are pure functions of their
arguments that return safe markup; every text that comes from data is escaped by ``format_html``. Each chart is a
``<figure>``: the SVG is an image (``role="img"``) named by its ``<title>`` and described by its ``<desc>``, every
bar carries its value in a ``<title>`` (a tooltip), and a ``<details>`` table holds the same numbers for screen
readers, keyboard users and anyone who wants them exact. Colours are attributes, not CSS: the SVG reads the same
without the stylesheet. The template tags at the end turn ``calls.dashboard`` results into charts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django import template
from django.utils import formats
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

register = template.Library()

INK = "#1d2433"
MUTED = "#5f6b7a"
GRID = "#dde3ea"
BLUE = "#1f5eff"
AMBER = "#a65f00"
RED = "#c62f2f"
GREEN = "#1e7b4f"
FONT_ATTRS = 'font-family="system-ui, sans-serif" font-size="11"'

WIDTH = 720
LABEL_WIDTH = 190  # horizontal charts: the category names
VALUE_WIDTH = 90  # horizontal charts: the value after each bar
ROW = 22
BAR = 14
MAX_LABEL = 30


@dataclass(frozen=True)
class Bar:
    """One value: what it is (``label``), how long to draw it (``value``) and how to say it (``text``)."""

    label: str
    value: float
    text: str
    tick: str = ""  # a shorter label for a crowded axis

    @property
    def axis_label(self) -> str:
        return self.tick or self.label


@dataclass(frozen=True)
class Series:
    name: str
    colour: str


# --- helpers ---------------------------------------------------------------------------------------------------------


def _join(parts: Iterable) -> SafeString:
    """Concatenate markup; a part that is not already safe gets escaped."""
    return format_html_join("", "{}", ((part,) for part in parts))


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[:MAX_LABEL - 1] + "…"


def _num(value: float) -> str:
    """Write an SVG coordinate: one decimal, no locale (SVG wants a dot, whatever the page's language)."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def nice_ticks(maximum: float, count: int = 5, *, integer: bool = False) -> list[float]:
    """Return axis ticks from 0 to at least ``maximum`` on a 1-2-2.5-5 step, about ``count`` of them.

    ``integer`` keeps the step whole, for counts: half a call is not a thing.
    """
    if not maximum or maximum <= 0 or not math.isfinite(maximum):
        return [0.0, 1.0]
    rough = maximum / count
    magnitude = 10 ** math.floor(math.log10(rough))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= rough)
    if integer:
        step = max(1, math.ceil(step))
    top = math.ceil(maximum / step - 1e-9) * step
    return [round(index * step, 10) for index in range(int(round(top / step)) + 1)]


def _tick_text(value: float) -> str:
    return formats.number_format(value, 0 if float(value).is_integer() else 1, force_grouping=True)


def _svg(*, chart_id: str, title: str, desc: str, height: float, body: SafeString) -> SafeString:
    return format_html(
        '<svg class="chart" role="img" aria-labelledby="{id}-title {id}-desc" viewBox="0 0 {w} {h}" width="100%" '
        'preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg" ' + FONT_ATTRS + '>'
        '<title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>{body}</svg>',
        id=chart_id, w=WIDTH, h=_num(height), title=title, desc=desc, body=body,
    )


def _figure(*, title: str, svg: SafeString, table: SafeString) -> SafeString:
    return format_html('<figure class="chart-figure"><figcaption>{}</figcaption>{}{}</figure>', title, svg, table)


def _empty(title: str, message: str) -> SafeString:
    return format_html('<figure class="chart-figure"><figcaption>{}</figcaption><p class="muted">{}</p></figure>',
                       title, message)


def data_table(*, summary: str, caption: str, headers: Sequence[str], rows: Iterable[Sequence]) -> SafeString:
    """Return the chart's numbers as a table folded in a ``<details>``: the text alternative of the picture."""
    head = format_html_join("", '<th scope="col">{}</th>', ((header,) for header in headers))
    body = _join(
        format_html('<tr><th scope="row">{}</th>{}</tr>', row[0],
                    format_html_join("", "<td>{}</td>", ((cell,) for cell in row[1:])))
        for row in rows
    )
    return format_html(
        '<details class="chart-data"><summary>{}</summary><table class="table small"><caption>{}</caption>'
        "<thead><tr>{}</tr></thead><tbody>{}</tbody></table></details>",
        summary, caption, head, body,
    )


# --- vertical columns (a time series) ------------------------------------------------------------------------------


def column_chart(bars: Sequence[Bar], *, chart_id: str, title: str, desc: str, x_label: str, y_label: str,
                 colour: str = BLUE, max_x_labels: int = 8, integer: bool = True) -> SafeString:
    """Draw one column per bar, left to right, with a value axis from 0; only some category labels when many."""
    left, right, top, bottom = 52, 12, 12, 52
    height = 250
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    ticks = nice_ticks(max((bar.value for bar in bars), default=0), integer=integer)
    scale = plot_h / ticks[-1]
    slot = plot_w / max(len(bars), 1)
    every = max(1, math.ceil(len(bars) / max_x_labels))
    base = top + plot_h
    parts = [_value_grid_y(ticks, scale, left, WIDTH - right, base)]
    for index, bar in enumerate(bars):
        bar_h = max(bar.value, 0) * scale
        x = left + index * slot + slot * 0.15
        parts.append(format_html(
            '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {}</title></rect>',
            _num(x), _num(base - bar_h), _num(max(slot * 0.7, 1)), _num(bar_h), colour, bar.label, bar.text,
        ))
        if index % every == 0:
            parts.append(format_html('<text x="{}" y="{}" text-anchor="middle" fill="{}">{}</text>',
                                     _num(left + (index + 0.5) * slot), _num(base + 16), MUTED, _short(bar.axis_label)))
    parts.append(format_html(
        '<line x1="{l}" y1="{b}" x2="{r}" y2="{b}" stroke="{c}"/>'
        '<text x="{cx}" y="{xy}" text-anchor="middle" fill="{c}">{x_label}</text>'
        '<text transform="translate(12 {cy}) rotate(-90)" text-anchor="middle" fill="{c}">{y_label}</text>',
        l=left, r=WIDTH - right, b=_num(base), c=INK, cx=_num(left + plot_w / 2), xy=height - 8,
        cy=_num(top + plot_h / 2), x_label=x_label, y_label=y_label,
    ))
    return _svg(chart_id=chart_id, title=title, desc=desc, height=height, body=_join(parts))


def _value_grid_y(ticks: Sequence[float], scale: float, x1: float, x2: float, base: float) -> SafeString:
    return _join(
        format_html('<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="{g}"/>'
                    '<text x="{tx}" y="{ty}" text-anchor="end" fill="{m}">{t}</text>',
                    x1=x1, x2=x2, y=_num(base - tick * scale), g=GRID, tx=x1 - 6, ty=_num(base - tick * scale + 4),
                    m=MUTED, t=_tick_text(tick))
        for tick in ticks
    )


# --- horizontal bars (categories) ------------------------------------------------------------------------------------


def _value_grid_x(ticks: Sequence[float], scale: float, top: float, base: float, unit: str) -> SafeString:
    return _join(
        format_html('<line x1="{x}" y1="{t}" x2="{x}" y2="{b}" stroke="{g}"/>'
                    '<text x="{x}" y="{ty}" text-anchor="middle" fill="{m}">{v}{u}</text>',
                    x=_num(LABEL_WIDTH + tick * scale), t=top, b=_num(base), g=GRID, ty=_num(base + 14), m=MUTED,
                    v=_tick_text(tick), u=unit)
        for tick in ticks
    )


def _x_axis(*, base: float, x_label: str) -> SafeString:
    plot_w = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    return format_html(
        '<line x1="{l}" y1="{b}" x2="{r}" y2="{b}" stroke="{c}"/>'
        '<text x="{cx}" y="{ly}" text-anchor="middle" fill="{c}">{label}</text>',
        l=LABEL_WIDTH, r=LABEL_WIDTH + plot_w, b=_num(base), c=INK, cx=_num(LABEL_WIDTH + plot_w / 2),
        ly=_num(base + 32), label=x_label,
    )


def bar_chart(bars: Sequence[Bar], *, chart_id: str, title: str, desc: str, x_label: str, colour: str = BLUE,
              maximum: float | None = None, unit: str = "", integer: bool = False) -> SafeString:
    """Draw one horizontal bar per category, its name on the left and its value after it.

    ``maximum`` fixes the end of the scale (100 for percentages); otherwise it follows the largest value.
    """
    top = 8
    base = top + len(bars) * ROW
    ticks = nice_ticks(maximum if maximum is not None else max((bar.value for bar in bars), default=0),
                       integer=integer)
    scale = (WIDTH - LABEL_WIDTH - VALUE_WIDTH) / ticks[-1]
    parts = [_value_grid_x(ticks, scale, top, base, unit)]
    for index, bar in enumerate(bars):
        parts.append(_hbar(bar, y=top + index * ROW + (ROW - BAR) / 2, height=BAR, scale=scale, colour=colour))
        parts.append(format_html('<text x="{}" y="{}" text-anchor="end" fill="{}">{}</text>', LABEL_WIDTH - 8,
                                 _num(top + index * ROW + ROW / 2 + 4), INK, _short(bar.axis_label)))
    parts.append(_x_axis(base=base, x_label=x_label))
    return _svg(chart_id=chart_id, title=title, desc=desc, height=base + 42, body=_join(parts))


def _hbar(bar: Bar, *, y: float, height: float, scale: float, colour: str, name: str = "") -> SafeString:
    width = max(bar.value, 0) * scale
    what = f"{bar.label} ({name})" if name else bar.label
    return format_html(
        '<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{c}"><title>{what}: {text}</title></rect>'
        '<text x="{tx}" y="{ty}" fill="{m}">{text}</text>',
        x=LABEL_WIDTH, y=_num(y), w=_num(width), h=_num(height), c=colour, what=what, text=bar.text,
        tx=_num(LABEL_WIDTH + width + 4), ty=_num(y + height - 2), m=MUTED,
    )


def grouped_bar_chart(groups: Sequence[tuple[str, Sequence[Bar]]], series: Sequence[Series], *, chart_id: str,
                      title: str, desc: str, x_label: str, unit: str = "") -> SafeString:
    """Draw, per group, one horizontal bar per series (e.g. p50 and p95 of each provider), with a legend."""
    bar_h, gap = 10, 10
    legend_h = 20
    top = legend_h + 6
    block = len(series) * (bar_h + 2) + gap
    base = top + len(groups) * block
    values = [bar.value for _name, bars in groups for bar in bars]
    ticks = nice_ticks(max(values, default=0))
    scale = (WIDTH - LABEL_WIDTH - VALUE_WIDTH) / ticks[-1]
    parts = [_legend(series), _value_grid_x(ticks, scale, top, base, unit)]
    for index, (name, bars) in enumerate(groups):
        group_top = top + index * block + gap / 2
        parts.append(format_html('<text x="{}" y="{}" text-anchor="end" fill="{}">{}</text>', LABEL_WIDTH - 8,
                                 _num(group_top + block / 2 - 2), INK, _short(name)))
        for position, (bar, one) in enumerate(zip(bars, series, strict=True)):
            parts.append(_hbar(bar, y=group_top + position * (bar_h + 2), height=bar_h, scale=scale,
                               colour=one.colour, name=one.name))
    parts.append(_x_axis(base=base, x_label=x_label))
    return _svg(chart_id=chart_id, title=title, desc=desc, height=base + 42, body=_join(parts))


def _legend(series: Sequence[Series]) -> SafeString:
    return _join(
        format_html('<rect x="{x}" y="4" width="10" height="10" fill="{c}"/><text x="{tx}" y="13" fill="{i}">{n}'
                    "</text>", x=LABEL_WIDTH + index * 120, c=one.colour, tx=LABEL_WIDTH + index * 120 + 14, i=INK,
                    n=one.name)
        for index, one in enumerate(series)
    )


# --- the insights page's charts ------------------------------------------------------------------------------------


def _count(value: int) -> str:
    return formats.number_format(value, 0, force_grouping=True)


def _ms(value: float | None) -> str:
    return _("%(ms)s ms") % {"ms": formats.number_format(value, 0, force_grouping=True)} if value is not None else "—"


@register.filter
def percent(rate: float | None) -> str:
    """Write a 0..1 rate as a percentage with one decimal in the page's locale, or "—" when there is none."""
    return _("%(value)s %%") % {"value": formats.number_format(rate * 100, 1)} if rate is not None else "—"


@register.simple_tag
def calls_per_day_chart(per_day) -> SafeString:
    """Columns of calls per day (``dashboard.DayCount`` list), zero days included."""
    title = _("Calls per day")
    if not per_day:
        return _empty(title, _("No day in this period."))
    total = sum(day.calls for day in per_day)
    bars = [Bar(formats.date_format(day.day, "SHORT_DATE_FORMAT"), day.calls, _count(day.calls),
                tick=formats.date_format(day.day, "MONTH_DAY_FORMAT")) for day in per_day]
    busiest = max(per_day, key=lambda day: day.calls)
    desc = _("%(total)s calls over %(days)s days, from %(first)s to %(last)s; busiest day %(busiest)s with "
             "%(count)s.") % {"total": _count(total), "days": len(per_day), "first": bars[0].label,
                              "last": bars[-1].label, "busiest": formats.date_format(busiest.day, "SHORT_DATE_FORMAT"),
                              "count": _count(busiest.calls)}
    svg = column_chart(bars, chart_id="chart-per-day", title=title, desc=desc, x_label=_("Day"),
                       y_label=_("Calls"))
    table = data_table(summary=_("Calls per day as a table"), caption=title, headers=[_("Day"), _("Calls")],
                       rows=[(bar.label, bar.text) for bar in bars])
    return _figure(title=title, svg=svg, table=table)


@register.simple_tag
def outcomes_chart(totals) -> SafeString:
    """Horizontal bars of calls per outcome (``dashboard.CallTotals``), with each one's share of all calls."""
    title = _("Outcomes")
    if not totals.total:
        return _empty(title, _("No call in this period."))
    bars = [Bar(row.label, row.calls, _count(row.calls)) for row in totals.outcomes]
    desc = "; ".join(f"{bar.label}: {bar.text}" for bar in bars)
    svg = bar_chart(bars, chart_id="chart-outcomes", title=title, desc=desc, x_label=_("Calls"), colour=GREEN,
                    integer=True)
    table = data_table(
        summary=_("Outcomes as a table"), caption=title, headers=[_("Outcome"), _("Calls"), _("Share of all calls")],
        rows=[(row.label, _count(row.calls), percent(row.calls / totals.total)) for row in totals.outcomes],
    )
    return _figure(title=title, svg=svg, table=table)


@register.simple_tag
def turn_latency_chart(latency) -> SafeString:
    """p50 and p95 of each turn stage (``dashboard.TurnLatency``), end of speech to first audio first."""
    title = _("Latency per turn")
    stages = [stage for stage in latency.stages if stage.turns]
    if not stages:
        return _empty(title, _("No turn was measured in this period."))
    series = [Series(_("median (p50)"), BLUE), Series(_("95th percentile (p95)"), AMBER)]
    groups = [(stage.label, [Bar(stage.label, stage.p50, _ms(stage.p50)), Bar(stage.label, stage.p95, _ms(stage.p95))])
              for stage in stages]
    desc = "; ".join(_("%(stage)s: p50 %(p50)s, p95 %(p95)s over %(turns)s turns")
                     % {"stage": stage.label, "p50": _ms(stage.p50), "p95": _ms(stage.p95), "turns": stage.turns}
                     for stage in stages)
    svg = grouped_bar_chart(groups, series, chart_id="chart-turn-latency", title=title, desc=desc,
                            x_label=_("Milliseconds"))
    table = data_table(summary=_("Latency per turn as a table"), caption=title,
                       headers=[_("Stage"), _("Turns"), "p50", "p95"],
                       rows=[(s.label, _count(s.turns), _ms(s.p50), _ms(s.p95)) for s in stages])
    return _figure(title=title, svg=svg, table=table)


def _provider_name(stat) -> str:
    return f"{stat.provider} · {stat.role_label}"


@register.simple_tag
def provider_latency_chart(providers) -> SafeString:
    """p50 and p95 duration of the successful requests of each provider and role (``dashboard.ProviderStat``)."""
    title = _("AI request duration per provider")
    measured = [stat for stat in providers if stat.p50_ms is not None]
    if not measured:
        return _empty(title, _("No successful AI request in this period."))
    series = [Series(_("median (p50)"), BLUE), Series(_("95th percentile (p95)"), AMBER)]
    groups = [(_provider_name(stat), [Bar(_provider_name(stat), stat.p50_ms, _ms(stat.p50_ms)),
                                      Bar(_provider_name(stat), stat.p95_ms, _ms(stat.p95_ms))])
              for stat in measured]
    desc = "; ".join(_("%(provider)s: p50 %(p50)s, p95 %(p95)s")
                     % {"provider": _provider_name(stat), "p50": _ms(stat.p50_ms), "p95": _ms(stat.p95_ms)}
                     for stat in measured)
    svg = grouped_bar_chart(groups, series, chart_id="chart-provider-latency", title=title, desc=desc,
                            x_label=_("Milliseconds"))
    table = data_table(summary=_("Durations as a table"), caption=title,
                       headers=[_("Provider and role"), "p50", "p95"],
                       rows=[(_provider_name(s), _ms(s.p50_ms), _ms(s.p95_ms)) for s in measured])
    return _figure(title=title, svg=svg, table=table)


@register.simple_tag
def provider_errors_chart(providers) -> SafeString:
    """Error rate, (errors + timeouts) / requests, of each provider and role, on a 0-100 % scale."""
    title = _("AI request error rate per provider")
    if not providers:
        return _empty(title, _("No AI request in this period."))
    bars = [Bar(_provider_name(stat), stat.error_rate * 100, percent(stat.error_rate)) for stat in providers]
    desc = "; ".join(ngettext("%(provider)s: %(rate)s of %(requests)s request failed",
                              "%(provider)s: %(rate)s of %(requests)s requests failed", stat.requests)
                     % {"provider": bar.label, "rate": bar.text, "requests": _count(stat.requests)}
                     for bar, stat in zip(bars, providers, strict=True))
    svg = bar_chart(bars, chart_id="chart-provider-errors", title=title, desc=desc,
                    x_label=_("Errors and timeouts, % of requests"), colour=RED, maximum=100, unit=" %")
    table = data_table(summary=_("Error rates as a table"), caption=title,
                       headers=[_("Provider and role"), _("Requests"), _("Errors and timeouts"), _("Error rate")],
                       rows=[(bar.label, _count(s.requests), _count(s.failures), bar.text)
                             for bar, s in zip(bars, providers, strict=True)])
    return _figure(title=title, svg=svg, table=table)
